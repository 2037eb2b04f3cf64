/*
 * cutover.yml: libyaml's event stream turned into a small tree of
 * scalars, sequences and mappings, each node with its line and column.
 * Anchors, aliases and tags are refused so that what the file says is what
 * the tree holds.
 */
#include "util/config.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/opts.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <yaml.h>

#define CONFIG_MAX_SIZE (1024 * 1024)
#define CONFIG_MAX_DEPTH 32

/*
 * Every node is allocated as a node_ext so that mappings can remember where
 * each key was written (for "unknown key" and "duplicate key" messages)
 * without widening the public struct.
 */
struct node_ext {
	struct cfg_node n;
	int *key_line, *key_col;
};

static struct node_ext *ext(const struct cfg_node *n)
{
	return (struct node_ext *)n;
}

int config_error(const struct config *cfg, const struct cfg_node *n, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		error("'%s':%d:%d: %s", cfg->path, n->line, n->col, msg);
	else
		error("'%s': %s", cfg->path, msg);
	return -CUT_USAGE;
}

static int error_at(const struct config *cfg, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int error_at(const struct config *cfg, int line, int col, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	error("'%s':%d:%d: %s", cfg->path, line, col, msg);
	return -CUT_USAGE;
}

static struct cfg_node *node_new(enum cfg_kind kind, const yaml_mark_t *m)
{
	struct node_ext *e = xcalloc(1, sizeof(*e));
	e->n.kind = kind;
	e->n.line = (int)m->line + 1;
	e->n.col = (int)m->column + 1;
	return &e->n;
}

static void node_free(struct cfg_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nr; i++) {
		node_free(n->items[i]);
		if (n->keys)
			free(n->keys[i]);
	}
	free(n->items);
	free(n->keys);
	free(n->value);
	free(ext(n)->key_line);
	free(ext(n)->key_col);
	free(ext(n));
}

static void node_push(struct cfg_node *parent, char *key, int line, int col, struct cfg_node *child)
{
	struct node_ext *e = ext(parent);
	if (parent->nr == parent->alloc) {
		parent->alloc = parent->alloc ? parent->alloc * 2 : 8;
		parent->items = xrealloc(parent->items, parent->alloc * sizeof(*parent->items));
		if (parent->kind == CFG_MAP) {
			parent->keys = xrealloc(parent->keys, parent->alloc * sizeof(*parent->keys));
			e->key_line = xrealloc(e->key_line, parent->alloc * sizeof(*e->key_line));
			e->key_col = xrealloc(e->key_col, parent->alloc * sizeof(*e->key_col));
		}
	}
	if (parent->kind == CFG_MAP) {
		parent->keys[parent->nr] = key;
		e->key_line[parent->nr] = line;
		e->key_col[parent->nr] = col;
	}
	parent->items[parent->nr++] = child;
}

/* A plain (unquoted) scalar that YAML reads as null. */
static int is_plain_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* 1-based line and column of a byte offset, for reader errors without a mark. */
static void offset_mark(const char *text, size_t len, size_t off, yaml_mark_t *m)
{
	m->line = m->column = 0;
	for (size_t i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			m->line++;
			m->column = 0;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
			m->column++;
		}
	}
}

static int syntax_error(const struct config *cfg, const yaml_parser_t *p, const char *text, size_t len)
{
	yaml_mark_t m = p->problem_mark;
	const char *problem = p->problem ? p->problem : "invalid YAML";

	if (p->error == YAML_MEMORY_ERROR)
		die("out of memory parsing '%s'", cfg->path);
	if (p->error == YAML_READER_ERROR)
		offset_mark(text, len, p->problem_offset, &m);
	if (p->context)
		return error_at(cfg, (int)m.line + 1, (int)m.column + 1, "%s (%s started at line %d)", problem,
				p->context, (int)p->context_mark.line + 1);
	return error_at(cfg, (int)m.line + 1, (int)m.column + 1, "%s", problem);
}

struct builder {
	struct config *cfg;
	struct cfg_node *stack[CONFIG_MAX_DEPTH];
	int depth;
	char *key; /* pending mapping key, waiting for its value */
	int key_line, key_col;
	int documents;
};

/* Attach a finished (or just opened) node to the container on top of the stack. */
static void attach(struct builder *b, struct cfg_node *n)
{
	if (!b->depth) {
		b->cfg->root = n;
		return;
	}
	struct cfg_node *top = b->stack[b->depth - 1];
	node_push(top, b->key, b->key_line, b->key_col, n);
	b->key = NULL;
}

/* A scalar where a mapping key is expected: check and remember it. */
static int take_key(struct builder *b, struct cfg_node *map, const yaml_event_t *ev)
{
	const char *k = (const char *)ev->data.scalar.value;
	int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;

	for (size_t i = 0; i < map->nr; i++)
		if (!strcmp(map->keys[i], k))
			return error_at(b->cfg, line, col, "duplicate key '%s' (first at line %d)", k,
					ext(map)->key_line[i]);
	b->key = xstrdup(k);
	b->key_line = line;
	b->key_col = col;
	return 0;
}

static int expecting_key(const struct builder *b)
{
	return b->depth && b->stack[b->depth - 1]->kind == CFG_MAP && !b->key;
}

static int handle_event(struct builder *b, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	int line = (int)m->line + 1, col = (int)m->column + 1;
	const yaml_char_t *anchor = NULL, *tag = NULL;
	struct cfg_node *n;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	default:
		break;
	}
	if (anchor)
		return error_at(b->cfg, line, col, "anchors are not supported ('&%s')",
				(const char *)anchor);
	if (tag)
		return error_at(b->cfg, line, col, "tags are not supported ('%s')",
				(const char *)tag);

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (b->documents++)
			return error_at(b->cfg, line, col, "only one YAML document is allowed");
		return 0;
	case YAML_ALIAS_EVENT:
		return error_at(b->cfg, line, col, "aliases are not supported ('*%s')",
				(const char *)ev->data.alias.anchor);
	case YAML_SCALAR_EVENT:
		if (strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length)
			return error_at(b->cfg, line, col, "NUL characters are not allowed");
		if (expecting_key(b))
			return take_key(b, b->stack[b->depth - 1], ev);
		if (!b->depth && is_plain_null(ev))
			return 0; /* an empty document */
		n = node_new(CFG_SCALAR, m);
		n->value = xstrdup(is_plain_null(ev) ? "" : (const char *)ev->data.scalar.value);
		attach(b, n);
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (expecting_key(b))
			return error_at(b->cfg, line, col, "mapping keys must be strings");
		if (!b->depth && ev->type == YAML_SEQUENCE_START_EVENT)
			return error_at(b->cfg, line, col, "the top level must be a mapping of keys to values");
		if (b->depth == CONFIG_MAX_DEPTH)
			return error_at(b->cfg, line, col, "nested more than %d levels deep", CONFIG_MAX_DEPTH);
		n = node_new(ev->type == YAML_MAPPING_START_EVENT ? CFG_MAP : CFG_SEQ, m);
		attach(b, n);
		b->stack[b->depth++] = n;
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		b->depth--;
		return 0;
	default:
		return 0;
	}
}

int config_load_mem(struct config *cfg, const char *name, const char *text, size_t len)
{
	struct builder b = { .cfg = cfg };
	yaml_parser_t parser;
	yaml_event_t ev;
	int rc = 0, done = 0;

	cfg->path = xstrdup(name);
	cfg->root = NULL;
	if (len > CONFIG_MAX_SIZE) {
		config_error(cfg, NULL, "larger than %d bytes", CONFIG_MAX_SIZE);
		config_release(cfg);
		return -CUT_USAGE;
	}
	if (!yaml_parser_initialize(&parser))
		die("out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = syntax_error(cfg, &parser, text, len);
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = handle_event(&b, &ev);
		yaml_event_delete(&ev);
		if (rc < 0)
			break;
	}
	yaml_parser_delete(&parser);
	free(b.key);
	if (!rc && cfg->root && cfg->root->kind != CFG_MAP)
		rc = config_error(cfg, cfg->root, "the top level must be a mapping of keys to values");
	if (rc < 0) {
		config_release(cfg);
		return -CUT_USAGE;
	}
	return 0;
}

int config_load(struct config *cfg, const char *path)
{
	struct buf b = BUF_INIT_MAX(CONFIG_MAX_SIZE);
	char chunk[65536];
	struct stat st;
	int fd, rc;

	cfg->path = NULL;
	cfg->root = NULL;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below) */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		error_errno("cannot open '%s'", path);
		return -CUT_USAGE;
	}
	if (fstat(fd, &st) < 0) {
		error_errno("cannot read '%s'", path);
		close(fd);
		return -CUT_USAGE;
	}
	/* /dev/null is the one other file that reads as a configuration: an empty one
	 * (the agent runs commands with --config /dev/null so that no host file is read) */
	if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3) {
		close(fd);
		return config_load_mem(cfg, path, "", 0);
	}
	if (!S_ISREG(st.st_mode)) {
		error("'%s' is %s, not a regular file; give the path of a cutover.yml file", path,
		      S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" :
		      S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" :
		      S_ISSOCK(st.st_mode) ? "a socket" : "of another kind");
		close(fd);
		return -CUT_USAGE;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_errno("cannot read '%s'", path);
			close(fd);
			buf_release(&b);
			return -CUT_USAGE;
		}
		if (!n)
			break;
		if (buf_add(&b, chunk, (size_t)n) < 0) {
			error("'%s': larger than %d bytes", path, CONFIG_MAX_SIZE);
			close(fd);
			buf_release(&b);
			return -CUT_USAGE;
		}
	}
	close(fd);
	rc = config_load_mem(cfg, path, b.buf, b.len);
	buf_release(&b);
	return rc;
}

void config_release(struct config *cfg)
{
	node_free(cfg->root);
	free(cfg->path);
	cfg->root = NULL;
	cfg->path = NULL;
}

const struct cfg_node *config_get(const struct config *cfg, const char *dotted)
{
	const struct cfg_node *n = cfg->root;
	const char *seg = dotted;

	while (n) {
		const char *dot = strchr(seg, '.');
		size_t len = dot ? (size_t)(dot - seg) : strlen(seg);
		const struct cfg_node *next = NULL;

		if (n->kind != CFG_MAP)
			return NULL;
		for (size_t i = 0; i < n->nr; i++)
			if (strlen(n->keys[i]) == len && !memcmp(n->keys[i], seg, len)) {
				next = n->items[i];
				break;
			}
		n = next;
		if (!dot)
			return n;
		seg = dot + 1;
	}
	return NULL;
}

/* The scalar at `dotted`: 1 and *out, 0 when absent, or an error naming `what`. */
static int get_scalar(const struct config *cfg, const char *dotted, const char *what,
		      const struct cfg_node **out)
{
	const struct cfg_node *n = config_get(cfg, dotted);
	if (!n)
		return 0;
	if (n->kind != CFG_SCALAR)
		return config_error(cfg, n, "'%s' must be %s", dotted, what);
	*out = n;
	return 1;
}

int config_get_str(const struct config *cfg, const char *dotted, const char **out)
{
	const struct cfg_node *n = NULL;
	int rc = get_scalar(cfg, dotted, "a string", &n);
	if (rc > 0)
		*out = n->value;
	return rc;
}

int config_get_uint(const struct config *cfg, const char *dotted, int *out)
{
	const struct cfg_node *n = NULL;
	int rc = get_scalar(cfg, dotted, "a non-negative integer", &n);
	int v;
	if (rc <= 0)
		return rc;
	if (!isdigit((unsigned char)n->value[0]) || parse_uint(n->value, &v) < 0)
		return config_error(cfg, n, "'%s' must be a non-negative integer, not '%s'", dotted,
				    n->value);
	*out = v;
	return 1;
}

int config_get_duration(const struct config *cfg, const char *dotted, long *out_ms)
{
	static const char what[] = "a duration like 500ms, 30s, 2m or 1h";
	const struct cfg_node *n = NULL;
	int rc = get_scalar(cfg, dotted, what, &n);
	long ms;
	if (rc <= 0)
		return rc;
	/* parse_duration_ms uses strtod, which would also take " 1", "inf" or "0x10" */
	ms = isdigit((unsigned char)n->value[0]) ? parse_duration_ms(n->value) : -1;
	if (ms < 0)
		return config_error(cfg, n, "'%s' must be %s, not '%s'", dotted, what, n->value);
	*out_ms = ms;
	return 1;
}

int config_get_bool(const struct config *cfg, const char *dotted, int *out)
{
	static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };
	const struct cfg_node *n = NULL;
	int rc = get_scalar(cfg, dotted, "true or false", &n);
	if (rc <= 0)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(n->value, yes[i])) {
			*out = 1;
			return 1;
		}
		if (!strcasecmp(n->value, no[i])) {
			*out = 0;
			return 1;
		}
	}
	return config_error(cfg, n, "'%s' must be true or false, not '%s'", dotted, n->value);
}

/* An empty scalar (`shared:` or `shared: ""`) is an empty list. */
int config_get_list(const struct config *cfg, const char *dotted, struct strlist *out)
{
	static const char what[] = "a string or a list of strings";
	const struct cfg_node *n = config_get(cfg, dotted);
	if (!n)
		return 0;
	if (n->kind == CFG_SCALAR) {
		if (*n->value)
			strlist_push(out, n->value);
		return 1;
	}
	if (n->kind != CFG_SEQ)
		return config_error(cfg, n, "'%s' must be %s", dotted, what);
	for (size_t i = 0; i < n->nr; i++) {
		if (n->items[i]->kind != CFG_SCALAR)
			return config_error(cfg, n->items[i], "'%s' must be %s", dotted, what);
		if (!*n->items[i]->value)
			return config_error(cfg, n->items[i], "'%s' has an empty item; remove it", dotted);
	}
	for (size_t i = 0; i < n->nr; i++)
		strlist_push(out, n->items[i]->value);
	return 1;
}

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *d = xcalloc((la + 1) * (lb + 1), sizeof(*d));
	size_t r;
#define D(i, j) d[(i) * (lb + 1) + (j)]
	for (size_t i = 0; i <= la; i++)
		D(i, 0) = i;
	for (size_t j = 0; j <= lb; j++)
		D(0, j) = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = D(i - 1, j) + 1;
			if (D(i, j - 1) + 1 < v)
				v = D(i, j - 1) + 1;
			if (D(i - 1, j - 1) + cost < v)
				v = D(i - 1, j - 1) + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    D(i - 2, j - 2) + 1 < v)
				v = D(i - 2, j - 2) + 1;
			D(i, j) = v;
		}
	r = D(la, lb);
#undef D
	free(d);
	return r;
}

static int is_known(const char *const *known, const char *key)
{
	for (size_t i = 0; known[i]; i++)
		if (!strcmp(known[i], key))
			return 1;
	return 0;
}

/* Some known key lies below `prefix` ("hooks" -> "hooks.before_switch"). */
static int has_children(const char *const *known, const char *prefix)
{
	size_t len = strlen(prefix);
	for (size_t i = 0; known[i]; i++)
		if (!strncmp(known[i], prefix, len) && known[i][len] == '.')
			return 1;
	return 0;
}

/* The closest known sibling of `full` within distance 2, or NULL. */
static const char *suggest(const char *const *known, const char *prefix, const char *full)
{
	size_t plen = strlen(prefix), best = 3;
	size_t leaf = strlen(full) - (plen ? plen + 1 : 0);
	const char *hit = NULL;

	for (size_t i = 0; known[i]; i++) {
		const char *k = known[i];
		if (plen && (strncmp(k, prefix, plen) || k[plen] != '.'))
			continue;
		if (strchr(k + (plen ? plen + 1 : 0), '.'))
			continue;
		size_t dist = edit_distance(full, k);
		if (dist < best && dist < leaf) {
			best = dist;
			hit = k;
		}
	}
	return hit;
}

static int check_map(const struct config *cfg, const struct cfg_node *map, const char *prefix,
		     const char *const *known)
{
	int rc = 0;

	for (size_t i = 0; i < map->nr; i++) {
		const struct cfg_node *v = map->items[i];
		int line = ext(map)->key_line[i], col = ext(map)->key_col[i];
		char *full = *prefix ? xasprintf("%s.%s", prefix, map->keys[i]) : xstrdup(map->keys[i]);

		if (strchr(map->keys[i], '.')) {
			rc = error_at(cfg, line, col, "unknown key '%s' (write nested keys on their own lines)",
				      full);
		} else if (has_children(known, full)) {
			if (v->kind == CFG_MAP) {
				if (check_map(cfg, v, full, known) < 0)
					rc = -CUT_USAGE;
			} else if (!is_known(known, full)) {
				rc = config_error(cfg, v, "'%s' must be a mapping", full);
			}
		} else if (!is_known(known, full)) {
			const char *hint = suggest(known, prefix, full);
			if (hint)
				rc = error_at(cfg, line, col, "unknown key '%s'; did you mean '%s'?", full, hint);
			else
				rc = error_at(cfg, line, col, "unknown key '%s'", full);
		}
		free(full);
	}
	return rc;
}

/* Reports every unknown key, not just the first. */
int config_check_keys(const struct config *cfg, const char *const *known)
{
	if (!cfg->root)
		return 0;
	return check_map(cfg, cfg->root, "", known);
}
