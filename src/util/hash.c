#include "util/hash.h"
#include "util/error.h"
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <unistd.h>

struct hash_ctx {
	EVP_MD_CTX *md;
};

/* SHA-256 fetched from the provider once: an implicit fetch on every
 * EVP_DigestInit_ex takes a lock that the hashing threads share. */
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

struct hash_ctx *hash_begin(void)
{
	struct hash_ctx *c = xmalloc(sizeof(*c));
	pthread_once(&sha256_once, fetch_sha256);
	c->md = EVP_MD_CTX_new();
	if (!sha256 || !c->md || EVP_DigestInit_ex(c->md, sha256, NULL) != 1)
		die("cannot initialise SHA-256");
	return c;
}

void hash_update(struct hash_ctx *c, const void *data, size_t len)
{
	if (EVP_DigestUpdate(c->md, data, len) != 1)
		die("SHA-256 update failed");
}

void hash_end(struct hash_ctx *c, unsigned char out[HASH_LEN])
{
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(c->md, out, &n) != 1 || n != HASH_LEN)
		die("SHA-256 final failed");
	EVP_MD_CTX_free(c->md);
	free(c);
}

int hash_fd(int fd, unsigned char out[HASH_LEN], uint64_t *size)
{
	static __thread char chunk[1 << 18]; /* per thread: workers hash in parallel */
	struct hash_ctx *c = hash_begin();
	uint64_t total = 0;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int err = errno;
			hash_end(c, out);
			errno = err;
			return -1;
		}
		if (!n)
			break;
		hash_update(c, chunk, (size_t)n);
		total += (uint64_t)n;
	}
	hash_end(c, out);
	if (size)
		*size = total;
	return 0;
}

void hash_to_hex(char out[HASH_HEX + 1], const unsigned char h[HASH_LEN])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < HASH_LEN; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[HASH_HEX] = 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

void hash_bytes_hex(char out[HASH_HEX + 1], const void *data, size_t len)
{
	unsigned char h[HASH_LEN];
	struct hash_ctx *c = hash_begin();
	hash_update(c, data, len);
	hash_end(c, h);
	hash_to_hex(out, h);
}

int hash_from_hex(unsigned char out[HASH_LEN], const char *hex)
{
	for (int i = 0; i < HASH_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return hex[HASH_HEX] ? -1 : 0;
}

void hash_bytes(unsigned char out[HASH_LEN], const void *data, size_t len)
{
	struct hash_ctx *c = hash_begin();
	hash_update(c, data, len);
	hash_end(c, out);
}
