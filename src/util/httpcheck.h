#ifndef CUTOVER_HTTPCHECK_H
#define CUTOVER_HTTPCHECK_H

/*
 * One HTTP/1.1 GET for health checks: http://host[:port]/path, host a name
 * (getaddrinfo), an IPv4 address or [IPv6]. Sends "Connection: close" and a
 * "User-Agent: cutover-check" header, reads the status line, and gives up
 * after timeout_ms in total (connect + send + response status line).
 *
 * Returns the HTTP status (100..599), or -1 with a one-line reason written
 * into `why` ("connection refused", "timed out after 5000 ms",
 * "malformed status line", "https is not supported: use a command check
 * such as 'curl -fsS https://...'", "invalid url '...': <reason>"), never
 * printing.
 */
int http_check_get(const char *url, long timeout_ms, char *why, size_t why_len);

/* 1 when `s` starts with http:// or https:// (a URL check), else 0 (a command). */
int http_check_is_url(const char *s);

/* 1 when `s` starts with SCHEME:// ("ftp://x", "htp://x"): written as a URL. */
int http_check_looks_like_url(const char *s);

/*
 * Whether `url` is one http_check_get can GET, checked before anything
 * changes: 0, or -1 with the reason in `why` ("https is not supported: use
 * a command check such as 'curl -fsS URL'", "the port '99999' is not a
 * number from 1 to 65535", ...), never printing.
 */
int http_check_url_usable(const char *url, char *why, size_t why_len);

#endif
