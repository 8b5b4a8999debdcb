package host

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/internal/kv"
)

// The kv_* functions call Exchange.KV, the project's namespace. Each
// checks every range it is given first (a range outside memory traps
// before the store is asked anything), then the key, then that there is a
// store. A failure returns an abi code and leaves its explanation for
// error_message.

// errNoStore is the message of a kv_* call on an Exchange without KV.
var errNoStore = errors.New("no key-value store is configured")

// kvGetFn supports abi.FuncKVGet: it writes the value of a key of the
// project's namespace to a guest buffer, as a getter.
//
// # Parameters
//
//   - key, key_len: the key in memory, 1 to kv.MaxKey bytes of UTF-8
//   - buf, buf_len: the buffer to write the value to, as for methodFn
//
// Result (len_or_err): the value's length, the value written only when it
// fits; abi.ErrNotFound for a missing or expired key; abi.ErrInvalid for a
// bad key; abi.ErrFailed when the store fails or there is none;
// abi.ErrTooLarge for a value of 2 GiB or more. A value that did not fit is
// kept, so that the guest's next kv_get of the same key (with a buffer
// large enough) gets that value, whatever the store holds by then; a call
// that fits reads the store.
//
// For example, with "n" holding "42", key=1, key_len=1, buf=2 and
// buf_len=8, this writes the below and returns 2:
//
//	          key_len len = 2
//	          +---+  +--------+
//	          |   |  |        |
//	[]byte{?, 'n', '4', '2', ?, ?}
//	    key --^  buf --^
func kvGetFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncKVGet)
	key := e.view(mod, abi.FuncKVGet, "key", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	buf := e.view(mod, abi.FuncKVGet, "buf", api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
	value, code := e.kvGet.get(key, uint32(len(buf)), func() ([]byte, int32) {
		if code := e.kvReady("get", key); code != abi.OK {
			return nil, code
		}
		ctx := e.serviceContext(ctx)
		v, err := e.KV.Get(ctx, string(key))
		if err != nil {
			return nil, e.fail(kvCode(err), err)
		}
		return v, abi.OK
	})
	stack[0] = e.kvResult("get", key, buf, value, code)
}

// kvSetFn supports abi.FuncKVSet: it sets a key of the project's namespace
// to a value, and returns once the write is durable.
//
// # Parameters
//
//   - key, key_len: the key in memory, 1 to kv.MaxKey bytes of UTF-8
//   - value, value_len: the value in memory, any bytes
//   - ttl_seconds: an unsigned i32, the seconds until the key expires; 0:
//     never
//
// Result (err): abi.OK; abi.ErrInvalid for a bad key; abi.ErrTooLarge for
// a value over the namespace's maxKVValue; abi.ErrLimit when the key is new
// and the namespace holds maxKVKeys keys; abi.ErrFailed when the store
// fails (or there is none, or the request's time ran out).
//
// For example, key=1, key_len=1, value=2, value_len=2 and ttl_seconds=60
// sets "n" to "42" for a minute:
//
//	          key_len value_len
//	          +---+  +--------+
//	          |   |  |        |
//	[]byte{?, 'n', '4', '2', ?}
//	    key --^  value --^
func kvSetFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncKVSet)
	key := e.view(mod, abi.FuncKVSet, "key", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	value := e.view(mod, abi.FuncKVSet, "value", api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
	ttl := time.Duration(api.DecodeU32(stack[4])) * time.Second
	stack[0] = api.EncodeI32(e.kvWrite(ctx, "set", key, func(ctx context.Context, key string) error {
		return e.KV.Set(ctx, key, value, ttl)
	}))
}

// kvDeleteFn supports abi.FuncKVDelete: it deletes a key of the project's
// namespace, (key, key_len) in memory. Result (err): abi.OK, also for a key
// that was not there; abi.ErrInvalid for a bad key; abi.ErrFailed when the
// store fails.
func kvDeleteFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncKVDelete)
	key := e.view(mod, abi.FuncKVDelete, "key", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	stack[0] = api.EncodeI32(e.kvWrite(ctx, "delete", key, func(ctx context.Context, key string) error {
		return e.KV.Delete(ctx, key)
	}))
}

// kvListFn supports abi.FuncKVList: it writes the list of the namespace's
// keys that start with a prefix, sorted bytewise, expired keys left out,
// to a guest buffer, as a getter.
//
// # Parameters
//
//   - prefix, prefix_len: the prefix in memory, any bytes; empty: every
//     key. A prefix longer than kv.MaxKey matches nothing
//   - buf, buf_len: the buffer to write the list to, as for methodFn
//
// Result (len_or_err): the list's length, the list written only when it
// fits; abi.ErrFailed when the store fails or there is none;
// abi.ErrTooLarge for a list of 2 GiB or more. A list that did not fit is
// kept for the next kv_list of the same prefix, as kv_get keeps a value.
//
// For example, with keys "a" and "ab", prefix=1, prefix_len=1, buf=2 and
// buf_len=16, this writes the below and returns 11:
//
//	                uint32le         uint32le
//	               +--------+       +--------+
//	               |        |       |        |
//	[]byte{?, 'a', 1, 0, 0, 0, 'a', 2, 0, 0, 0, 'a', 'b', ?}
//	 prefix --^  buf --^
func kvListFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncKVList)
	prefix := e.view(mod, abi.FuncKVList, "prefix", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	buf := e.view(mod, abi.FuncKVList, "buf", api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
	list, code := e.kvList.get(prefix, uint32(len(buf)), func() ([]byte, int32) {
		if e.KV == nil {
			return nil, e.fail(abi.ErrFailed, errNoStore)
		}
		if len(prefix) > kv.MaxKey {
			return nil, abi.OK
		}
		ctx := e.serviceContext(ctx)
		keys, err := e.KV.List(ctx, string(prefix))
		if err != nil {
			return nil, e.fail(kvCode(err), err)
		}
		var list []byte
		for _, k := range keys {
			list = abi.AppendItem(list, k)
		}
		return list, abi.OK
	})
	stack[0] = e.kvResult("list", prefix, buf, list, code)
}

// kvIncrFn supports abi.FuncKVIncr: it adds an amount to the decimal
// integer stored at a key of the project's namespace, atomically, and
// returns the new value. A missing key counts as 0; the key keeps its
// expiry.
//
// # Parameters
//
//   - key, key_len: the key in memory, 1 to kv.MaxKey bytes of UTF-8
//   - inout: 8 bytes in memory, a little-endian i64: the amount on the
//     call, the new value on return (untouched on an error)
//
// Result (err): abi.OK; abi.ErrInvalid for a bad key, a stored value that
// is not a decimal i64, or a sum that overflows; abi.ErrLimit for a new key
// past maxKVKeys; abi.ErrFailed when the store fails.
//
// For example, with "n" holding "40", key=1, key_len=1, inout=8 holding 2
// changes inout to 42, and "n" to "42":
//
//	          key_len               inout: 8 bytes
//	          +---+               +--------------------------+
//	          |   |               |                          |
//	[]byte{?, 'n', ?, ?, ?, ?, ?, ?, 42, 0, 0, 0, 0, 0, 0, 0, ?}
//	    key --^                   ^-- inout
func kvIncrFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncKVIncr)
	key := e.view(mod, abi.FuncKVIncr, "key", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	inout := e.view(mod, abi.FuncKVIncr, "inout", api.DecodeU32(stack[2]), 8)
	by := int64(binary.LittleEndian.Uint64(inout))
	stack[0] = api.EncodeI32(e.kvWrite(ctx, "incr", key, func(ctx context.Context, key string) error {
		n, err := e.KV.Incr(ctx, key, by)
		if err == nil {
			binary.LittleEndian.PutUint64(inout, uint64(n))
		}
		return err
	}))
}

// kvReady checks key and that there is a store, recording the error for
// error_message.
func (e *Exchange) kvReady(op string, key []byte) int32 {
	if err := checkKey(op, key); err != nil {
		return e.fail(abi.ErrInvalid, err)
	}
	if e.KV == nil {
		return e.fail(abi.ErrFailed, errNoStore)
	}
	return abi.OK
}

// kvWrite checks key and runs write, in ctx ended at Deadline. A write
// makes the getters forget what they kept: the guest reads its own writes.
func (e *Exchange) kvWrite(ctx context.Context, op string, key []byte, write func(ctx context.Context, key string) error) int32 {
	if code := e.kvReady(op, key); code != abi.OK {
		return code
	}
	e.kvGet.clear()
	e.kvList.clear()
	if err := write(e.serviceContext(ctx), string(key)); err != nil {
		return e.fail(kvCode(err), err)
	}
	return abi.OK
}

// kvResult is a kv getter's result: code, or value's length (value
// written to buf when it fits).
func (e *Exchange) kvResult(op string, key, buf, value []byte, code int32) uint64 {
	switch {
	case code != abi.OK:
		return api.EncodeI32(code)
	case len(value) > math.MaxInt32:
		return api.EncodeI32(e.fail(abi.ErrTooLarge, fmt.Errorf("kv %s %.40q: %d bytes, more than a result can say", op, key, len(value))))
	}
	if len(value) <= len(buf) {
		copy(buf, value)
	}
	return api.EncodeU32(uint32(len(value)))
}

// checkKey returns why key is not 1 to kv.MaxKey bytes of UTF-8, or nil.
func checkKey(op string, key []byte) error {
	switch {
	case len(key) == 0:
		return fmt.Errorf("kv %s: empty key (a key is 1 to %d bytes of UTF-8)", op, kv.MaxKey)
	case len(key) > kv.MaxKey:
		return fmt.Errorf("kv %s %.40q…: a key of %d bytes, over %d", op, key, len(key), kv.MaxKey)
	case !utf8.Valid(key):
		return fmt.Errorf("kv %s %q: the key is not UTF-8", op, key)
	}
	return nil
}

// kvCode maps a kv.Namespace error to the abi.
func kvCode(err error) int32 {
	switch {
	case errors.Is(err, kv.ErrNotFound):
		return abi.ErrNotFound
	case errors.Is(err, kv.ErrTooLarge):
		return abi.ErrTooLarge
	case errors.Is(err, kv.ErrLimit):
		return abi.ErrLimit
	case errors.Is(err, kv.ErrNotInteger), errors.Is(err, kv.ErrInvalidKey):
		return abi.ErrInvalid
	}
	return abi.ErrFailed // the store, the context
}

// kvKept is what a kv getter read and could not write to the guest's
// buffer: the guest's next call for the same key (or prefix) gets it.
type kvKept struct {
	ok    bool
	key   []byte
	value []byte
}

// get returns the value for key: the kept one, else read's (code abi.OK)
// or read's error code. A value that does not fit in bufLen is kept; one
// that does is not (the next call reads the store again).
func (c *kvKept) get(key []byte, bufLen uint32, read func() ([]byte, int32)) ([]byte, int32) {
	if c.ok && string(c.key) == string(key) {
		if uint64(len(c.value)) <= uint64(bufLen) {
			v := c.value
			c.clear()
			return v, abi.OK
		}
		return c.value, abi.OK
	}
	v, code := read()
	if code != abi.OK || uint64(len(v)) <= uint64(bufLen) {
		c.clear()
		return v, code
	}
	c.ok, c.key, c.value = true, append(c.key[:0], key...), v
	return v, abi.OK
}

// clear forgets the kept value.
func (c *kvKept) clear() {
	c.ok, c.value = false, nil
}
