/*
 * Does a request start a page view? Sticky routing moves a session to the
 * current version at its next navigation, so that a drain lasts about one
 * page view (docs/proxy.md, "Sticky versions"). Pure logic on a parsed
 * head: the unit tests drive it with byte strings.
 */
#include "proxy/http.h"
#include <stdlib.h>
#include <strings.h>

/* Header `name`'s value trimmed, or NULL when absent. */
static const char *value_of(const struct http_msg *m, const char *name, size_t *len)
{
	int i = http_msg_find(m, name);
	if (i < 0)
		return NULL;
	const char *v = http_hdr_val(m, i);
	size_t n = m->hdr[i].val_len;
	while (n && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	*len = n;
	return v;
}

static int is_word(const char *v, size_t n, const char *word)
{
	return v && strlen(word) == n && !strncasecmp(v, word, n);
}

/*
 * The q value of one Accept element ("text/html;level=1;q=0.8"), in
 * thousandths: 1000 when it has none, 0 when it is malformed.
 */
static int accept_q(const char *params, const char *end)
{
	const char *p = params;
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *e = semi ? semi : end;
		while (p < e && (*p == ' ' || *p == '\t' || *p == ';'))
			p++;
		if (e - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			/* RFC 9110 12.4.2: 0, 1, or 0.ddd, 1.000 */
			const char *d = p + 2;
			int q = 0, scale = 1000;
			if (d < e && (*d == '0' || *d == '1'))
				q = (*d++ - '0') * 1000;
			else
				return 0;
			if (d < e && *d == '.')
				for (d++; d < e && *d >= '0' && *d <= '9' && scale > 1; d++)
					q += (*d - '0') * (scale /= 10);
			while (d < e && (*d == ' ' || *d == '\t'))
				d++;
			return d == e && q <= 1000 ? q : 0;
		}
		p = semi ? semi + 1 : end;
	}
	return 1000;
}

/*
 * 1 when an Accept value prefers HTML: text/html (or XHTML) is named with
 * a q above 0 and no other element has a higher q. The wildcard alone,
 * what scripts, images and curl send, is not a preference for HTML.
 */
int http_accept_prefers_html(const char *v, size_t n)
{
	const char *p = v, *end = v + n;
	int html = 0, other = 0;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		const char *semi = p < e ? memchr(p, ';', (size_t)(e - p)) : NULL;
		const char *te = semi ? semi : e;
		while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
			te--;
		if (te > p) {
			int q = accept_q(semi ? semi : e, e);
			size_t tl = (size_t)(te - p);
			if (is_word(p, tl, "text/html") || is_word(p, tl, "application/xhtml+xml")) {
				if (q > html)
					html = q;
			} else if (q > other) {
				other = q;
			}
		}
		p = comma ? comma + 1 : end;
	}
	return html > 0 && html >= other;
}

int http_is_navigation(const struct http_msg *m, const http_parser *p)
{
	size_t n;
	const char *v;
	/* a prefetch may come while the page that asked for it still loads its assets */
	if ((v = value_of(m, "sec-purpose", &n)) && n >= 8 && !strncasecmp(v, "prefetch", 8))
		return 0;
	if ((v = value_of(m, "purpose", &n)) && is_word(v, n, "prefetch"))
		return 0;
	/* top-level documents only: a frame belongs to the page that embeds it */
	if ((v = value_of(m, "sec-fetch-dest", &n)))
		return is_word(v, n, "document");
	if ((v = value_of(m, "sec-fetch-mode", &n)))
		return is_word(v, n, "navigate");
	if (p->method != HTTP_GET)
		return 0;
	v = value_of(m, "accept", &n);
	return v && http_accept_prefers_html(v, n);
}
