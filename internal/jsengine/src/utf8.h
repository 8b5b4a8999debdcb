#ifndef WASMROUTE_UTF8_H
#define WASMROUTE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* utf8_valid reports whether p[0..n) is well-formed UTF-8 (no surrogates,
   no overlong forms, nothing past U+10FFFF). */
int utf8_valid(const uint8_t *p, size_t n);

/* utf8_sanitize copies p[0..n) to out as well-formed UTF-8, each maximal
   invalid subpart replaced by U+FFFD as the WHATWG Encoding standard's
   decoder does, and returns the length written: out needs 3*n bytes. */
size_t utf8_sanitize(const uint8_t *p, size_t n, uint8_t *out);

/* wtf8_has_surrogate reports whether p[0..n), the WTF-8 that QuickJS's
   JS_ToCStringLen makes of a string, encodes a lone surrogate. */
int wtf8_has_surrogate(const uint8_t *p, size_t n);

/* wtf8_fix_surrogates replaces, in place, each lone surrogate in p[0..n)
   (3 bytes, ED A0..BF xx) by U+FFFD (3 bytes, EF BF BD): the result is
   well-formed UTF-8. */
void wtf8_fix_surrogates(uint8_t *p, size_t n);

/* latin1_to_utf8 writes the UTF-8 of the string whose chars are the bytes
   p[0..n) (each byte one char, U+0000..U+00FF) to out (2*n bytes) and
   returns its length. */
size_t latin1_to_utf8(const uint8_t *p, size_t n, uint8_t *out);

/* wtf8_to_latin1 writes the bytes of the chars of p[0..n), WTF-8 as
   JS_ToCStringLen makes it, to out (n bytes) and returns their count, or
   -1 when a char is above U+00FF. */
long wtf8_to_latin1(const uint8_t *p, size_t n, uint8_t *out);

#endif
