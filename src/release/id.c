#include "release/id.h"
#include "util/error.h"
#include <ctype.h>

static int ts_valid(const char *s)
{
	for (int i = 0; i < RELEASE_TS_LEN; i++) {
		char c = s[i];
		if (i == 8) {
			if (c != 'T')
				return 0;
		} else if (i == 15) {
			if (c != 'Z')
				return 0;
		} else if (!isdigit((unsigned char)c)) {
			return 0;
		}
	}
	/* in range, so that the id sorts as the time it stands for (timegm would
	 * carry "20260000" back into 2025) */
	int mo = (s[4] - '0') * 10 + s[5] - '0', d = (s[6] - '0') * 10 + s[7] - '0';
	int h = (s[9] - '0') * 10 + s[10] - '0', mi = (s[11] - '0') * 10 + s[12] - '0';
	int sec = (s[13] - '0') * 10 + s[14] - '0';
	return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && sec <= 59;
}

int release_label_valid(const char *label)
{
	size_t n = strlen(label);
	if (!n || n > 40 || label[0] == '.' || label[0] == '-')
		return 0;
	for (const char *c = label; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '.' && *c != '_' && *c != '-')
			return 0;
	return 1;
}

/* Length of the optional ".NN" sequence after the timestamp (0 or 3). */
static size_t seq_len(const char *id)
{
	const char *p = id + RELEASE_TS_LEN;
	if (p[0] == '.' && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
	    (p[1] != '0' || p[2] != '0'))
		return 3;
	return 0;
}

int release_id_valid(const char *id)
{
	if (strlen(id) < RELEASE_TS_LEN || !ts_valid(id))
		return 0;
	const char *p = id + RELEASE_TS_LEN + seq_len(id);
	if (!*p)
		return 1;
	return p[0] == '-' && release_label_valid(p + 1);
}

const char *release_id_label(const char *id)
{
	const char *p = id + RELEASE_TS_LEN + seq_len(id);
	return *p == '-' ? p + 1 : NULL;
}

static time_t ts_parse(const char *id)
{
	struct tm tm = { 0 };
	if (sscanf(id, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec) != 6)
		return (time_t)-1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static void ts_format(char out[RELEASE_TS_LEN + 1], time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, RELEASE_TS_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

char *release_id_make(const struct strlist *existing, time_t now, const char *label)
{
	/* the newest existing second, and the highest sequence used in it */
	time_t newest = (time_t)-1;
	int seq = 0;
	for (size_t i = 0; i < existing->nr; i++) {
		const char *id = existing->items[i];
		if (!release_id_valid(id))
			continue;
		time_t e = ts_parse(id);
		int n = seq_len(id) ? (id[RELEASE_TS_LEN + 1] - '0') * 10 + id[RELEASE_TS_LEN + 2] - '0' : 0;
		if (e > newest) {
			newest = e;
			seq = n;
		} else if (e == newest && n > seq) {
			seq = n;
		}
	}
	char ts[RELEASE_TS_LEN + 1];
	char *base;
	if (newest == (time_t)-1 || now > newest) {
		ts_format(ts, now);
		base = xstrdup(ts);
	} else if (seq < 99) {
		/* same second as the newest (or a clock behind it): stay in that second */
		ts_format(ts, newest);
		base = xasprintf("%s.%02d", ts, seq + 1);
	} else {
		ts_format(ts, newest + 1);
		base = xstrdup(ts);
	}
	if (!label || !*label)
		return base;
	char *id = xasprintf("%s-%s", base, label);
	free(base);
	return id;
}

int release_id_time(const char *id, char out[21])
{
	if (strlen(id) < RELEASE_TS_LEN || !ts_valid(id))
		return -1;
	snprintf(out, 21, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", id, id + 4, id + 6, id + 9, id + 11,
		 id + 13);
	return 0;
}
