/*
 * The engine's glue around QuickJS: what engine.c (initialization, the event
 * loop, the exports) and host.c (the host object) share. See CONTRACT.md.
 */
#ifndef WASMROUTE_ENGINE_H
#define WASMROUTE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "quickjs.h"

/* The wasmroute_v1 host functions (abi/ABI.md). */
#define WR_IMPORT(name) __attribute__((import_module("wasmroute_v1"), import_name(name)))
WR_IMPORT("method") uint32_t wr_method(uint8_t *buf, uint32_t buf_len);
WR_IMPORT("path") uint32_t wr_path(uint8_t *buf, uint32_t buf_len);
WR_IMPORT("query") uint32_t wr_query(uint8_t *buf, uint32_t buf_len);
WR_IMPORT("protocol") uint32_t wr_protocol(uint8_t *buf, uint32_t buf_len);
WR_IMPORT("remote_addr") uint32_t wr_remote_addr(uint8_t *buf, uint32_t buf_len);
WR_IMPORT("header_names") uint32_t wr_header_names(uint8_t *buf, uint32_t buf_len);
WR_IMPORT("header_values") uint32_t wr_header_values(const uint8_t *name, uint32_t name_len, uint8_t *buf, uint32_t buf_len);
WR_IMPORT("param_names") uint32_t wr_param_names(uint8_t *buf, uint32_t buf_len);
WR_IMPORT("param_values") uint32_t wr_param_values(const uint8_t *name, uint32_t name_len, uint8_t *buf, uint32_t buf_len);
WR_IMPORT("body_read") int32_t wr_body_read(uint8_t *buf, uint32_t buf_len);
WR_IMPORT("set_status") int32_t wr_set_status(int32_t code);
WR_IMPORT("header_set") int32_t wr_header_set(const uint8_t *name, uint32_t name_len, const uint8_t *value, uint32_t value_len);
WR_IMPORT("header_add") int32_t wr_header_add(const uint8_t *name, uint32_t name_len, const uint8_t *value, uint32_t value_len);
WR_IMPORT("header_del") int32_t wr_header_del(const uint8_t *name, uint32_t name_len);
WR_IMPORT("body_write") int32_t wr_body_write(const uint8_t *buf, uint32_t buf_len);
WR_IMPORT("flush") int32_t wr_flush(void);
WR_IMPORT("error_message") uint32_t wr_error_message(uint8_t *buf, uint32_t buf_len);
WR_IMPORT("fetch_start") int32_t wr_fetch_start(const uint8_t *req, uint32_t req_len, const uint8_t *body, uint32_t body_len, uint32_t flags);
WR_IMPORT("fetch_poll") int32_t wr_fetch_poll(const uint32_t *handles, uint32_t count, int32_t timeout_ms);
WR_IMPORT("fetch_head") int32_t wr_fetch_head(uint32_t handle, uint8_t *buf, uint32_t buf_len);
WR_IMPORT("fetch_body_read") int32_t wr_fetch_body_read(uint32_t handle, uint8_t *buf, uint32_t buf_len);
WR_IMPORT("fetch_close") int32_t wr_fetch_close(uint32_t handle);
WR_IMPORT("kv_get") int32_t wr_kv_get(const uint8_t *key, uint32_t key_len, uint8_t *buf, uint32_t buf_len);
WR_IMPORT("kv_set") int32_t wr_kv_set(const uint8_t *key, uint32_t key_len, const uint8_t *value, uint32_t value_len, uint32_t ttl_seconds);
WR_IMPORT("kv_delete") int32_t wr_kv_delete(const uint8_t *key, uint32_t key_len);
WR_IMPORT("kv_list") int32_t wr_kv_list(const uint8_t *prefix, uint32_t prefix_len, uint8_t *buf, uint32_t buf_len);
WR_IMPORT("kv_incr") int32_t wr_kv_incr(const uint8_t *key, uint32_t key_len, int64_t *inout);
WR_IMPORT("cache_revalidate") int32_t wr_cache_revalidate(const uint8_t *path, uint32_t path_len);

/* ABI error codes the glue tests for (abi/ABI.md). */
enum { ERR_INVALID = -1, ERR_PENDING = -8 };

/* Added by patches/0002-random-seed.patch. */
void JS_SetRandomSeed(JSContext *ctx, uint64_t seed);

/* The hooks the platform registers (CONTRACT.md), JS_UNDEFINED until then;
   io and ready are optional (both JS_UNDEFINED). */
struct hooks {
    JSValue dispatch, next_timer, run_timers, report, io, ready;
};
extern struct hooks hooks;

/* in_request is 1 while a method export serves a request, 0 during
   initialization (and so in every snapshot). The natives that reach the
   request's services or the environment check it. */
extern int in_request;

/* host_install defines globalThis.__wasmroute_host; -1 on an exception. */
int host_install(JSContext *ctx);

/* write_fd writes p[0..n) to fd (1 or 2), whole. */
void write_fd(int fd, const void *p, size_t n);

#endif
