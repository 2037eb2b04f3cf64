#ifndef CUTOVER_CONFIG_H
#define CUTOVER_CONFIG_H
#include "util/strlist.h"

/*
 * cutover.yml, parsed with libyaml into a small tree. Every node keeps the
 * line and column (1-based) it came from, so that a wrong value can be
 * reported as "cutover.yml:4:9: 'keep' must be a number".
 */
enum cfg_kind { CFG_SCALAR, CFG_SEQ, CFG_MAP };

struct cfg_node {
	enum cfg_kind kind;
	int line, col;
	char *value;               /* CFG_SCALAR */
	char **keys;               /* CFG_MAP: keys[i] -> items[i] */
	struct cfg_node **items;   /* CFG_SEQ and CFG_MAP */
	size_t nr, alloc;
};

struct config {
	char *path;                /* as given, used in messages */
	struct cfg_node *root;     /* NULL for an empty file */
};
#define CONFIG_INIT { NULL, NULL }

/*
 * Parse `path`. Returns 0, or -CUT_USAGE after reporting
 * "'cutover.yml':3:5: <libyaml problem>" for syntax errors, a root that is not
 * a mapping, duplicate keys, anchors/aliases/tags (not supported), or a file
 * larger than 1 MiB. A missing file is an error too; callers check existence.
 * Anything but a regular file (a FIFO would block, a device never end) is
 * refused at once, except /dev/null: an empty configuration.
 */
int config_load(struct config *cfg, const char *path);
/* Parse from memory (unit tests); `name` is used in messages. */
int config_load_mem(struct config *cfg, const char *name, const char *text, size_t len);
void config_release(struct config *cfg);

/*
 * Look up a dotted key ("check.url", "hooks.before_switch") in maps.
 * Returns NULL when absent.
 */
const struct cfg_node *config_get(const struct config *cfg, const char *dotted);

/*
 * Typed getters. Each returns 1 when the key was present and valid (value
 * stored), 0 when absent (nothing stored), -CUT_USAGE after reporting
 * "'cutover.yml':L:C: 'keep' must be a non-negative integer" etc.
 * config_get_str stores a pointer into the config (valid until release).
 * config_get_list accepts a scalar (one item; empty: no item) or a
 * sequence of non-empty scalars and appends copies to `out`.
 * config_get_duration accepts "500ms", "30s", "2m", "1h" or a bare number of seconds.
 * config_get_bool accepts true/false/yes/no/on/off.
 */
int config_get_str(const struct config *cfg, const char *dotted, const char **out);
int config_get_uint(const struct config *cfg, const char *dotted, int *out);
int config_get_duration(const struct config *cfg, const char *dotted, long *out_ms);
int config_get_bool(const struct config *cfg, const char *dotted, int *out);
int config_get_list(const struct config *cfg, const char *dotted, struct strlist *out);

/*
 * Reject keys that are not in `known` (a NULL-terminated list of dotted
 * keys; a key "hooks" whose value is a map is checked as "hooks.x").
 * Reports "'cutover.yml':L:C: unknown key 'sahred'" (with a "did you mean
 * 'shared'?" hint when one known key is within edit distance 2).
 * Returns 0 or -CUT_USAGE.
 */
int config_check_keys(const struct config *cfg, const char *const *known);

/* Report "'<path>':L:C: <message>" for a node; returns -CUT_USAGE. */
int config_error(const struct config *cfg, const struct cfg_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
