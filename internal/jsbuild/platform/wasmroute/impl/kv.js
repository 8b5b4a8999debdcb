// kv.js: wasmroute:kv, the project's key-value store (abi/ABI.md,
// "Key-value store"), over the engine's kv* natives
// (internal/jsengine/CONTRACT.md).
//
//	import { kv } from 'wasmroute:kv'
//	await kv.set('greeting', 'hello', { ttl: 60 })
//	await kv.get('greeting')          // 'hello', or null once expired
//	await kv.get('config', 'json')    // JSON.parse of the value
//	await kv.incr('visits')           // 1, 2, …
//	await kv.list('user:')            // the keys starting with 'user:', sorted
//	await kv.delete('greeting')
//
// Every method returns a promise (the host answers at once, but a later
// store may not), rejected with a KVError whose message is the host's
// explanation and whose code names the ABI error ('ErrLimit', 'ErrTooLarge',
// 'ErrFailed'…) — or with a TypeError or RangeError for an argument the
// host never sees. Values are strings (stored as UTF-8) or bytes; an object
// is a TypeError, not stored as "[object Object]": store JSON.stringify(o)
// and read it back with kv.get(key, 'json'). Keys are strings of 1 to 512
// bytes of UTF-8.
import { hostError } from "../../glue.js";

const ErrNotFound = -10; // abi.ErrNotFound

let host; // the engine's natives

// init keeps the engine's natives.
export function init(h) {
	host = h;
}

// KVError is a failed call of the key-value store.
export class KVError extends Error {
	constructor(message, code) {
		super(message);
		this.code = code;
	}
	get name() {
		return "KVError";
	}
}

const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// keyOf converts key to a string, which must be UTF-8 (the host checks the
// rest: not empty, at most 512 bytes).
function keyOf(key, what) {
	const k = String(key);
	if (lone.test(k)) throw new TypeError(`${what}: the key ${JSON.stringify(k)} holds a lone surrogate: it is not UTF-8`);
	return k;
}

function failed(code, what) {
	const e = hostError(host, code, what);
	return new KVError(e.message, e.code);
}

const types = ["text", "json", "arrayBuffer"];

async function get(key, type = "text") {
	key = keyOf(key, "kv.get");
	if (type !== null && typeof type === "object") type = type.type ?? "text";
	if (!types.includes(type)) throw new TypeError(`kv.get: type ${JSON.stringify(String(type))} is not one of ${types.join(", ")}`);
	const v = host.kvGet(key);
	if (v === ErrNotFound) return null;
	if (typeof v === "number") throw failed(v, `kv.get ${JSON.stringify(key)}`);
	if (type === "arrayBuffer") return v;
	const text = host.utf8Decode(v, false);
	return type === "json" ? JSON.parse(text) : text;
}

async function set(key, value, options = undefined) {
	key = keyOf(key, "kv.set");
	if (typeof value !== "string" && !(value instanceof ArrayBuffer) && !ArrayBuffer.isView(value)) {
		const what = value === null ? "null" : typeof value === "object" ? `an object (${value.constructor?.name ?? "Object"})` : typeof value;
		throw new TypeError(`kv.set: the value must be a string, an ArrayBuffer or a typed array, not ${what}: store JSON.stringify(value), and read it with kv.get(key, 'json')`);
	}
	let ttl = 0;
	if (options?.ttl !== undefined) {
		ttl = Number(options.ttl);
		if (!(ttl >= 0 && ttl <= 2147483647)) throw new RangeError(`kv.set: ttl ${options.ttl} is not a number of seconds from 0 (never expires) to 2147483647`);
		ttl = Math.ceil(ttl);
	}
	const rc = host.kvSet(key, value, ttl);
	if (rc < 0) throw failed(rc, `kv.set ${JSON.stringify(key)}`);
}

async function del(key) {
	key = keyOf(key, "kv.delete");
	const rc = host.kvDelete(key);
	if (rc < 0) throw failed(rc, `kv.delete ${JSON.stringify(key)}`);
}

async function list(prefix = "") {
	prefix = String(prefix);
	if (lone.test(prefix)) throw new TypeError("kv.list: the prefix holds a lone surrogate: it is not UTF-8");
	const keys = host.kvList(prefix);
	if (typeof keys === "number") throw failed(keys, `kv.list ${JSON.stringify(prefix)}`);
	return keys;
}

// incr adds by (a safe integer, or a BigInt for the whole i64 range) to the
// integer stored at key (missing: 0) and returns the new value: a number,
// or a BigInt when by is one. A number result past 2^53 is a RangeError
// (the store holds it exactly: read it with a BigInt amount, 0n).
async function incr(key, by = 1) {
	key = keyOf(key, "kv.incr");
	const big = typeof by === "bigint";
	if (big ? BigInt.asIntN(64, by) !== by : !Number.isSafeInteger(by)) {
		throw new RangeError(`kv.incr: the amount ${by} is not ${big ? "a 64-bit integer" : "a safe integer (use a BigInt)"}`);
	}
	const v = host.kvIncr(key, by);
	if (typeof v === "number") throw failed(v, `kv.incr ${JSON.stringify(key)}`);
	if (big) return v;
	const n = Number(v);
	if (!Number.isSafeInteger(n)) throw new RangeError(`kv.incr ${JSON.stringify(key)}: the value ${v} is past Number.MAX_SAFE_INTEGER: increment with a BigInt (0n) to read it`);
	return n;
}

// kv is the module's API; its methods do not need their this.
export const kv = Object.freeze({ get, set, delete: del, list, incr });
