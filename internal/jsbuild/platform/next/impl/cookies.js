// cookies.js: RequestCookies and ResponseCookies as Next.js has them (from
// @edge-runtime/cookies): a Cookie header's cookies, and a response's
// Set-Cookie headers, each as a small Cookie Store without Promises.

// parseCookie parses a Cookie header into a Map of name to value (decoded;
// a value that does not decode is left out).
export function parseCookie(header) {
	const map = new Map();
	for (const pair of header.split(/; */)) {
		if (!pair) continue;
		const eq = pair.indexOf("=");
		if (eq < 0) {
			map.set(pair, "true");
			continue;
		}
		try {
			map.set(pair.slice(0, eq), decodeURIComponent(pair.slice(eq + 1)));
		} catch {
			// an invalid escape: ignored, as Next.js does
		}
	}
	return map;
}

// stringifyCookie serializes a cookie and its attributes for Set-Cookie.
export function stringifyCookie(c) {
	const expires = typeof c.expires === "number" ? new Date(c.expires) : c.expires;
	const attrs = [
		c.path && `Path=${c.path}`,
		(c.expires || c.expires === 0) && `Expires=${expires.toUTCString()}`,
		typeof c.maxAge === "number" && `Max-Age=${c.maxAge}`,
		c.domain && `Domain=${c.domain}`,
		c.secure && "Secure",
		c.httpOnly && "HttpOnly",
		c.sameSite && `SameSite=${c.sameSite}`,
		c.partitioned && "Partitioned",
		c.priority && `Priority=${c.priority}`,
	].filter(Boolean);
	const pair = `${c.name}=${encodeURIComponent(c.value ?? "")}`;
	return attrs.length ? `${pair}; ${attrs.join("; ")}` : pair;
}

// parseSetCookie parses one Set-Cookie header value.
export function parseSetCookie(value) {
	const [[name, v] = [], ...attrs] = parseCookie(value);
	if (!name) return undefined;
	const a = Object.fromEntries(attrs.map(([k, x]) => [k.toLowerCase(), x]));
	const c = { name, value: v, path: a.path, domain: a.domain };
	if (a.expires) c.expires = new Date(a.expires);
	if (a.httponly) c.httpOnly = true;
	if (a["max-age"] !== undefined) c.maxAge = Number(a["max-age"]);
	if (["strict", "lax", "none"].includes(a.samesite?.toLowerCase())) c.sameSite = a.samesite.toLowerCase();
	if (a.secure) c.secure = true;
	if (a.partitioned) c.partitioned = true;
	if (["low", "medium", "high"].includes(a.priority?.toLowerCase())) c.priority = a.priority.toLowerCase();
	for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
	return c;
}

const nameOf = (arg) => (typeof arg === "string" ? arg : arg?.name);

const kParsed = Symbol("parsed");

// Cookies is what request and response cookies share: the parsed cookies
// by name, and the ways to read them.
class Cookies {
	constructor() {
		this[kParsed] = new Map();
	}
	get(arg) {
		return this[kParsed].get(nameOf(arg));
	}
	getAll(...args) {
		const all = [...this[kParsed].values()];
		return args.length ? all.filter((c) => c.name === nameOf(args[0])) : all;
	}
	has(name) {
		return this[kParsed].has(name);
	}
}

// RequestCookies are a request's cookies, parsed from its Cookie header;
// set and delete rewrite that header.
export class RequestCookies extends Cookies {
	#headers;

	constructor(requestHeaders) {
		super();
		this.#headers = requestHeaders;
		const header = requestHeaders.get("cookie");
		if (header) for (const [name, value] of parseCookie(header)) this[kParsed].set(name, { name, value });
	}
	[Symbol.iterator]() {
		return this[kParsed][Symbol.iterator]();
	}
	get size() {
		return this[kParsed].size;
	}
	set(...args) {
		const [name, value] = args.length === 1 ? [args[0].name, args[0].value] : args;
		this[kParsed].set(name, { name, value });
		this.#sync();
		return this;
	}
	delete(names) {
		const parsed = this[kParsed];
		const result = Array.isArray(names) ? names.map((n) => parsed.delete(n)) : parsed.delete(names);
		this.#sync();
		return result;
	}
	clear() {
		this.delete([...this[kParsed].keys()]);
		return this;
	}
	toString() {
		return [...this[kParsed].values()].map((c) => `${c.name}=${encodeURIComponent(c.value)}`).join("; ");
	}
	#sync() {
		this.#headers.set("cookie", [...this[kParsed].values()].map(stringifyCookie).join("; "));
	}
}

// ResponseCookies are a response's cookies, parsed from its Set-Cookie
// headers; set and delete rewrite them.
export class ResponseCookies extends Cookies {
	#headers;

	constructor(responseHeaders) {
		super();
		this.#headers = responseHeaders;
		for (const value of responseHeaders.getSetCookie()) {
			const c = parseSetCookie(value);
			if (c) this[kParsed].set(c.name, c);
		}
	}
	set(...args) {
		const [name, value, options] = args.length === 1 ? [args[0].name, args[0].value, args[0]] : args;
		this[kParsed].set(name, normalize({ ...options, name, value }));
		this.#headers.delete("set-cookie");
		for (const c of this[kParsed].values()) this.#headers.append("set-cookie", stringifyCookie(c));
		return this;
	}
	delete(arg) {
		const [name, path, domain] = typeof arg === "string" ? [arg] : [arg.name, arg.path, arg.domain];
		return this.set({ name, path, domain, value: "", expires: new Date(0) });
	}
	toString() {
		return [...this[kParsed].values()].map(stringifyCookie).join("; ");
	}
}

function normalize(c) {
	if (typeof c.expires === "number") c.expires = new Date(c.expires);
	if (c.maxAge) c.expires = new Date(Date.now() + c.maxAge * 1000);
	if (c.path === null || c.path === undefined) c.path = "/";
	return c;
}
