/*
 * JSON writer and a reader for the flat objects cutover writes itself
 * (history.jsonl, --json). See json.h for the contract.
 */
#include "util/json.h"
#include "util/error.h"
#include <inttypes.h>

/*
 * Decode one UTF-8 sequence at s (n bytes available). Returns its length and
 * stores the code point, or returns 0 when the bytes are not valid UTF-8
 * (overlong forms, surrogates, > U+10FFFF, truncated); *bad then holds the
 * length of the maximal invalid subpart (at least 1), which is replaced by a
 * single U+FFFD (Unicode's recommended practice).
 */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp, size_t *bad)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v;
	unsigned char lo = 0x80, hi = 0xbf;

	*bad = 1;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* > U+10FFFF */
	} else {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		v = (v << 6) | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = v;
	return len;
}

void json_add_str(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	buf_addch(b, '"');
	while (n) {
		uint32_t cp;
		size_t bad, len = utf8_decode(p, n, &cp, &bad);

		if (!len) {
			buf_addstr(b, "\\ufffd");
			p += bad;
			n -= bad;
			continue;
		}
		switch (cp) {
		case '"':
			buf_addstr(b, "\\\"");
			break;
		case '\\':
			buf_addstr(b, "\\\\");
			break;
		case '\b':
			buf_addstr(b, "\\b");
			break;
		case '\f':
			buf_addstr(b, "\\f");
			break;
		case '\n':
			buf_addstr(b, "\\n");
			break;
		case '\r':
			buf_addstr(b, "\\r");
			break;
		case '\t':
			buf_addstr(b, "\\t");
			break;
		default:
			if (cp < 0x20 || cp == 0x7f)
				buf_addf(b, "\\u%04x", (unsigned)cp);
			else
				buf_add(b, p, len);
		}
		p += len;
		n -= len;
	}
	buf_addch(b, '"');
}

/*
 * Commas: need_comma[d - 1] is set once the container at depth d holds a
 * value. json_key clears it after writing "key": so that the value that
 * follows does not add one, and the value sets it again.
 */
static void before_value(struct json_writer *w)
{
	if (!w->depth)
		return;
	if (w->need_comma[w->depth - 1])
		buf_addch(w->out, ',');
	w->need_comma[w->depth - 1] = 1;
}

static void open_container(struct json_writer *w, char c)
{
	before_value(w);
	if (w->depth >= (int)ARRAY_SIZE(w->need_comma))
		die("json nesting deeper than %zu levels", ARRAY_SIZE(w->need_comma));
	buf_addch(w->out, c);
	w->need_comma[w->depth++] = 0;
}

static void close_container(struct json_writer *w, char c)
{
	if (w->depth <= 0)
		die("json container closed more often than opened");
	w->depth--;
	buf_addch(w->out, c);
}

void json_obj_begin(struct json_writer *w)
{
	open_container(w, '{');
}

void json_obj_end(struct json_writer *w)
{
	close_container(w, '}');
}

void json_arr_begin(struct json_writer *w)
{
	open_container(w, '[');
}

void json_arr_end(struct json_writer *w)
{
	close_container(w, ']');
}

void json_key(struct json_writer *w, const char *key)
{
	before_value(w);
	json_add_str(w->out, key);
	buf_addch(w->out, ':');
	if (w->depth)
		w->need_comma[w->depth - 1] = 0;
}

void json_str(struct json_writer *w, const char *s)
{
	before_value(w);
	if (s)
		json_add_str(w->out, s);
	else
		buf_addstr(w->out, "null");
}

void json_int(struct json_writer *w, int64_t v)
{
	before_value(w);
	buf_addf(w->out, "%" PRId64, v);
}

void json_bool(struct json_writer *w, int v)
{
	before_value(w);
	buf_addstr(w->out, v ? "true" : "false");
}

void json_null(struct json_writer *w)
{
	before_value(w);
	buf_addstr(w->out, "null");
}

void json_key_str(struct json_writer *w, const char *key, const char *s)
{
	json_key(w, key);
	json_str(w, s);
}

void json_key_int(struct json_writer *w, const char *key, int64_t v)
{
	json_key(w, key);
	json_int(w, v);
}

void json_key_bool(struct json_writer *w, const char *key, int v)
{
	json_key(w, key);
	json_bool(w, v);
}

/* ---- reader ---- */

struct cursor {
	const char *p, *end;
};

static void skip_ws(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int hex4(struct cursor *c, uint32_t *out)
{
	uint32_t v = 0;
	if (c->end - c->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char ch = *c->p++;
		v <<= 4;
		if (ch >= '0' && ch <= '9')
			v |= (uint32_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v |= (uint32_t)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			v |= (uint32_t)(ch - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static void add_utf8(struct buf *b, uint32_t cp)
{
	unsigned char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_add(b, u, n);
}

/*
 * A string literal at c->p (which points at the opening quote). Rejects raw
 * control characters, invalid UTF-8, unknown escapes, lone surrogates and
 * \u0000 (which a C string cannot hold). Returns a new string or NULL.
 */
static char *parse_string(struct cursor *c)
{
	struct buf b = BUF_INIT;

	if (c->p >= c->end || *c->p != '"')
		return NULL;
	c->p++;
	for (;;) {
		if (c->p >= c->end)
			goto bad;
		unsigned char ch = (unsigned char)*c->p;
		if (ch == '"') {
			c->p++;
			break;
		}
		if (ch < 0x20)
			goto bad;
		if (ch != '\\') {
			uint32_t cp;
			size_t bad_len, len = utf8_decode((const unsigned char *)c->p,
							  (size_t)(c->end - c->p), &cp, &bad_len);
			if (!len)
				goto bad;
			buf_add(&b, c->p, len);
			c->p += len;
			continue;
		}
		c->p++;
		if (c->p >= c->end)
			goto bad;
		switch (*c->p++) {
		case '"':
			buf_addch(&b, '"');
			break;
		case '\\':
			buf_addch(&b, '\\');
			break;
		case '/':
			buf_addch(&b, '/');
			break;
		case 'b':
			buf_addch(&b, '\b');
			break;
		case 'f':
			buf_addch(&b, '\f');
			break;
		case 'n':
			buf_addch(&b, '\n');
			break;
		case 'r':
			buf_addch(&b, '\r');
			break;
		case 't':
			buf_addch(&b, '\t');
			break;
		case 'u': {
			uint32_t cp, lo;
			if (hex4(c, &cp) < 0 || cp == 0)
				goto bad;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				goto bad;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u')
					goto bad;
				c->p += 2;
				if (hex4(c, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			add_utf8(&b, cp);
			break;
		}
		default:
			goto bad;
		}
	}
	return buf_detach(&b, NULL);
bad:
	buf_release(&b);
	return NULL;
}

/* RFC 8259 number grammar; returns its text or NULL. */
static char *parse_number(struct cursor *c)
{
	const char *start = c->p, *p = c->p, *e = c->end;

	if (p < e && *p == '-')
		p++;
	if (p < e && *p == '0') {
		p++;
	} else if (p < e && *p >= '1' && *p <= '9') {
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	} else {
		return NULL;
	}
	if (p < e && *p == '.') {
		p++;
		if (p >= e || *p < '0' || *p > '9')
			return NULL;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || *p < '0' || *p > '9')
			return NULL;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	c->p = p;
	return xstrndup(start, (size_t)(p - start));
}

static int parse_literal(struct cursor *c, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n))
		return -1;
	c->p += n;
	return 0;
}

/* A scalar value: *out gets a new string, or NULL for null. */
static int parse_value(struct cursor *c, char **out)
{
	*out = NULL;
	if (c->p >= c->end)
		return -1;
	switch (*c->p) {
	case '"':
		*out = parse_string(c);
		return *out ? 0 : -1;
	case 't':
		if (parse_literal(c, "true") < 0)
			return -1;
		*out = xstrdup("true");
		return 0;
	case 'f':
		if (parse_literal(c, "false") < 0)
			return -1;
		*out = xstrdup("false");
		return 0;
	case 'n':
		return parse_literal(c, "null");
	default:
		*out = parse_number(c);
		return *out ? 0 : -1;
	}
}

static void flat_push(struct json_flat *o, char *key, char *val)
{
	if (o->nr == o->alloc) {
		o->alloc = o->alloc ? o->alloc * 2 : 8;
		o->keys = xrealloc(o->keys, o->alloc * sizeof(*o->keys));
		o->vals = xrealloc(o->vals, o->alloc * sizeof(*o->vals));
	}
	o->keys[o->nr] = key;
	o->vals[o->nr] = val;
	o->nr++;
}

static int flat_has(const struct json_flat *o, const char *key)
{
	for (size_t i = 0; i < o->nr; i++)
		if (!strcmp(o->keys[i], key))
			return 1;
	return 0;
}

/*
 * On success the previous contents of `o` are released and replaced, so one
 * json_flat can be reused line after line with a single release at the end.
 * On failure `o` is left as it was. Duplicate keys count as malformed.
 */
int json_flat_parse(struct json_flat *o, const char *text, size_t len)
{
	struct json_flat r = JSON_FLAT_INIT;
	struct cursor c = { text, text + len };

	skip_ws(&c);
	if (c.p >= c.end || *c.p++ != '{')
		return -1;
	skip_ws(&c);
	if (c.p < c.end && *c.p == '}') {
		c.p++;
		goto done;
	}
	for (;;) {
		char *key, *val;

		skip_ws(&c);
		key = parse_string(&c);
		if (!key)
			goto bad;
		if (flat_has(&r, key)) {
			free(key);
			goto bad;
		}
		skip_ws(&c);
		if (c.p >= c.end || *c.p++ != ':') {
			free(key);
			goto bad;
		}
		skip_ws(&c);
		if (parse_value(&c, &val) < 0) {
			free(key);
			goto bad;
		}
		flat_push(&r, key, val);
		skip_ws(&c);
		if (c.p >= c.end)
			goto bad;
		if (*c.p == ',') {
			c.p++;
			continue;
		}
		if (*c.p++ != '}')
			goto bad;
		break;
	}
done:
	skip_ws(&c);
	if (c.p != c.end)
		goto bad;
	json_flat_release(o);
	*o = r;
	return 0;
bad:
	json_flat_release(&r);
	return -1;
}

/*
 * Looks the key up; "present with value null" and "absent" both give NULL
 * (a caller that must tell them apart walks keys[] itself).
 */
const char *json_flat_get(const struct json_flat *o, const char *key)
{
	for (size_t i = 0; i < o->nr; i++)
		if (!strcmp(o->keys[i], key))
			return o->vals[i];
	return NULL;
}

void json_flat_release(struct json_flat *o)
{
	for (size_t i = 0; i < o->nr; i++) {
		free(o->keys[i]);
		free(o->vals[i]);
	}
	free(o->keys);
	free(o->vals);
	o->keys = o->vals = NULL;
	o->nr = o->alloc = 0;
}
