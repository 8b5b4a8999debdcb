// server.js: next/server's NextRequest and NextResponse, after Next.js 15.
import { Headers, Request, Response, URL, jsonResponse, parseHref } from "../../glue.js";
import { RequestCookies, ResponseCookies } from "./cookies.js";

const kNextUrl = Symbol("nextUrl");
const kCookies = Symbol("cookies");

// NextURL is a URL with Next.js's extras; wasmroute has no basePath, i18n
// or build id.
export class NextURL extends URL {
	get basePath() {
		return "";
	}
	get locale() {
		return "";
	}
	get defaultLocale() {
		return undefined;
	}
	get buildId() {
		return undefined;
	}
	clone() {
		return new NextURL(this.href);
	}
}

// NextRequest is a Request with nextUrl and cookies. Both are read from the
// request when first used, so the dispatcher can make the request being
// served one without running this constructor (incomingRequest). Like
// Next.js 15, it has no ip and no geo.
export class NextRequest extends Request {
	constructor(input, init = {}) {
		if (typeof input === "string" || input instanceof URL) input = validateURL(input);
		super(input, init);
	}
	get nextUrl() {
		return (this[kNextUrl] ??= new NextURL(this.url));
	}
	get cookies() {
		return (this[kCookies] ??= new RequestCookies(this.headers));
	}
}

const redirects = [301, 302, 303, 307, 308];

// NextResponse is a Response with cookies and Next.js's helpers.
export class NextResponse extends Response {
	get cookies() {
		return (this[kCookies] ??= new ResponseCookies(this.headers));
	}

	static json(body, init) {
		const text = JSON.stringify(body);
		if (text === undefined) throw new TypeError("NextResponse.json: the value is not JSON-serializable");
		return jsonResponse(NextResponse, text, init);
	}

	static redirect(url, init) {
		const status = typeof init === "number" ? init : (init?.status ?? 307);
		if (!redirects.includes(status)) {
			throw new RangeError('Failed to execute "redirect" on "response": Invalid status code');
		}
		const rest = typeof init === "object" ? init : {};
		const headers = new Headers(rest.headers);
		headers.set("location", validateURL(url));
		return new NextResponse(null, { ...rest, headers, status });
	}

	// rewrite and next are for middleware (middleware.ts, proxy.ts): the
	// host reads their x-middleware-* headers, as Next.js's server does; a
	// route handler returning them gets a 500, as in Next.js.
	static rewrite(destination, init) {
		const headers = new Headers(init?.headers);
		headers.set("x-middleware-rewrite", validateURL(destination));
		requestHeaders(init, headers);
		return new NextResponse(null, { ...init, headers });
	}

	static next(init) {
		const headers = new Headers(init?.headers);
		headers.set("x-middleware-next", "1");
		requestHeaders(init, headers);
		return new NextResponse(null, { ...init, headers });
	}
}

// requestHeaders passes init.request.headers, the request headers the route
// is to see, as Next.js does: each as x-middleware-request-<name>, and
// their names in x-middleware-override-headers (a header not listed is
// removed).
function requestHeaders(init, headers) {
	const h = init?.request?.headers;
	if (!h) return;
	if (!(h instanceof Headers)) throw new Error("request.headers must be an instance of Headers");
	const names = [];
	for (const [name, value] of h) {
		headers.set("x-middleware-request-" + name, value);
		names.push(name);
	}
	headers.set("x-middleware-override-headers", names.join(","));
}

// validateURL returns the href of the absolute URL url, or throws Next.js's error.
function validateURL(url) {
	const s = String(url);
	const href = parseHref(s);
	if (href !== null) return href;
	const cause = new TypeError(`Invalid URL: ${s}`);
	throw new Error(`URL is malformed "${s}". Please use only absolute URLs - https://nextjs.org/docs/messages/middleware-relative-urls`, { cause });
}

// connection resolves at once: every request is dynamic in wasmroute.
export async function connection() {}
