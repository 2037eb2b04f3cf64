#ifndef CUTOVER_ID_H
#define CUTOVER_ID_H
#include "util/strlist.h"
#include <time.h>

/*
 * Release ids: YYYYMMDDTHHMMSSZ (UTC), an optional ".NN" sequence, and an
 * optional "-label". They sort by time as plain strings ('-' sorts before
 * '.', so "…06Z-abc" < "…06Z.01-def" < "…07Z"). A new id is later than every
 * existing one: a deploy in the same second as the newest release (or with a
 * clock behind it) keeps that second and takes the next sequence number, so
 * ids never run ahead of the clock however fast deploys follow each other.
 */
#define RELEASE_TS_LEN 16

int release_id_valid(const char *id);
/* The label part of a valid id, or NULL. */
const char *release_id_label(const char *id);
/* Labels: 1..40 of [A-Za-z0-9._-], not starting with '.' or '-'. */
int release_label_valid(const char *label);
/* Returns a new id (caller frees) later than every id in `existing`. */
char *release_id_make(const struct strlist *existing, time_t now, const char *label);
/* "2026-11-22T08:31:06Z" from an id, into out[21]. Returns 0 or -1. */
int release_id_time(const char *id, char out[21]);

#endif
