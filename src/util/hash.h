#ifndef CUTOVER_HASH_H
#define CUTOVER_HASH_H
#include <stdint.h>
#include <stddef.h>

#define HASH_LEN 32
#define HASH_HEX 64

/* SHA-256 (OpenSSL libcrypto) of everything readable from `fd`, from its
 * current offset. *size receives the byte count. Returns 0 or -1 with errno
 * set (not reported: the caller knows the path). */
int hash_fd(int fd, unsigned char out[HASH_LEN], uint64_t *size);

/* Incremental hashing for streams (archives). */
struct hash_ctx;
struct hash_ctx *hash_begin(void);
void hash_update(struct hash_ctx *c, const void *data, size_t len);
void hash_end(struct hash_ctx *c, unsigned char out[HASH_LEN]); /* frees c */

void hash_to_hex(char out[HASH_HEX + 1], const unsigned char h[HASH_LEN]);
/* The SHA-256 of a buffer, raw and in hex. */
void hash_bytes(unsigned char out[HASH_LEN], const void *data, size_t len);
void hash_bytes_hex(char out[HASH_HEX + 1], const void *data, size_t len);
/* Returns 0, or -1 when `hex` is not 64 lowercase hex digits. */
int hash_from_hex(unsigned char out[HASH_LEN], const char *hex);

#endif
