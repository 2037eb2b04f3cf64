#ifndef CUTOVER_FORMAT_H
#define CUTOVER_FORMAT_H
#include <stdint.h>
#include <stddef.h>

/* "1.2 MiB" style sizes for tables. */
void format_bytes(char *out, size_t len, uint64_t n);

#endif
