#ifndef CUTOVER_STRLIST_H
#define CUTOVER_STRLIST_H
#include <stddef.h>

/* An owned list of strings. */
struct strlist {
	char **items;
	size_t nr, alloc;
};
#define STRLIST_INIT { NULL, 0, 0 }

void strlist_push(struct strlist *l, const char *s);
void strlist_clear(struct strlist *l);
int strlist_has(const struct strlist *l, const char *s);
void strlist_sort(struct strlist *l);

#endif
