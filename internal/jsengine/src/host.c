/*
 * globalThis.__wasmroute_host: the native functions of CONTRACT.md's host
 * object, each a thin wrapper around a wasmroute_v1 or WASI import.
 *
 * Calls whose buffers JS could reach again before they are used (a fetch's
 * request list, the environment, a poll's handles) use their own
 * allocations instead of the two below.
 *
 * Two growing buffers, kept for the instance's life, spare the hot paths an
 * allocation per call: io takes what the host writes (getters, body_read),
 * conv takes conversions (latin1, UTF-8 repairs). Nothing here calls back
 * into JS while either holds data: arguments are converted first.
 */
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#include "engine.h"
#include "sha.h"
#include "utf8.h"

struct hooks hooks = {JS_UNDEFINED, JS_UNDEFINED, JS_UNDEFINED, JS_UNDEFINED, JS_UNDEFINED, JS_UNDEFINED};
int in_request;

struct buf {
    uint8_t *p;
    size_t cap;
};
static struct buf io, conv;

/* The largest chunk bodyRead and fetchBodyRead ask the host for at once. */
#define BODY_CHUNK (64 * 1024)

/* The most handles fetch_poll takes at once (abi/ABI.md). */
#define MAX_POLL 1024

/* Class ids and DataView's own getters, found by probe() at install. */
static JSClassID class_array_buffer, class_typed_first, class_typed_last, class_data_view;
static JSValue dv_buffer, dv_offset, dv_length;

/* grow makes b hold at least n bytes; NULL (and an exception) if memory ran out. */
static uint8_t *grow(JSContext *ctx, struct buf *b, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < n)
            cap = cap > SIZE_MAX / 2 ? n : cap * 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            JS_ThrowOutOfMemory(ctx);
            return NULL;
        }
        b->p = p, b->cap = cap;
    }
    return b->p;
}

/* getter calls an ABI getter into io: the value is io.p[0..*len). */
typedef uint32_t getter_fn(uint8_t *buf, uint32_t buf_len);
typedef uint32_t keyed_getter_fn(const uint8_t *key, uint32_t key_len, uint8_t *buf, uint32_t buf_len);

static int get(JSContext *ctx, getter_fn *f, keyed_getter_fn *kf, const char *key, size_t key_len, uint32_t *len)
{
    if (!grow(ctx, &io, 256))
        return -1;
    for (;;) {
        uint32_t cap = io.cap > UINT32_MAX ? UINT32_MAX : (uint32_t)io.cap;
        uint32_t n = f ? f(io.p, cap) : kf((const uint8_t *)key, (uint32_t)key_len, io.p, cap);
        if (n <= cap) {
            *len = n;
            return 0;
        }
        if (!grow(ctx, &io, n))
            return -1;
    }
}

static JSValue get_string(JSContext *ctx, getter_fn *f)
{
    uint32_t n;
    if (get(ctx, f, NULL, NULL, 0, &n) < 0)
        return JS_EXCEPTION;
    if (utf8_valid(io.p, n))
        return JS_NewStringLen(ctx, (const char *)io.p, n);
    if (!grow(ctx, &conv, 3 * (size_t)n))
        return JS_EXCEPTION;
    return JS_NewStringLen(ctx, (const char *)conv.p, utf8_sanitize(io.p, n, conv.p));
}

static JSValue js_method(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv) { return get_string(ctx, wr_method); }
static JSValue js_path(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv) { return get_string(ctx, wr_path); }
static JSValue js_query(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv) { return get_string(ctx, wr_query); }
static JSValue js_protocol(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv) { return get_string(ctx, wr_protocol); }
static JSValue js_remote_addr(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv) { return get_string(ctx, wr_remote_addr); }

/* How list() decodes items: UTF-8 (invalid bytes as U+FFFD), latin1 (each
   byte one char, a ByteString), or as a response head: the status, the URL
   and the header names UTF-8, the header values (odd items from the 4th)
   latin1. */
enum item_text { ITEM_UTF8, ITEM_LATIN1, ITEM_HEAD };

/* list decodes the ABI list io.p[0..n) into an array of strings. */
static JSValue list(JSContext *ctx, uint32_t n, enum item_text text)
{
    JSValue arr = JS_NewArray(ctx);
    uint32_t i = 0, off = 0;
    if (JS_IsException(arr))
        return arr;
    while (n - off >= 4) {
        const uint8_t *p = io.p + off;
        uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        enum item_text t = text != ITEM_HEAD ? text : i >= 2 && i % 2 == 1 ? ITEM_LATIN1 : ITEM_UTF8;
        JSValue s;
        off += 4;
        if (len > n - off)
            break; /* the host writes whole items: not reached */
        p = io.p + off;
        if (t == ITEM_UTF8 && utf8_valid(p, len)) {
            s = JS_NewStringLen(ctx, (const char *)p, len);
        } else if (!grow(ctx, &conv, 3 * (size_t)len)) {
            s = JS_EXCEPTION;
        } else {
            size_t l = t == ITEM_UTF8 ? utf8_sanitize(p, len, conv.p) : latin1_to_utf8(p, len, conv.p);
            s = JS_NewStringLen(ctx, (const char *)conv.p, l);
        }
        if (JS_IsException(s) || JS_DefinePropertyValueUint32(ctx, arr, i++, s, JS_PROP_C_W_E) < 0) {
            JS_FreeValue(ctx, arr);
            return JS_EXCEPTION;
        }
        off += len;
    }
    return arr;
}

static JSValue get_list(JSContext *ctx, getter_fn *f, enum item_text text)
{
    uint32_t n;
    if (get(ctx, f, NULL, NULL, 0, &n) < 0)
        return JS_EXCEPTION;
    return list(ctx, n, text);
}

static JSValue get_keyed_list(JSContext *ctx, keyed_getter_fn *f, JSValueConst key, enum item_text text)
{
    size_t key_len;
    uint32_t n;
    const char *k = JS_ToCStringLen(ctx, &key_len, key);
    if (!k)
        return JS_EXCEPTION;
    int r = get(ctx, NULL, f, k, key_len, &n);
    JS_FreeCString(ctx, k);
    if (r < 0)
        return JS_EXCEPTION;
    return list(ctx, n, text);
}

static JSValue js_header_names(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv) { return get_list(ctx, wr_header_names, ITEM_UTF8); }
static JSValue js_param_names(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv) { return get_list(ctx, wr_param_names, ITEM_UTF8); }

static JSValue js_header_values(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    return get_keyed_list(ctx, wr_header_values, argv[0], ITEM_LATIN1);
}

static JSValue js_param_values(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    return get_keyed_list(ctx, wr_param_values, argv[0], ITEM_UTF8);
}

static JSValue js_body_read(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    double max;
    if (JS_ToFloat64(ctx, &max, argv[0]) < 0)
        return JS_EXCEPTION;
    if (!(max >= 1)) /* also NaN */
        return JS_NewArrayBufferCopy(ctx, NULL, 0);
    uint32_t want = max > BODY_CHUNK ? BODY_CHUNK : (uint32_t)max;
    if (!grow(ctx, &io, want))
        return JS_EXCEPTION;
    int32_t n = wr_body_read(io.p, want);
    if (n < 0)
        return JS_NewInt32(ctx, n);
    return JS_NewArrayBufferCopy(ctx, io.p, (size_t)n);
}

static JSValue js_set_status(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    double code;
    if (JS_ToFloat64(ctx, &code, argv[0]) < 0)
        return JS_EXCEPTION;
    if (!(code >= INT32_MIN && code <= INT32_MAX) || code != (int32_t)code)
        return JS_NewInt32(ctx, -1); /* ErrInvalid: no status is such a number */
    return JS_NewInt32(ctx, wr_set_status((int32_t)code));
}

typedef int32_t header_fn(const uint8_t *name, uint32_t name_len, const uint8_t *value, uint32_t value_len);

/* header calls header_set or header_add with name (UTF-8) and value (latin1). */
static JSValue header(JSContext *ctx, header_fn *f, JSValueConst name, JSValueConst value)
{
    size_t name_len, value_len;
    const char *n = JS_ToCStringLen(ctx, &name_len, name), *v;
    if (!n)
        return JS_EXCEPTION;
    v = JS_ToCStringLen(ctx, &value_len, value);
    if (!v) {
        JS_FreeCString(ctx, n);
        return JS_EXCEPTION;
    }
    int32_t r = -1; /* ErrInvalid: a char above U+00FF is no byte */
    long l;
    if (!grow(ctx, &conv, value_len)) {
        JS_FreeCString(ctx, n);
        JS_FreeCString(ctx, v);
        return JS_EXCEPTION;
    }
    if ((l = wtf8_to_latin1((const uint8_t *)v, value_len, conv.p)) >= 0)
        r = f((const uint8_t *)n, (uint32_t)name_len, conv.p, (uint32_t)l);
    JS_FreeCString(ctx, n);
    JS_FreeCString(ctx, v);
    return JS_NewInt32(ctx, r);
}

static JSValue js_header_set(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    return header(ctx, wr_header_set, argv[0], argv[1]);
}

static JSValue js_header_add(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    return header(ctx, wr_header_add, argv[0], argv[1]);
}

static JSValue js_header_del(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    size_t len;
    const char *n = JS_ToCStringLen(ctx, &len, argv[0]);
    if (!n)
        return JS_EXCEPTION;
    int32_t r = wr_header_del((const uint8_t *)n, (uint32_t)len);
    JS_FreeCString(ctx, n);
    return JS_NewInt32(ctx, r);
}

/*
 * bytes finds the bytes of an ArrayBuffer, a typed array or a DataView:
 * 0, or -1 with a TypeError for anything else or a detached buffer. They
 * stay valid while v lives and no JS runs.
 */
static int bytes(JSContext *ctx, JSValueConst v, uint8_t **p, size_t *len)
{
    JSClassID id = JS_GetClassID(v);
    if (id == class_array_buffer) {
        *p = JS_GetArrayBuffer(ctx, len, v);
        return *p ? 0 : -1;
    }
    if (id >= class_typed_first && id <= class_typed_last) {
        size_t off, n, size;
        JSValue ab = JS_GetTypedArrayBuffer(ctx, v, &off, &n, NULL);
        if (JS_IsException(ab))
            return -1;
        uint8_t *base = JS_GetArrayBuffer(ctx, &size, ab);
        JS_FreeValue(ctx, ab); /* v holds it */
        if (!base)
            return -1;
        *p = base + off, *len = n;
        return 0;
    }
    if (id == class_data_view) {
        JSValue ab = JS_Call(ctx, dv_buffer, v, 0, NULL);
        JSValue off_v = JS_Call(ctx, dv_offset, v, 0, NULL); /* these throw if detached */
        JSValue len_v = JS_IsException(off_v) ? JS_EXCEPTION : JS_Call(ctx, dv_length, v, 0, NULL);
        uint32_t off = 0, n = 0;
        size_t size;
        uint8_t *base = NULL;
        if (!JS_IsException(ab) && !JS_IsException(off_v) && !JS_IsException(len_v) &&
            JS_ToUint32(ctx, &off, off_v) == 0 && JS_ToUint32(ctx, &n, len_v) == 0)
            base = JS_GetArrayBuffer(ctx, &size, ab);
        JS_FreeValue(ctx, ab);
        JS_FreeValue(ctx, off_v);
        JS_FreeValue(ctx, len_v);
        if (!base)
            return -1;
        *p = base + off, *len = n;
        return 0;
    }
    JS_ThrowTypeError(ctx, "not an ArrayBuffer, a typed array or a DataView");
    return -1;
}

/* utf8 finds the UTF-8 of string v, lone surrogates as U+FFFD: release it
   with JS_FreeCString(ctx, *cstr). */
static int utf8(JSContext *ctx, JSValueConst v, const char **cstr, const uint8_t **p, size_t *len)
{
    *cstr = JS_ToCStringLen(ctx, len, v);
    if (!*cstr)
        return -1;
    *p = (const uint8_t *)*cstr;
    if (wtf8_has_surrogate(*p, *len)) {
        if (!grow(ctx, &conv, *len)) {
            JS_FreeCString(ctx, *cstr);
            return -1;
        }
        memcpy(conv.p, *p, *len);
        wtf8_fix_surrogates(conv.p, *len);
        *p = conv.p;
    }
    return 0;
}

static JSValue js_body_write(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    if (JS_IsString(argv[0])) {
        const char *s;
        const uint8_t *p;
        size_t len;
        if (utf8(ctx, argv[0], &s, &p, &len) < 0)
            return JS_EXCEPTION;
        int32_t r = wr_body_write(p, (uint32_t)len);
        JS_FreeCString(ctx, s);
        return JS_NewInt32(ctx, r);
    }
    uint8_t *p;
    size_t len;
    if (bytes(ctx, argv[0], &p, &len) < 0)
        return JS_EXCEPTION;
    return JS_NewInt32(ctx, wr_body_write(p, (uint32_t)len));
}

static JSValue js_flush(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    return JS_NewInt32(ctx, wr_flush());
}

static JSValue js_random_fill(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    uint8_t *p;
    size_t len;
    if (bytes(ctx, argv[0], &p, &len) < 0)
        return JS_EXCEPTION;
    if (len > 0 && __wasi_random_get(p, len) != 0)
        return JS_ThrowInternalError(ctx, "random_get failed");
    return JS_DupValue(ctx, argv[0]);
}

static JSValue js_hrtime(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    __wasi_timestamp_t ns = 0;
    if (__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1000, &ns) != 0)
        return JS_ThrowInternalError(ctx, "clock_time_get failed");
    return JS_NewFloat64(ctx, (double)ns / 1e6);
}

static JSValue js_write(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    int32_t fd;
    const char *s;
    const uint8_t *p;
    size_t len;
    if (JS_ToInt32(ctx, &fd, argv[0]) < 0)
        return JS_EXCEPTION;
    if (fd != 1 && fd != 2)
        return JS_ThrowRangeError(ctx, "write: fd %d is not 1 or 2", fd);
    if (utf8(ctx, argv[1], &s, &p, &len) < 0)
        return JS_EXCEPTION;
    write_fd(fd, p, len);
    JS_FreeCString(ctx, s);
    return JS_UNDEFINED;
}

static JSValue js_utf8_encode(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    size_t len, size;
    const char *s = JS_ToCStringLen(ctx, &len, argv[0]);
    if (!s)
        return JS_EXCEPTION;
    JSValue ab = JS_NewArrayBufferCopy(ctx, (const uint8_t *)s, len);
    JS_FreeCString(ctx, s);
    if (!JS_IsException(ab))
        wtf8_fix_surrogates(JS_GetArrayBuffer(ctx, &size, ab), len);
    return ab;
}

static JSValue js_utf8_decode(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    uint8_t *p;
    size_t len;
    if (bytes(ctx, argv[0], &p, &len) < 0)
        return JS_EXCEPTION;
    if (utf8_valid(p, len))
        return JS_NewStringLen(ctx, (const char *)p, len);
    if (JS_ToBool(ctx, argv[1]))
        return JS_ThrowTypeError(ctx, "The encoded data was not valid UTF-8");
    if (len > SIZE_MAX / 3 || !grow(ctx, &conv, 3 * len))
        return JS_ThrowOutOfMemory(ctx);
    return JS_NewStringLen(ctx, (const char *)conv.p, utf8_sanitize(p, len, conv.p));
}

static JSValue js_digest(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    uint8_t out[SHA_MAX_DIGEST], *p;
    size_t len;
    const char *name = JS_ToCString(ctx, argv[0]);
    if (!name)
        return JS_EXCEPTION;
    if (bytes(ctx, argv[1], &p, &len) < 0) {
        JS_FreeCString(ctx, name);
        return JS_EXCEPTION;
    }
    int n = sha_digest(name, p, len, out);
    if (n < 0) {
        JSValue e = JS_ThrowTypeError(ctx, "digest: unsupported algorithm %s", name);
        JS_FreeCString(ctx, name);
        return e;
    }
    JS_FreeCString(ctx, name);
    return JS_NewArrayBufferCopy(ctx, out, (size_t)n);
}

/*
 * The request's services: outbound HTTP (fetch_*), the key-value store
 * (kv_*) and error_message. The host knows them only while it serves a
 * request (it traps a call made during initialization), so each native
 * throws instead when in_request is 0.
 */
static int outside(JSContext *ctx, const char *name)
{
    if (in_request)
        return 0;
    JS_ThrowTypeError(ctx, "%s is available only while a request is served, not during initialization (at a module's top level)", name);
    return 1;
}

/* A getter that may fail: fetch_head, kv_get, kv_list. */
struct getter {
    int32_t (*keyed)(const uint8_t *key, uint32_t key_len, uint8_t *buf, uint32_t buf_len);
    const uint8_t *key;
    uint32_t key_len, handle; /* fetch_head's handle when keyed is NULL */
};

/* sget calls g into io: *n is the value's length (the value is
   io.p[0..*n)) or the ABI error code the getter returned (< 0); -1 on an
   exception. */
static int sget(JSContext *ctx, const struct getter *g, int32_t *n)
{
    if (!grow(ctx, &io, 256))
        return -1;
    for (;;) {
        uint32_t cap = io.cap > INT32_MAX ? INT32_MAX : (uint32_t)io.cap;
        int32_t r = g->keyed ? g->keyed(g->key, g->key_len, io.p, cap) : wr_fetch_head(g->handle, io.p, cap);
        if (r < 0 || (uint32_t)r <= cap) {
            *n = r;
            return 0;
        }
        if (!grow(ctx, &io, (uint32_t)r))
            return -1;
    }
}

/* key converts v to the UTF-8 of a key or prefix: 0, 1 when the string
   holds a lone surrogate (not UTF-8: the call is ErrInvalid), -1 on an
   exception. Release *k with JS_FreeCString unless -1. */
static int key(JSContext *ctx, JSValueConst v, const char **k, size_t *len)
{
    if (!(*k = JS_ToCStringLen(ctx, len, v)))
        return -1;
    return wtf8_has_surrogate((const uint8_t *)*k, *len) ? 1 : 0;
}

/* payload finds the bytes of a body or a value: a string (its UTF-8, lone
   surrogates as U+FFFD: release *cstr), bytes (an ArrayBuffer, a typed
   array, a DataView), or, when empty_ok, undefined or null (no bytes). */
static int payload(JSContext *ctx, JSValueConst v, int empty_ok, const char **cstr, const uint8_t **p, size_t *len)
{
    *cstr = NULL;
    if (JS_IsString(v))
        return utf8(ctx, v, cstr, p, len);
    if (empty_ok && (JS_IsUndefined(v) || JS_IsNull(v))) {
        *p = NULL, *len = 0;
        return 0;
    }
    uint8_t *b;
    if (bytes(ctx, v, &b, len) < 0)
        return -1;
    *p = b;
    return 0;
}

static JSValue js_error_message(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    if (outside(ctx, "errorMessage"))
        return JS_EXCEPTION;
    return get_string(ctx, wr_error_message);
}

/* array_length is the length of the array v; -1 with a TypeError when v is
   not an array. */
static int64_t array_length(JSContext *ctx, JSValueConst v, const char *what)
{
    int r = JS_IsArray(ctx, v);
    if (r <= 0) {
        if (r == 0)
            JS_ThrowTypeError(ctx, "%s is not an array", what);
        return -1;
    }
    JSValue l = JS_GetPropertyStr(ctx, v, "length");
    uint32_t n;
    if (JS_IsException(l) || JS_ToUint32(ctx, &n, l) < 0)
        return -1;
    return n;
}

static JSValue js_fetch_start(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    if (outside(ctx, "fetchStart"))
        return JS_EXCEPTION;
    uint32_t flags;
    if (JS_ToUint32(ctx, &flags, argv[2]) < 0)
        return JS_EXCEPTION;
    int64_t n = array_length(ctx, argv[0], "fetchStart: the request");
    if (n < 0)
        return JS_EXCEPTION;
    /* The list is built in an allocation of its own: reading an item may
       run JS (a getter), which may call natives that use io or conv. */
    struct buf req = {NULL, 0};
    size_t off = 0;
    int32_t r = 0;
    for (uint32_t i = 0; i < n && r == 0; i++) {
        JSValue item = JS_GetPropertyUint32(ctx, argv[0], i);
        size_t l;
        const char *s = JS_IsException(item) ? NULL : JS_ToCStringLen(ctx, &l, item);
        JS_FreeValue(ctx, item);
        if (!s)
            goto fail;
        if (l > UINT32_MAX - 4 || off > UINT32_MAX - 4 - l) {
            JS_FreeCString(ctx, s);
            r = ERR_INVALID; /* past 4 GiB: no such list */
            break;
        }
        if (!grow(ctx, &req, off + 4 + l)) {
            JS_FreeCString(ctx, s);
            goto fail;
        }
        uint8_t *dst = req.p + off + 4;
        long m = (long)l;
        if (i >= 3 && i % 2 == 1) { /* a header value: one byte per char */
            if ((m = wtf8_to_latin1((const uint8_t *)s, l, dst)) < 0)
                r = ERR_INVALID;
        } else {
            memcpy(dst, s, l);
            wtf8_fix_surrogates(dst, l);
        }
        JS_FreeCString(ctx, s);
        if (r == 0) {
            uint8_t *h = req.p + off;
            h[0] = (uint8_t)m, h[1] = (uint8_t)(m >> 8), h[2] = (uint8_t)(m >> 16), h[3] = (uint8_t)(m >> 24);
            off += 4 + (size_t)m;
        }
    }
    if (r == 0) {
        const char *cstr;
        const uint8_t *body;
        size_t body_len;
        if (payload(ctx, argv[1], 1, &cstr, &body, &body_len) < 0)
            goto fail;
        r = body_len > UINT32_MAX ? ERR_INVALID
                                  : wr_fetch_start(req.p ? req.p : (const uint8_t *)"", (uint32_t)off, body, (uint32_t)body_len, flags);
        JS_FreeCString(ctx, cstr);
    }
    free(req.p);
    return JS_NewInt32(ctx, r);
fail:
    free(req.p);
    return JS_EXCEPTION;
}

/* poll_timeout converts milliseconds to fetch_poll's timeout: negative is
   none (-1), a fraction rounds up, NaN is 0. */
static int32_t poll_timeout(double ms)
{
    if (ms < 0)
        return -1;
    if (!(ms > 0))
        return 0;
    if (ms >= INT32_MAX)
        return INT32_MAX;
    int32_t t = (int32_t)ms;
    return t < ms ? t + 1 : t;
}

static JSValue js_fetch_poll(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    if (outside(ctx, "fetchPoll"))
        return JS_EXCEPTION;
    uint32_t handles[MAX_POLL];
    double ms;
    int64_t n = array_length(ctx, argv[0], "fetchPoll: the handles");
    if (n < 0 || JS_ToFloat64(ctx, &ms, argv[1]) < 0)
        return JS_EXCEPTION;
    if (n > MAX_POLL)
        return JS_NewInt32(ctx, ERR_INVALID);
    for (uint32_t i = 0; i < n; i++) {
        JSValue v = JS_GetPropertyUint32(ctx, argv[0], i);
        int bad = JS_IsException(v) || JS_ToUint32(ctx, &handles[i], v) < 0;
        JS_FreeValue(ctx, v);
        if (bad)
            return JS_EXCEPTION;
    }
    return JS_NewInt32(ctx, wr_fetch_poll(handles, (uint32_t)n, poll_timeout(ms)));
}

static JSValue js_fetch_head(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    struct getter g = {NULL, NULL, 0, 0};
    int32_t n;
    if (outside(ctx, "fetchHead") || JS_ToUint32(ctx, &g.handle, argv[0]) < 0 || sget(ctx, &g, &n) < 0)
        return JS_EXCEPTION;
    return n < 0 ? JS_NewInt32(ctx, n) : list(ctx, (uint32_t)n, ITEM_HEAD);
}

static JSValue js_fetch_body_read(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    uint32_t handle;
    double max;
    if (outside(ctx, "fetchBodyRead") || JS_ToUint32(ctx, &handle, argv[0]) < 0 || JS_ToFloat64(ctx, &max, argv[1]) < 0)
        return JS_EXCEPTION;
    if (!(max >= 1)) /* also NaN */
        return JS_NewArrayBufferCopy(ctx, NULL, 0);
    uint32_t want = max > BODY_CHUNK ? BODY_CHUNK : (uint32_t)max;
    if (!grow(ctx, &io, want))
        return JS_EXCEPTION;
    int32_t n = wr_fetch_body_read(handle, io.p, want);
    if (n < 0)
        return JS_NewInt32(ctx, n);
    return JS_NewArrayBufferCopy(ctx, io.p, (size_t)n);
}

static JSValue js_fetch_close(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    uint32_t handle;
    if (outside(ctx, "fetchClose") || JS_ToUint32(ctx, &handle, argv[0]) < 0)
        return JS_EXCEPTION;
    return JS_NewInt32(ctx, wr_fetch_close(handle));
}

/* kv_getter calls kv_get or kv_list with the key or prefix v: the value as
   bytes (kv_get) or the list of keys (kv_list), or an error code. */
static JSValue kv_getter(JSContext *ctx, const char *name, JSValueConst v, int is_list)
{
    const char *k;
    size_t len;
    int32_t n;
    if (outside(ctx, name))
        return JS_EXCEPTION;
    int r = key(ctx, v, &k, &len);
    if (r < 0)
        return JS_EXCEPTION;
    if (r > 0 || len > UINT32_MAX) {
        JS_FreeCString(ctx, k);
        return JS_NewInt32(ctx, ERR_INVALID);
    }
    struct getter g = {is_list ? wr_kv_list : wr_kv_get, (const uint8_t *)k, (uint32_t)len, 0};
    r = sget(ctx, &g, &n);
    JS_FreeCString(ctx, k);
    if (r < 0)
        return JS_EXCEPTION;
    if (n < 0)
        return JS_NewInt32(ctx, n);
    return is_list ? list(ctx, (uint32_t)n, ITEM_UTF8) : JS_NewArrayBufferCopy(ctx, io.p, (size_t)n);
}

static JSValue js_kv_get(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    return kv_getter(ctx, "kvGet", argv[0], 0);
}

static JSValue js_kv_list(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    return kv_getter(ctx, "kvList", argv[0], 1);
}

static JSValue js_kv_set(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    double ttl;
    const char *k, *cstr;
    const uint8_t *value;
    size_t key_len, value_len;
    if (outside(ctx, "kvSet") || JS_ToFloat64(ctx, &ttl, argv[2]) < 0)
        return JS_EXCEPTION;
    int r = key(ctx, argv[0], &k, &key_len);
    if (r < 0)
        return JS_EXCEPTION;
    if (payload(ctx, argv[1], 0, &cstr, &value, &value_len) < 0) {
        JS_FreeCString(ctx, k);
        return JS_EXCEPTION;
    }
    int32_t rc = ERR_INVALID; /* a lone surrogate, a ttl that is no u32 integer */
    if (r == 0 && ttl >= 0 && ttl <= INT32_MAX && ttl == (int32_t)ttl && key_len <= UINT32_MAX && value_len <= UINT32_MAX)
        rc = wr_kv_set((const uint8_t *)k, (uint32_t)key_len, value, (uint32_t)value_len, (uint32_t)ttl);
    JS_FreeCString(ctx, cstr);
    JS_FreeCString(ctx, k);
    return JS_NewInt32(ctx, rc);
}

static JSValue js_kv_delete(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    const char *k;
    size_t len;
    if (outside(ctx, "kvDelete"))
        return JS_EXCEPTION;
    int r = key(ctx, argv[0], &k, &len);
    if (r < 0)
        return JS_EXCEPTION;
    int32_t rc = r > 0 || len > UINT32_MAX ? ERR_INVALID : wr_kv_delete((const uint8_t *)k, (uint32_t)len);
    JS_FreeCString(ctx, k);
    return JS_NewInt32(ctx, rc);
}

static JSValue js_cache_revalidate(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    const char *p;
    size_t len;
    if (outside(ctx, "cacheRevalidate"))
        return JS_EXCEPTION;
    int r = key(ctx, argv[0], &p, &len);
    if (r < 0)
        return JS_EXCEPTION;
    int32_t rc = r > 0 || len > UINT32_MAX ? ERR_INVALID : wr_cache_revalidate((const uint8_t *)p, (uint32_t)len);
    JS_FreeCString(ctx, p);
    return JS_NewInt32(ctx, rc);
}

/* The largest integer a double holds exactly, and its neighbours all. */
#define MAX_SAFE_INTEGER 9007199254740991.0

/* js_kv_incr returns the new value as a BigInt, or an error code as a
   Number: the value is an i64, and a negative one is no error. by is a
   Number that is a safe integer or a BigInt in the i64 range (else a
   RangeError), so no conversion here is undefined behaviour. */
static JSValue js_kv_incr(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    int64_t v;
    if (outside(ctx, "kvIncr"))
        return JS_EXCEPTION;
    if (JS_IsBigInt(ctx, argv[1])) {
        if (JS_ToBigInt64(ctx, &v, argv[1]) < 0)
            return JS_EXCEPTION;
        JSValue back = JS_NewBigInt64(ctx, v); /* ToBigInt64 wraps: check it did not */
        if (JS_IsException(back))
            return back;
        int same = JS_StrictEq(ctx, back, argv[1]);
        JS_FreeValue(ctx, back);
        if (!same)
            return JS_ThrowRangeError(ctx, "kvIncr: the amount is outside the 64-bit integer range");
    } else if (JS_IsNumber(argv[1])) {
        double d;
        JS_ToFloat64(ctx, &d, argv[1]);
        if (!(d >= -MAX_SAFE_INTEGER && d <= MAX_SAFE_INTEGER) || d != (double)(int64_t)d)
            return JS_ThrowRangeError(ctx, "kvIncr: the amount is not a safe integer (use a BigInt beyond 2^53)");
        v = (int64_t)d;
    } else {
        return JS_ThrowTypeError(ctx, "kvIncr: the amount is not a number or a BigInt");
    }
    const char *k;
    size_t len;
    int r = key(ctx, argv[0], &k, &len);
    if (r < 0)
        return JS_EXCEPTION;
    int32_t rc = r > 0 || len > UINT32_MAX ? ERR_INVALID : wr_kv_incr((const uint8_t *)k, (uint32_t)len, &v);
    JS_FreeCString(ctx, k);
    return rc < 0 ? JS_NewInt32(ctx, rc) : JS_NewBigInt64(ctx, v);
}

/* wipe zeroes p[0..n), a store the compiler may not drop. */
static void wipe(void *p, size_t n)
{
    memset(p, 0, n);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

/*
 * js_env returns the instance's environment, read now with WASI's
 * environ_sizes_get and environ_get, as an object with a null prototype
 * (names and values UTF-8, invalid bytes as U+FFFD; an entry without '='
 * left out); null outside a request. Not libc's environ or getenv: libc
 * reads the environment once and keeps it, and the environment must never
 * be in memory while a snapshot is taken (it may hold secrets): outside a
 * request it is never read, and the copy read here is wiped.
 */
static JSValue js_env(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    if (!in_request)
        return JS_NULL;
    __wasi_size_t count, size;
    if (__wasi_environ_sizes_get(&count, &size) != 0)
        return JS_ThrowInternalError(ctx, "environ_sizes_get failed");
    uint8_t **ptrs = count < SIZE_MAX / sizeof *ptrs ? malloc(((size_t)count + 1) * sizeof *ptrs) : NULL;
    uint8_t *buf = malloc((size_t)size + 1);
    JSValue obj = JS_EXCEPTION;
    if (!ptrs || !buf) {
        JS_ThrowOutOfMemory(ctx);
        goto done;
    }
    if (__wasi_environ_get(ptrs, buf) != 0) {
        JS_ThrowInternalError(ctx, "environ_get failed");
        goto done;
    }
    buf[size] = 0;
    obj = JS_NewObjectProto(ctx, JS_NULL);
    for (__wasi_size_t i = 0; i < count && !JS_IsException(obj); i++) {
        const uint8_t *e = ptrs[i];
        if (e < buf || e >= buf + size)
            continue; /* not the host's to give */
        const uint8_t *end = memchr(e, 0, (size_t)(buf + size - e) + 1); /* buf[size] is 0 */
        size_t n = (size_t)(end - e);
        const uint8_t *eq = memchr(e, '=', n);
        if (!eq)
            continue;
        size_t kn = (size_t)(eq - e), vn = n - kn - 1;
        if (!grow(ctx, &conv, 3 * n)) {
            JS_FreeValue(ctx, obj);
            obj = JS_EXCEPTION;
            break;
        }
        size_t kl = utf8_sanitize(e, kn, conv.p);
        JSAtom name = JS_NewAtomLen(ctx, (const char *)conv.p, kl);
        size_t vl = utf8_sanitize(eq + 1, vn, conv.p);
        JSValue value = JS_NewStringLen(ctx, (const char *)conv.p, vl);
        wipe(conv.p, 3 * n);
        if (name == JS_ATOM_NULL || JS_IsException(value) ||
            JS_DefinePropertyValue(ctx, obj, name, value, JS_PROP_C_W_E) < 0) {
            if (name == JS_ATOM_NULL || JS_IsException(value))
                JS_FreeValue(ctx, value);
            JS_FreeValue(ctx, obj);
            obj = JS_EXCEPTION;
        }
        if (name != JS_ATOM_NULL)
            JS_FreeAtom(ctx, name);
    }
done:
    if (buf)
        wipe(buf, (size_t)size + 1);
    free(buf);
    free(ptrs);
    return obj;
}

static JSValue js_register(JSContext *ctx, JSValueConst this, int argc, JSValueConst *argv)
{
    /* The first four are required; io and ready go together or not at all. */
    static const char *const names[] = {"dispatch", "nextTimer", "runTimers", "report", "io", "ready"};
    JSValue v[6];
    int n = 0;
    for (; n < 6; n++) {
        v[n] = JS_GetPropertyStr(ctx, argv[0], names[n]);
        if (JS_IsException(v[n]))
            goto fail;
        if (!JS_IsFunction(ctx, v[n]) && (n < 4 || !JS_IsUndefined(v[n]))) {
            JS_ThrowTypeError(ctx, "register: hooks.%s is not a function", names[n]);
            n++;
            goto fail;
        }
    }
    if (JS_IsUndefined(v[4]) != JS_IsUndefined(v[5])) {
        JS_ThrowTypeError(ctx, "register: hooks.io and hooks.ready go together");
        goto fail;
    }
    JS_FreeValue(ctx, hooks.dispatch);
    JS_FreeValue(ctx, hooks.next_timer);
    JS_FreeValue(ctx, hooks.run_timers);
    JS_FreeValue(ctx, hooks.report);
    JS_FreeValue(ctx, hooks.io);
    JS_FreeValue(ctx, hooks.ready);
    hooks = (struct hooks){v[0], v[1], v[2], v[3], v[4], v[5]};
    return JS_UNDEFINED;
fail:
    for (int j = 0; j < n; j++)
        JS_FreeValue(ctx, v[j]);
    return JS_EXCEPTION;
}

static const JSCFunctionListEntry host_funcs[] = {
    JS_CFUNC_DEF("method", 0, js_method),
    JS_CFUNC_DEF("path", 0, js_path),
    JS_CFUNC_DEF("query", 0, js_query),
    JS_CFUNC_DEF("protocol", 0, js_protocol),
    JS_CFUNC_DEF("remoteAddr", 0, js_remote_addr),
    JS_CFUNC_DEF("headerNames", 0, js_header_names),
    JS_CFUNC_DEF("headerValues", 1, js_header_values),
    JS_CFUNC_DEF("paramNames", 0, js_param_names),
    JS_CFUNC_DEF("paramValues", 1, js_param_values),
    JS_CFUNC_DEF("bodyRead", 1, js_body_read),
    JS_CFUNC_DEF("setStatus", 1, js_set_status),
    JS_CFUNC_DEF("headerSet", 2, js_header_set),
    JS_CFUNC_DEF("headerAdd", 2, js_header_add),
    JS_CFUNC_DEF("headerDel", 1, js_header_del),
    JS_CFUNC_DEF("bodyWrite", 1, js_body_write),
    JS_CFUNC_DEF("flush", 0, js_flush),
    JS_CFUNC_DEF("randomFill", 1, js_random_fill),
    JS_CFUNC_DEF("hrtime", 0, js_hrtime),
    JS_CFUNC_DEF("write", 2, js_write),
    JS_CFUNC_DEF("utf8Encode", 1, js_utf8_encode),
    JS_CFUNC_DEF("utf8Decode", 2, js_utf8_decode),
    JS_CFUNC_DEF("digest", 2, js_digest),
    JS_CFUNC_DEF("errorMessage", 0, js_error_message),
    JS_CFUNC_DEF("fetchStart", 3, js_fetch_start),
    JS_CFUNC_DEF("fetchPoll", 2, js_fetch_poll),
    JS_CFUNC_DEF("fetchHead", 1, js_fetch_head),
    JS_CFUNC_DEF("fetchBodyRead", 2, js_fetch_body_read),
    JS_CFUNC_DEF("fetchClose", 1, js_fetch_close),
    JS_CFUNC_DEF("kvGet", 1, js_kv_get),
    JS_CFUNC_DEF("kvSet", 3, js_kv_set),
    JS_CFUNC_DEF("kvDelete", 1, js_kv_delete),
    JS_CFUNC_DEF("cacheRevalidate", 1, js_cache_revalidate),
    JS_CFUNC_DEF("kvList", 1, js_kv_list),
    JS_CFUNC_DEF("kvIncr", 2, js_kv_incr),
    JS_CFUNC_DEF("env", 0, js_env),
    JS_CFUNC_DEF("register", 1, js_register),
};

/* probe finds the class ids bytes() tests and DataView's original getters. */
static int probe(JSContext *ctx)
{
    static const char src[] =
        "(() => { const ab = new ArrayBuffer(0), dv = Object.getOwnPropertyDescriptors(DataView.prototype);"
        " return [ab, new Uint8ClampedArray(0), new Float64Array(0), new DataView(ab),"
        " dv.buffer.get, dv.byteOffset.get, dv.byteLength.get]; })()";
    JSValue arr = JS_Eval(ctx, src, sizeof src - 1, "<wasmroute engine>", JS_EVAL_TYPE_GLOBAL);
    JSValue v[7];
    if (JS_IsException(arr))
        return -1;
    for (int i = 0; i < 7; i++)
        v[i] = JS_GetPropertyUint32(ctx, arr, (uint32_t)i);
    JS_FreeValue(ctx, arr);
    class_array_buffer = JS_GetClassID(v[0]);
    class_typed_first = JS_GetClassID(v[1]);
    class_typed_last = JS_GetClassID(v[2]);
    class_data_view = JS_GetClassID(v[3]);
    dv_buffer = v[4], dv_offset = v[5], dv_length = v[6];
    for (int i = 0; i < 4; i++)
        JS_FreeValue(ctx, v[i]);
    return 0;
}

int host_install(JSContext *ctx)
{
    if (probe(ctx) < 0)
        return -1;
    JSValue host = JS_NewObject(ctx);
    if (JS_IsException(host))
        return -1;
    JS_SetPropertyFunctionList(ctx, host, host_funcs, sizeof host_funcs / sizeof host_funcs[0]);
    JSValue global = JS_GetGlobalObject(ctx);
    int r = JS_DefinePropertyValueStr(ctx, global, "__wasmroute_host", host, JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
    JS_FreeValue(ctx, global);
    return r < 0 ? -1 : 0;
}
