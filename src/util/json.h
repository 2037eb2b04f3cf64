#ifndef CUTOVER_JSON_H
#define CUTOVER_JSON_H
#include "util/buf.h"
#include <stdint.h>

/*
 * A small JSON writer for --json output and history.jsonl, and a reader for
 * the flat objects cutover itself writes (one object per line, values are
 * strings, integers, booleans or null; no nesting).
 */

/* Append `s` as a JSON string literal (quotes included), escaping per RFC 8259;
 * bytes that are not valid UTF-8 are written as \ufffd. */
void json_add_str(struct buf *b, const char *s);

/*
 * Writer with automatic commas. Usage:
 *   struct json_writer w = JSON_WRITER_INIT(&buf);
 *   json_obj_begin(&w); json_key_str(&w, "id", id); json_key_int(&w, "size", n);
 *   json_key(&w, "marks"); json_arr_begin(&w); json_str(&w, "current"); json_arr_end(&w);
 *   json_obj_end(&w);
 * Nesting up to 16 levels.
 */
struct json_writer {
	struct buf *out;
	int depth;
	int need_comma[16];
};
#define JSON_WRITER_INIT(b) { (b), 0, { 0 } }
void json_obj_begin(struct json_writer *w);
void json_obj_end(struct json_writer *w);
void json_arr_begin(struct json_writer *w);
void json_arr_end(struct json_writer *w);
void json_key(struct json_writer *w, const char *key);
void json_str(struct json_writer *w, const char *s);   /* NULL writes null */
void json_int(struct json_writer *w, int64_t v);
void json_bool(struct json_writer *w, int v);
void json_null(struct json_writer *w);
void json_key_str(struct json_writer *w, const char *key, const char *s);
void json_key_int(struct json_writer *w, const char *key, int64_t v);
void json_key_bool(struct json_writer *w, const char *key, int v);

/* A parsed flat object: keys[i] -> vals[i] (strings unescaped; numbers,
 * true/false kept as their text; null as NULL). */
struct json_flat {
	char **keys;
	char **vals;
	size_t nr, alloc;
};
#define JSON_FLAT_INIT { NULL, NULL, 0, 0 }
/* Parse one flat object from `text` (len bytes). Returns 0 or -1 (malformed:
 * nested values, trailing garbage, bad escapes); no message printed. */
int json_flat_parse(struct json_flat *o, const char *text, size_t len);
const char *json_flat_get(const struct json_flat *o, const char *key);
void json_flat_release(struct json_flat *o);

#endif
