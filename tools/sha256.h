/* sha256.h — small self-contained SHA-256 for the benchmark's payload checks (no OpenSSL). */
#ifndef ZC_BENCH_SHA256_H
#define ZC_BENCH_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct zc_bench_sha256 {
	uint32_t h[8];
	uint64_t len;      /* bytes hashed so far */
	uint8_t buf[64];   /* partial block */
	size_t fill;
};

void zc_bench_sha256_init(struct zc_bench_sha256 *s);
void zc_bench_sha256_update(struct zc_bench_sha256 *s, const void *data, size_t n);
/* Writes the digest as 64 lowercase hex digits plus NUL into hex[65]. */
void zc_bench_sha256_hex(struct zc_bench_sha256 *s, char hex[65]);
/* Hashes a whole file; 0 or -errno. */
int zc_bench_sha256_file(const char *path, char hex[65], uint64_t *size);

#endif
