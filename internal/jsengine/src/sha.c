/*
 * SHA-1, SHA-256, SHA-384 and SHA-512, written from FIPS 180-4 (Secure Hash
 * Standard, August 2015): https://doi.org/10.6028/NIST.FIPS.180-4
 *
 * Section numbers below are the standard's. The constants are its own
 * (derived from the primes as §4.2.2, §4.2.3, §5.3.3, §5.3.4 and §5.3.5
 * say). The message is hashed in one call: the host object's digest gets the
 * whole buffer.
 */
#include <stdint.h>
#include <string.h>

#include "sha.h"

static uint32_t rotl32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
static uint32_t rotr32(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
static uint64_t rotr64(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, v >> 32);
    put32(p + 4, (uint32_t)v);
}

/*
 * pad_and_run feeds the padded message (§5.1) to block, one block of
 * block_len bytes (64 or 128) at a time: the message, a 1 bit, zeros, and
 * its length in bits as a big-endian integer of len_bytes bytes (8 or 16).
 */
static void pad_and_run(const uint8_t *msg, size_t len, size_t block_len, size_t len_bytes,
                        void (*block)(void *state, const uint8_t *b), void *state)
{
    uint8_t last[256];
    size_t full = len - len % block_len, rest = len - full, n;
    uint64_t bits = (uint64_t)len * 8;

    for (size_t i = 0; i < full; i += block_len)
        block(state, msg + i);
    memset(last, 0, sizeof last);
    memcpy(last, msg + full, rest);
    last[rest] = 0x80;
    n = rest + 1 + len_bytes <= block_len ? block_len : 2 * block_len;
    /* a size_t length in bits fits in 64 bits: a 128-bit length's upper half is 0 */
    put64(last + n - 8, bits);
    for (size_t i = 0; i < n; i += block_len)
        block(state, last + i);
}

/* SHA-1, §6.1.2 */

static void sha1_block(void *state, const uint8_t *b)
{
    uint32_t *H = state, W[80], a, bb, c, d, e, T, f, k;

    for (int t = 0; t < 16; t++)
        W[t] = be32(b + 4 * t);
    for (int t = 16; t < 80; t++)
        W[t] = rotl32(W[t - 3] ^ W[t - 8] ^ W[t - 14] ^ W[t - 16], 1);
    a = H[0], bb = H[1], c = H[2], d = H[3], e = H[4];
    for (int t = 0; t < 80; t++) {
        if (t < 20) /* §4.1.1 Ch, and the constants of §4.2.1 */
            f = (bb & c) ^ (~bb & d), k = 0x5a827999;
        else if (t < 40) /* Parity */
            f = bb ^ c ^ d, k = 0x6ed9eba1;
        else if (t < 60) /* Maj */
            f = (bb & c) ^ (bb & d) ^ (c & d), k = 0x8f1bbcdc;
        else
            f = bb ^ c ^ d, k = 0xca62c1d6;
        T = rotl32(a, 5) + f + e + k + W[t];
        e = d, d = c, c = rotl32(bb, 30), bb = a, a = T;
    }
    H[0] += a, H[1] += bb, H[2] += c, H[3] += d, H[4] += e;
}

/* SHA-256, §6.2.2 */

static const uint32_t K256[64] = { /* §4.2.2 */
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static void sha256_block(void *state, const uint8_t *b)
{
    uint32_t *H = state, W[64], v[8], T1, T2;

    for (int t = 0; t < 16; t++)
        W[t] = be32(b + 4 * t);
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr32(W[t - 15], 7) ^ rotr32(W[t - 15], 18) ^ (W[t - 15] >> 3);
        uint32_t s1 = rotr32(W[t - 2], 17) ^ rotr32(W[t - 2], 19) ^ (W[t - 2] >> 10);
        W[t] = s1 + W[t - 7] + s0 + W[t - 16];
    }
    memcpy(v, H, sizeof v);
    for (int t = 0; t < 64; t++) {
        uint32_t e = v[4], a = v[0];
        uint32_t S1 = rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25);
        uint32_t S0 = rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22);
        uint32_t ch = (e & v[5]) ^ (~e & v[6]);
        uint32_t maj = (a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]);
        T1 = v[7] + S1 + ch + K256[t] + W[t];
        T2 = S0 + maj;
        memmove(v + 1, v, 7 * sizeof v[0]);
        v[4] += T1;
        v[0] = T1 + T2;
    }
    for (int i = 0; i < 8; i++)
        H[i] += v[i];
}

/* SHA-512 and SHA-384, §6.4.2 and §6.5 */

static const uint64_t K512[80] = { /* §4.2.3 */
    0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc,
    0x3956c25bf348b538, 0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118,
    0xd807aa98a3030242, 0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235, 0xc19bf174cf692694,
    0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
    0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
    0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2, 0xd5a79147930aa725, 0x06ca6351e003826f, 0x142929670a0e6e70,
    0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
    0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
    0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30,
    0xd192e819d6ef5218, 0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
    0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b,
    0xca273eceea26619c, 0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178,
    0x06f067aa72176fba, 0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
    0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc, 0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
};

static void sha512_block(void *state, const uint8_t *b)
{
    uint64_t *H = state, W[80], v[8], T1, T2;

    for (int t = 0; t < 16; t++)
        W[t] = be64(b + 8 * t);
    for (int t = 16; t < 80; t++) {
        uint64_t s0 = rotr64(W[t - 15], 1) ^ rotr64(W[t - 15], 8) ^ (W[t - 15] >> 7);
        uint64_t s1 = rotr64(W[t - 2], 19) ^ rotr64(W[t - 2], 61) ^ (W[t - 2] >> 6);
        W[t] = s1 + W[t - 7] + s0 + W[t - 16];
    }
    memcpy(v, H, sizeof v);
    for (int t = 0; t < 80; t++) {
        uint64_t e = v[4], a = v[0];
        uint64_t S1 = rotr64(e, 14) ^ rotr64(e, 18) ^ rotr64(e, 41);
        uint64_t S0 = rotr64(a, 28) ^ rotr64(a, 34) ^ rotr64(a, 39);
        uint64_t ch = (e & v[5]) ^ (~e & v[6]);
        uint64_t maj = (a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]);
        T1 = v[7] + S1 + ch + K512[t] + W[t];
        T2 = S0 + maj;
        memmove(v + 1, v, 7 * sizeof v[0]);
        v[4] += T1;
        v[0] = T1 + T2;
    }
    for (int i = 0; i < 8; i++)
        H[i] += v[i];
}

int sha_digest(const char *name, const uint8_t *msg, size_t len, uint8_t *out)
{
    if (strcmp(name, "SHA-1") == 0) {
        uint32_t H[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0}; /* §5.3.1 */
        pad_and_run(msg, len, 64, 8, sha1_block, H);
        for (int i = 0; i < 5; i++)
            put32(out + 4 * i, H[i]);
        return 20;
    }
    if (strcmp(name, "SHA-256") == 0) {
        uint32_t H[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}; /* §5.3.3 */
        pad_and_run(msg, len, 64, 8, sha256_block, H);
        for (int i = 0; i < 8; i++)
            put32(out + 4 * i, H[i]);
        return 32;
    }
    if (strcmp(name, "SHA-384") == 0 || strcmp(name, "SHA-512") == 0) {
        static const uint64_t H384[8] = { /* §5.3.4 */
            0xcbbb9d5dc1059ed8, 0x629a292a367cd507, 0x9159015a3070dd17, 0x152fecd8f70e5939,
            0x67332667ffc00b31, 0x8eb44a8768581511, 0xdb0c2e0d64f98fa7, 0x47b5481dbefa4fa4,
        };
        static const uint64_t H512[8] = { /* §5.3.5 */
            0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
            0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
        };
        int is384 = name[4] == '3';
        uint64_t H[8];
        memcpy(H, is384 ? H384 : H512, sizeof H);
        pad_and_run(msg, len, 128, 16, sha512_block, H);
        for (int i = 0; i < (is384 ? 6 : 8); i++) /* SHA-384 keeps the leftmost 384 bits */
            put64(out + 8 * i, H[i]);
        return is384 ? 48 : 64;
    }
    return -1;
}
