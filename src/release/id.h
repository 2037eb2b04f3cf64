#ifndef CUTOVER_ID_H
#define CUTOVER_ID_H
#include "util/strlist.h"
#include <time.h>

/*
 * Release ids: YYYYMMDDTHHMMSSZ (UTC) with an optional "-label". They sort by
 * time as plain strings. A new id is later than every existing one: when the
 * clock says the same second (or an earlier one), the time moves on by a
 * second, so two deploys in one second still get distinct, ordered ids.
 */
#define RELEASE_TS_LEN 16

int release_id_valid(const char *id);
/* Labels: 1..40 of [A-Za-z0-9._-], not starting with '.' or '-'. */
int release_label_valid(const char *label);
/* Returns a new id (caller frees) later than every id in `existing`. */
char *release_id_make(const struct strlist *existing, time_t now, const char *label);
/* "2026-11-22T08:31:06Z" from an id, into out[21]. Returns 0 or -1. */
int release_id_time(const char *id, char out[21]);

#endif
