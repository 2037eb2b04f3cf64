#ifndef CUTOVER_VERSION_H
#define CUTOVER_VERSION_H
/* The program's version; a client and its agent must have the same one. */
#ifndef CUTOVER_VERSION
#define CUTOVER_VERSION "0.1.0"
#endif
#endif
