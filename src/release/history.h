#ifndef CUTOVER_HISTORY_H
#define CUTOVER_HISTORY_H
#include "release/root.h"
#include "util/json.h"
#include <stdint.h>

/*
 * .cutover/history.jsonl: one JSON object per line, appended with O_APPEND
 * and fsynced, never rewritten. Fields: time, action (deploy, rollback,
 * prune, pin, unpin, adopt, recover), release, previous, outcome (ok,
 * failed, rolled-back, interrupted), user, host, duration_ms, files,
 * new_bytes, message. The prune after a deploy is recorded as action
 * prune with the message "automatic, after the deploy of ID: removed ...".
 */
struct history_rec {
	const char *action;
	const char *release;
	const char *previous;
	const char *outcome;
	const char *message;
	int64_t duration_ms;
	int64_t files;     /* -1: not recorded */
	int64_t new_bytes; /* -1: not recorded */
};
#define HISTORY_REC_INIT { NULL, NULL, NULL, NULL, NULL, 0, -1, -1 }

int history_append(struct root *r, const struct history_rec *h);

/*
 * The message of a prune record, appended to `b`: "removed A B", "nothing
 * to remove", and "; failed: <failure>" when `failure` is not NULL.
 */
void history_prune_message(struct buf *b, const struct strlist *removed, const char *failure);

/* Read every record; unparsable lines are skipped with a warning. */
struct history {
	struct json_flat *v;
	size_t nr, alloc;
};
#define HISTORY_INIT { NULL, 0, 0 }
int history_read(struct root *r, struct history *out);
void history_release(struct history *h);

#endif
