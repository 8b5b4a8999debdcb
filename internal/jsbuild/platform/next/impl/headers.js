// headers.js: next/headers' cookies(), headers() and draftMode(), which
// read the request being served. One instance serves one request at a time,
// so the request's state is a module variable the dispatcher sets (begin)
// and clears (end).
import { ResponseCookies, parseCookie, stringifyCookie } from "./cookies.js";
import { Headers } from "../../glue.js";

let current = null;

// begin starts a request: received returns its headers as received, for
// headers() and cookies().
export function begin(received) {
	current = { received, headers: null, readonly: null, cookies: null };
}

export function end() {
	current = null;
}

// setCookies returns the Set-Cookie values for the cookies the handler set
// or deleted through cookies().
const none = Object.freeze([]);
export function setCookies() {
	const c = current?.cookies;
	if (!c) return none;
	return [...c.modified].map((name) => stringifyCookie(c.all.get(name)));
}

function received(s) {
	return (s.headers ??= s.received());
}

function scope(name) {
	if (!current) throw new Error(`\`${name}\` was called outside a request scope.`);
	return current;
}

// headers returns the request's headers, read-only: a Promise of them that
// also has their methods, as in Next.js 15, for code that does not await.
export function headers() {
	const s = scope("headers");
	if (!s.readonly) {
		const h = received(s);
		const fail = () => {
			throw new TypeError("Headers cannot be modified. Read more: https://nextjs.org/docs/app/api-reference/functions/headers");
		};
		for (const m of ["append", "delete", "set"]) Object.defineProperty(h, m, { value: fail });
		s.readonly = h;
	}
	return exotic(s.readonly, ["append", "delete", "get", "getSetCookie", "has", "set", "forEach", "keys", "values", "entries", Symbol.iterator]);
}

// cookies returns the request's cookies, which a route handler may set and
// delete: those go out as Set-Cookie with the response, and a later get sees
// them. As in Next.js, the cookies are ResponseCookies (get returns
// { name, value, path }), and the Promise also has their methods.
export function cookies() {
	const s = scope("cookies");
	if (!s.cookies) {
		const all = new ResponseCookies(new Headers());
		for (const [name, value] of parseCookie(received(s).get("cookie") ?? "")) all.set({ name, value });
		const modified = new Set();
		const store = {
			get: (...a) => all.get(...a),
			getAll: (...a) => all.getAll(...a),
			has: (name) => all.has(name),
			set(...a) {
				all.set(...a);
				modified.add(a.length === 1 ? a[0].name : a[0]);
				return store;
			},
			delete(arg) {
				all.delete(arg);
				modified.add(typeof arg === "string" ? arg : arg.name);
				return store;
			},
			toString: () => all.toString(),
			get size() {
				return all.getAll().length;
			},
			[Symbol.iterator]: () => all.getAll().map((c) => [c.name, c])[Symbol.iterator](),
		};
		s.cookies = { all, modified, store };
	}
	const p = exotic(s.cookies.store, ["get", "getAll", "has", "set", "delete", "toString", Symbol.iterator]);
	Object.defineProperty(p, "size", { get: () => s.cookies.store.size });
	return p;
}

// draftMode: wasmroute has no draft mode; it is never enabled.
export async function draftMode() {
	return {
		isEnabled: false,
		enable() {
			throw new Error("draftMode().enable() is not supported by wasmroute");
		},
		disable() {},
	};
}

// exotic returns a Promise of target that also has target's methods named
// in names, bound to it.
function exotic(target, names) {
	const p = Promise.resolve(target);
	for (const name of names) {
		const fn = target[name];
		if (typeof fn === "function") Object.defineProperty(p, name, { value: fn.bind(target), configurable: true });
	}
	return p;
}
