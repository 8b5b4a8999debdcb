/*
 * UTF-8 checks and conversions for the host object. The decoder follows the
 * WHATWG Encoding standard's UTF-8 decoder (https://encoding.spec.whatwg.org/#utf-8-decoder):
 * the same byte ranges, and one U+FFFD per maximal invalid subpart.
 */
#include "utf8.h"

/*
 * next_len returns the length of the well-formed sequence at p[0..n) (n > 0),
 * or, negated, the length of its maximal invalid subpart (at least 1).
 */
static long next_len(const uint8_t *p, size_t n)
{
    uint8_t b = p[0], lo = 0x80, hi = 0xbf;
    size_t need;

    if (b < 0x80)
        return 1;
    if (b >= 0xc2 && b <= 0xdf)
        need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        if (b == 0xe0)
            lo = 0xa0; /* no overlong forms */
        else if (b == 0xed)
            hi = 0x9f; /* no surrogates */
    } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        if (b == 0xf0)
            lo = 0x90;
        else if (b == 0xf4)
            hi = 0x8f; /* nothing past U+10FFFF */
    } else
        return -1;
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || p[i] < lo || p[i] > hi)
            return -(long)i;
        lo = 0x80, hi = 0xbf;
    }
    return (long)need + 1;
}

int utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        long l = next_len(p + i, n - i);
        if (l < 0)
            return 0;
        i += (size_t)l;
    }
    return 1;
}

size_t utf8_sanitize(const uint8_t *p, size_t n, uint8_t *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        long l = next_len(p + i, n - i);
        if (l > 0) {
            for (long k = 0; k < l; k++)
                out[o++] = p[i++];
        } else {
            out[o++] = 0xef, out[o++] = 0xbf, out[o++] = 0xbd;
            i += (size_t)-l;
        }
    }
    return o;
}

int wtf8_has_surrogate(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 2 < n; i++)
        if (p[i] == 0xed && p[i + 1] >= 0xa0)
            return 1;
    return 0;
}

void wtf8_fix_surrogates(uint8_t *p, size_t n)
{
    /* An ED lead byte only ever starts a 3-byte sequence, and no
       continuation byte is ED: a match is a sequence's start. */
    for (size_t i = 0; i + 2 < n; i++)
        if (p[i] == 0xed && p[i + 1] >= 0xa0)
            p[i] = 0xef, p[i + 1] = 0xbf, p[i + 2] = 0xbd;
}

size_t latin1_to_utf8(const uint8_t *p, size_t n, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x80)
            out[o++] = p[i];
        else
            out[o++] = 0xc0 | p[i] >> 6, out[o++] = 0x80 | (p[i] & 0x3f);
    }
    return o;
}

long wtf8_to_latin1(const uint8_t *p, size_t n, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x80)
            out[o++] = p[i];
        else if ((p[i] == 0xc2 || p[i] == 0xc3) && i + 1 < n)
            out[o++] = (uint8_t)((p[i] & 0x03) << 6 | (p[i + 1] & 0x3f)), i++;
        else
            return -1;
    }
    return (long)o;
}
