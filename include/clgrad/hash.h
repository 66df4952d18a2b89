/*
** clgrad/hash.h: SHA-256, used for the kernel-cache key, cache-entry
** integrity, and the source hashes recorded with every run.
*/
#ifndef CLGRAD_HASH_H
#define CLGRAD_HASH_H
#include <stddef.h>
#include <stdint.h>

typedef struct clgrad_sha256 {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t nbuf;
} clgrad_sha256;

void clgrad_sha256_init(clgrad_sha256 *s);
void clgrad_sha256_update(clgrad_sha256 *s, const void *data, size_t n);
void clgrad_sha256_final(clgrad_sha256 *s, unsigned char out[32]);
/* out: 64 hex digits + NUL */
void clgrad_sha256_hex(const unsigned char digest[32], char out[65]);
#endif
