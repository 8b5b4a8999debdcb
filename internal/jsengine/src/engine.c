/*
 * wasmroute's JavaScript engine: QuickJS as a route module. _initialize
 * evaluates the init input (stdin); each method export dispatches one request
 * to the platform's hooks and runs the event loop until it is served. The
 * contract is CONTRACT.md; the host functions are abi/ABI.md's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#include "engine.h"

/*
 * The shadow stack is 1 MiB (build.sh links with -z stack-size=1048576 and
 * --stack-first, so an overflow traps below address 0 instead of writing
 * over data). QuickJS checks its depth against this much of it before every
 * JS call, parse and regexp step; the rest is room for the C frames between
 * two checks (natives, the GC, the printf of an error).
 */
#define JS_STACK_SIZE (768 * 1024)

/* The largest sleep of one poll_oneoff: a day. */
#define MAX_SLEEP_MS (24.0 * 3600 * 1000)

static JSRuntime *rt;
static JSContext *ctx;

/* seeded is 0 in the snapshot taken after _initialize: the first request of
   each instance reseeds Math.random. */
static int seeded;

/* The method names dispatch gets, in the order of the exports below. */
static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
static JSValue method_values[sizeof methods / sizeof methods[0]];

/* Promises rejected without a handler, not yet reported (CONTRACT.md). */
struct rejection {
    JSValue promise, reason;
};
static struct rejection *rejections;
static size_t n_rejections, cap_rejections;

void write_fd(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        __wasi_ciovec_t iov = {b, n};
        __wasi_size_t w;
        if (__wasi_fd_write((__wasi_fd_t)fd, &iov, 1, &w) != 0 || w == 0)
            return;
        b += w, n -= w;
    }
}

static void write_str(int fd, const char *s) { write_fd(fd, s, strlen(s)); }

/* die writes msg and a newline to stderr and traps: the runtime answers 500,
   or reports "initialization failed" with this output. */
__attribute__((noreturn)) static void die(const char *msg)
{
    write_str(2, msg);
    write_str(2, "\n");
    __builtin_trap();
}

/* print_error writes prefix, e and its stack (if e is an Error) to stderr. */
static void print_error(const char *prefix, JSValueConst e)
{
    const char *s = JS_ToCString(ctx, e);
    write_str(2, prefix);
    if (s) {
        write_str(2, s);
        JS_FreeCString(ctx, s);
    } else {
        JS_FreeValue(ctx, JS_GetException(ctx));
        write_str(2, "(an exception that cannot be printed)");
    }
    if (JS_IsError(ctx, e)) {
        JSValue stack = JS_GetPropertyStr(ctx, e, "stack");
        const char *st = JS_IsString(stack) ? JS_ToCString(ctx, stack) : NULL;
        if (st && *st) {
            write_str(2, "\n");
            write_str(2, st);
        }
        JS_FreeCString(ctx, st);
        JS_FreeValue(ctx, stack);
        JS_FreeValue(ctx, JS_GetException(ctx)); /* a throwing getter */
    }
    write_str(2, "\n");
}

/* report hands error to the platform's report hook, or, without one or when
   it throws, prints it. */
static void report(const char *kind, JSValueConst error)
{
    if (JS_IsFunction(ctx, hooks.report)) {
        JSValue args[2] = {JS_NewString(ctx, kind), JS_DupValue(ctx, error)};
        JSValue r = JS_Call(ctx, hooks.report, JS_UNDEFINED, 2, (JSValueConst *)args);
        JS_FreeValue(ctx, args[0]);
        JS_FreeValue(ctx, args[1]);
        if (!JS_IsException(r)) {
            JS_FreeValue(ctx, r);
            return;
        }
        JSValue e = JS_GetException(ctx);
        print_error("report threw: ", e);
        JS_FreeValue(ctx, e);
    }
    write_str(2, kind);
    print_error(": ", error);
}

/* die_exception reports the pending exception as an initialization error
   and traps. */
__attribute__((noreturn)) static void die_init_exception(void)
{
    JSValue e = JS_GetException(ctx);
    report("initialization", e);
    __builtin_trap();
}

static void track_rejection(JSContext *c, JSValueConst promise, JSValueConst reason, JS_BOOL is_handled, void *opaque)
{
    (void)c, (void)opaque;
    if (is_handled) {
        for (size_t i = 0; i < n_rejections; i++) {
            if (JS_VALUE_GET_PTR(rejections[i].promise) == JS_VALUE_GET_PTR(promise)) {
                JS_FreeValue(ctx, rejections[i].promise);
                JS_FreeValue(ctx, rejections[i].reason);
                rejections[i] = rejections[--n_rejections];
                return;
            }
        }
        return;
    }
    if (n_rejections == cap_rejections) {
        size_t cap = cap_rejections ? 2 * cap_rejections : 8;
        struct rejection *r = realloc(rejections, cap * sizeof *r);
        if (!r)
            return; /* out of memory: this one goes unreported */
        rejections = r, cap_rejections = cap;
    }
    rejections[n_rejections++] = (struct rejection){JS_DupValue(ctx, promise), JS_DupValue(ctx, reason)};
}

/* report_rejections reports the rejections still unhandled once the jobs ran,
   except that of promise self (the one the engine itself waits for). */
static void report_rejections(JSValueConst self)
{
    while (n_rejections > 0) {
        struct rejection r = rejections[--n_rejections];
        if (JS_VALUE_GET_PTR(r.promise) != JS_VALUE_GET_PTR(self))
            report("unhandled rejection", r.reason); /* may track more */
        JS_FreeValue(ctx, r.promise);
        JS_FreeValue(ctx, r.reason);
    }
}

static void run_jobs(void)
{
    JSContext *c;
    int r;
    while ((r = JS_ExecutePendingJob(rt, &c)) != 0) {
        if (r < 0) {
            JSValue e = JS_GetException(c);
            print_error("a job failed: ", e);
            JS_FreeValue(ctx, e);
        }
    }
}

/* sleep_ms sleeps on the monotonic clock; the host ends a request that must
   stop here. */
static void sleep_ms(double ms)
{
    if (ms > MAX_SLEEP_MS)
        ms = MAX_SLEEP_MS;
    __wasi_subscription_t sub = {
        .userdata = 0,
        .u = {.tag = __WASI_EVENTTYPE_CLOCK,
              .u.clock = {.id = __WASI_CLOCKID_MONOTONIC, .timeout = (__wasi_timestamp_t)(ms * 1e6)}},
    };
    __wasi_event_t ev;
    __wasi_size_t n;
    (void)__wasi_poll_oneoff(&sub, &ev, 1, &n);
}

/* call_hook calls hook (no argument) and stores its result as a number in
   *d unless d is NULL; it traps, naming what, if that throws. */
static void call_hook(JSValueConst hook, const char *what, double *d)
{
    JSValue v = JS_Call(ctx, hook, JS_UNDEFINED, 0, NULL);
    if (JS_IsException(v) || (d && JS_ToFloat64(ctx, d, v) < 0)) {
        JSValue e = JS_GetException(ctx);
        print_error(what, e);
        __builtin_trap();
    }
    JS_FreeValue(ctx, v);
}

/* The handles the io hook gave, for fetch_poll; at most MAX_WAIT of them. */
#define MAX_WAIT 1024
static uint32_t waiting[MAX_WAIT];

/* pending_io calls the io hook, if the platform registered one, and keeps
   the handles it returns (an array of numbers) in waiting: their count. It
   traps if the hook throws or returns anything else. */
static uint32_t pending_io(void)
{
    if (!JS_IsFunction(ctx, hooks.io))
        return 0;
    JSValue v = JS_Call(ctx, hooks.io, JS_UNDEFINED, 0, NULL);
    uint32_t n = 0;
    int ok = !JS_IsException(v) && JS_IsArray(ctx, v) > 0;
    if (ok) {
        JSValue l = JS_GetPropertyStr(ctx, v, "length");
        ok = !JS_IsException(l) && JS_ToUint32(ctx, &n, l) == 0;
    }
    if (n > MAX_WAIT)
        n = MAX_WAIT; /* the first ones; the others are polled once these are done */
    for (uint32_t i = 0; ok && i < n; i++) {
        JSValue h = JS_GetPropertyUint32(ctx, v, i);
        ok = !JS_IsException(h) && JS_IsNumber(h) && JS_ToUint32(ctx, &waiting[i], h) == 0;
        JS_FreeValue(ctx, h);
    }
    JS_FreeValue(ctx, v);
    if (!ok) {
        if (!JS_HasException(ctx))
            die("io did not return an array of handles (numbers)");
        JSValue e = JS_GetException(ctx);
        print_error("io threw: ", e);
        __builtin_trap();
    }
    return n;
}

/* ready tells the platform that handle is ready; it traps if that throws. */
static void ready(uint32_t handle)
{
    JSValue h = JS_NewUint32(ctx, handle);
    JSValue v = JS_Call(ctx, hooks.ready, JS_UNDEFINED, 1, (JSValueConst *)&h);
    if (JS_IsException(v)) {
        JSValue e = JS_GetException(ctx);
        print_error("ready threw: ", e);
        __builtin_trap();
    }
    JS_FreeValue(ctx, v);
}

/*
 * settle runs the event loop (CONTRACT.md, "A request") until p settles and
 * returns its state; never_msg is what it dies with when nothing can
 * settle p any more. A p that is no promise counts as fulfilled.
 */
static JSPromiseStateEnum settle(JSValueConst p, const char *never_msg)
{
    for (;;) {
        run_jobs();
        report_rejections(p);
        int state = JS_PromiseState(ctx, p);
        if (state < 0)
            return JS_PROMISE_FULFILLED;
        if (state != JS_PROMISE_PENDING)
            return state;
        if (!JS_IsFunction(ctx, hooks.next_timer))
            die(never_msg);
        double t;
        call_hook(hooks.next_timer, "nextTimer threw: ", &t);
        uint32_t n = pending_io();
        if (n == 0) {
            if (!(t >= 0))
                die(never_msg);
            if (t > 0)
                sleep_ms(t);
            call_hook(hooks.run_timers, "runTimers threw: ", NULL);
            continue;
        }
        /* Wait for a handle or the next timer, whichever comes first. */
        int32_t timeout = !(t >= 0) ? -1 : t >= MAX_SLEEP_MS ? (int32_t)MAX_SLEEP_MS : (int32_t)t + ((int32_t)t < t);
        int32_t r = wr_fetch_poll(waiting, n, timeout);
        if (r >= 0 && (uint32_t)r < n) {
            ready(waiting[r]);
        } else if (r != ERR_PENDING) {
            char msg[80];
            snprintf(msg, sizeof msg, "fetch_poll of the handles io returned failed: error %d", (int)r);
            die(msg);
        }
        if (t >= 0)
            call_hook(hooks.run_timers, "runTimers threw: ", NULL);
    }
}

/* The init input (CONTRACT.md, "Initialization"). */

enum { KIND_SCRIPT = 1, KIND_MODULE = 2 };

/* read_stdin reads fd 0 to EOF into a buffer with one spare byte at the
   end, so that each source can be NUL-terminated in place for JS_Eval. */
static uint8_t *read_stdin(size_t *len)
{
    size_t n = 0, cap = 64 * 1024;
    uint8_t *b = malloc(cap);
    if (!b)
        die("init input: out of memory");
    for (;;) {
        if (cap - n < 2) {
            uint8_t *nb = cap <= SIZE_MAX / 2 ? realloc(b, cap * 2) : NULL;
            if (!nb)
                die("init input: out of memory");
            b = nb, cap *= 2;
        }
        __wasi_iovec_t iov = {b + n, cap - n - 1};
        __wasi_size_t r;
        __wasi_errno_t err = __wasi_fd_read(0, &iov, 1, &r);
        if (err != 0) {
            char msg[64];
            snprintf(msg, sizeof msg, "init input: reading stdin: WASI errno %d", err);
            die(msg);
        }
        if (r == 0)
            break;
        n += r;
    }
    *len = n;
    return b;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

__attribute__((noreturn)) static void die_record(unsigned index, size_t offset, const char *what)
{
    char msg[200];
    snprintf(msg, sizeof msg, "init input: record %u (at byte %zu): %s", index, offset, what);
    die(msg);
}

static void eval_record(uint32_t kind, const char *name, const uint8_t *src, size_t len)
{
    int type = kind == KIND_SCRIPT ? JS_EVAL_TYPE_GLOBAL : JS_EVAL_TYPE_MODULE;
    JSValue v = JS_Eval(ctx, (const char *)src, len, name, type);
    if (JS_IsException(v))
        die_init_exception();
    if (kind == KIND_MODULE) {
        char never[300];
        snprintf(never, sizeof never, "%.200s: the module's evaluation never settled: no pending timer or I/O", name);
        if (settle(v, never) == JS_PROMISE_REJECTED) {
            JSValue e = JS_PromiseResult(ctx, v);
            report("initialization", e);
            __builtin_trap();
        }
    } else {
        run_jobs();
        report_rejections(JS_UNDEFINED);
    }
    JS_FreeValue(ctx, v);
}

static void eval_input(void)
{
    size_t n, off = 0;
    uint8_t *in = read_stdin(&n);
    for (unsigned i = 1; off < n; i++) {
        size_t start = off;
        if (n - off < 8)
            die_record(i, start, "truncated header");
        uint32_t kind = le32(in + off), name_len = le32(in + off + 4);
        off += 8;
        if (kind != KIND_SCRIPT && kind != KIND_MODULE) {
            char what[64];
            snprintf(what, sizeof what, "unknown kind %u", kind);
            die_record(i, start, what);
        }
        if (name_len > n - off)
            die_record(i, start, "the name's length goes past the end of the input");
        const uint8_t *name = in + off;
        off += name_len;
        if (n - off < 4)
            die_record(i, start, "truncated header");
        uint32_t src_len = le32(in + off);
        off += 4;
        if (src_len > n - off)
            die_record(i, start, "the source's length goes past the end of the input");
        uint8_t *src = in + off;
        off += src_len;

        char *cname = malloc((size_t)name_len + 1);
        if (!cname)
            die("init input: out of memory");
        memcpy(cname, name, name_len);
        cname[name_len] = 0;
        uint8_t saved = src[src_len]; /* the next record's first byte, or the spare one */
        src[src_len] = 0;
        eval_record(kind, cname, src, src_len);
        src[src_len] = saved;
        free(cname);
    }
    free(in);
}

extern void __wasm_call_ctors(void);

__attribute__((export_name("_initialize"))) void _initialize(void)
{
    if (rt)
        return; /* once */
    __wasm_call_ctors();
    (void)__wasi_sched_yield(); /* the import the instrumenter's loops call */

    rt = JS_NewRuntime();
    if (!rt || !(ctx = JS_NewContext(rt)))
        die("initialization: out of memory creating the JS runtime");
    JS_SetMaxStackSize(rt, JS_STACK_SIZE);
    /* The platform's functions keep no source text (their toString gives a
       placeholder): it would sit in every route's snapshot, once per level
       of nesting. Line and column numbers stay, for stacks. wasmroute_load
       turns this off for the route's own code. */
    JS_SetStripInfo(rt, JS_STRIP_SOURCE);
    JS_SetHostPromiseRejectionTracker(rt, track_rejection, NULL);
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        method_values[i] = JS_NewString(ctx, methods[i]);
        if (JS_IsException(method_values[i]))
            die_init_exception();
    }
    if (host_install(ctx) < 0)
        die_init_exception();

    eval_input();
    JS_RunGC(rt);
}

/*
 * wasmroute_load evaluates more init input, read from stdin like
 * _initialize's, in an instance made from the snapshot taken after
 * _initialize: the runtime evaluates the platform once, snapshots it, and
 * loads each route's bundle on top of that snapshot (CONTRACT.md).
 */
__attribute__((export_name("wasmroute_load"))) void wasmroute_load(void)
{
    if (!rt)
        die("wasmroute_load: _initialize has not run");
    JS_SetStripInfo(rt, 0); /* route code keeps its source, for toString */
    JS_UpdateStackTop(rt);
    eval_input();
    JS_RunGC(rt);
}

/* serve runs one request (CONTRACT.md, "A request"). */
static void serve(int method)
{
    if (!seeded) {
        uint64_t seed = 0;
        (void)__wasi_random_get((uint8_t *)&seed, sizeof seed);
        JS_SetRandomSeed(ctx, seed);
        seeded = 1;
    }
    JS_UpdateStackTop(rt); /* the method's frame is the stack's top */
    if (!JS_IsFunction(ctx, hooks.dispatch))
        die("no dispatch hook: the platform script did not call register");
    in_request = 1;
    JSValue p = JS_Call(ctx, hooks.dispatch, JS_UNDEFINED, 1, (JSValueConst *)&method_values[method]);
    if (JS_IsException(p)) {
        JSValue e = JS_GetException(ctx);
        print_error("dispatch threw: ", e);
        __builtin_trap();
    }
    if (settle(p, "handler never settled: no pending timer or I/O") == JS_PROMISE_REJECTED) {
        JSValue e = JS_PromiseResult(ctx, p);
        print_error("dispatch rejected: ", e);
        __builtin_trap();
    }
    JS_FreeValue(ctx, p);
    in_request = 0;
}

#define METHOD(name, i) \
    __attribute__((export_name(#name))) void method_##name(void) { serve(i); }
METHOD(GET, 0)
METHOD(POST, 1)
METHOD(PUT, 2)
METHOD(PATCH, 3)
METHOD(DELETE, 4)
METHOD(HEAD, 5)
METHOD(OPTIONS, 6)
