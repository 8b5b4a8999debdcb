#ifndef WASMROUTE_SHA_H
#define WASMROUTE_SHA_H

#include <stddef.h>
#include <stdint.h>

/* SHA_MAX_DIGEST is the largest digest sha_digest writes (SHA-512's). */
#define SHA_MAX_DIGEST 64

/*
 * sha_digest hashes msg[0..len) with the algorithm name ("SHA-1", "SHA-256",
 * "SHA-384" or "SHA-512", as Web Crypto spells them), writes the digest to
 * out (SHA_MAX_DIGEST bytes of room) and returns its length, or -1 for
 * another name.
 */
int sha_digest(const char *name, const uint8_t *msg, size_t len, uint8_t *out);

#endif
