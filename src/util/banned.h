#ifndef CUTOVER_BANNED_H
#define CUTOVER_BANNED_H
/*
 * Functions that are too easy to misuse; use buf_* or snprintf instead.
 * Included into every translation unit by the Makefile (git's banned.h).
 * The system headers that declare them come first so that their own
 * declarations are seen before the macros exist; their include guards
 * make any later #include of them a no-op.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define BANNED(f) sorry_##f##_is_banned_in_cutover
#undef strcpy
#define strcpy(a, b) BANNED(strcpy)
#undef strcat
#define strcat(a, b) BANNED(strcat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strncpy
#define strncpy(a, b, n) BANNED(strncpy)
#undef gets
#define gets(a) BANNED(gets)
#endif
