// dispatch.js serves a request with the route's handlers: it makes the
// NextRequest from the host's getters, calls the method's handler as
// Next.js does, handler(request, { params }), and writes the Response it
// returns through the host (internal/jsengine/CONTRACT.md).
import { AbortController, Headers, Response, clearAllTimers, clearIO, incomingRequest, responseBody, responseHeaderPairs, takeDirect } from "./glue.js";
import { beginEnv, endEnv } from "./env.js";
import { begin, end, setCookies } from "./next/impl/headers.js";
import { navigationResponse } from "./next/impl/navigation.js";
import { NextRequest, NextResponse } from "./next/impl/server.js";
import { formatError } from "./stack.js";

const ErrTooLarge = -4; // abi.ErrTooLarge
const ErrClosed = -5; // abi.ErrClosed: the client is gone

let host; // the engine's natives
let route; // { ns, file, catchAll, middleware } from the route's bundle

// init keeps the engine's natives for the requests to come.
export function init(h) {
	host = h;
}

// registerRoute is called by the route's bundle with its namespace, its
// file and the names of its catch-all params ([...x], [[...x]]). A
// middleware's bundle (middleware.ts, proxy.ts) names its function too: the
// runtime calls it through the GET export, whatever the request's method.
export function registerRoute(ns, { file, catchAll, middleware }) {
	if (middleware) {
		const fn = typeof ns[middleware] === "function" ? ns[middleware] : ns.default;
		const event = { sourcePage: "/" + middleware, waitUntil() {} }; // a NextFetchEvent: its promises are not awaited
		ns = { GET: (request) => intercept(fn, request, event) };
	}
	route = { ns, file, catchAll, middleware };
}

// intercept calls a middleware function as Next.js does, fn(request, event):
// what it returns is its answer, and nothing (undefined) is
// NextResponse.next(), going on to the route.
function intercept(fn, request, event) {
	if (typeof fn !== "function") throw new TypeError(`${route.file} exports no ${route.middleware} function`);
	const res = fn(request, event);
	if (res !== null && typeof res === "object" && typeof res.then === "function") {
		return Promise.resolve(res).then((res) => res ?? NextResponse.next());
	}
	return res ?? NextResponse.next();
}

// report logs an error the engine caught outside a handler.
export function report(kind, err) {
	log(`${kind}: ${formatError(err)}`);
}

function log(msg) {
	host.write(2, msg + "\n");
}

// dispatch serves the current request with the handler for method (the
// export the engine was called as: GET serves HEAD too). It settles when the
// response is complete; it rejects only when the response cannot be ended
// cleanly (a body stream that failed after the response started), so that
// the engine traps and the client sees the connection cut.
//
// A handler that returns a Response (or a promise of one) with a string or
// bytes body is served without a promise of the platform's own: the
// dispatcher awaits only what the handler and a streamed body give it (one
// then each).
export function dispatch(method) {
	let p;
	try {
		p = serve(method);
	} catch (err) {
		finish();
		return Promise.reject(err);
	}
	return p === undefined ? done : p;
}

const done = Promise.resolve();

function finish() {
	end();
	clearAllTimers();
	clearIO();
	endEnv();
	ac = null;
	pairs = null;
}

// finished ends the request once r, what respond or failed returned, is
// done: at once for undefined, else when the promise r settles. It returns
// undefined or a promise that settles after the request ended.
function finished(r) {
	if (r === undefined) {
		finish();
		return undefined;
	}
	return r.then(finish, (err) => {
		finish();
		throw err;
	});
}

// settled answers with the handler's settled result: respond to a fulfilled
// one, failed for a rejected one.
function settled(method, v, ok) {
	let r;
	try {
		r = ok ? respond(method, v) : failed(method, v);
	} catch (err) {
		finish();
		throw err;
	}
	return finished(r);
}

// ac is the request's AbortController, made when the handler first reads
// request.signal or when the client is found gone.
let ac = null;
const controller = () => (ac ??= new AbortController());
const signal = () => controller().signal;

// serve calls the handler and writes its response, and ends the request
// (finish): it returns undefined when it is done, or a promise when the
// handler or the body is async. When it throws, the request is not ended.
function serve(method) {
	let res;
	beginEnv(log);
	try {
		const request = incoming();
		const handler = route?.ns[method];
		if (typeof handler !== "function") throw new TypeError(`${where(method)} is not a function`);
		res = handler(request, { params: params() });
	} catch (err) {
		return finished(failed(method, err));
	}
	if (res !== null && typeof res === "object" && typeof res.then === "function") {
		return Promise.resolve(res).then(
			(res) => settled(method, res, true),
			(err) => settled(method, err, false),
		);
	}
	return finished(respond(method, res));
}

const where = (method) => `${route?.middleware ?? method} in ${route?.file}`;

// failed answers for a handler that threw err: a redirect() or notFound()
// of next/navigation, a 500 otherwise.
function failed(method, err) {
	const res = navigationResponse(err);
	if (!res) return fail(`${where(method)} threw ${formatError(err)}`);
	return respond(method, res);
}

function respond(method, res) {
	if (!(res instanceof Response)) {
		return fail(`${where(method)} returned ${describe(res)}, not a Response`);
	}
	if (res.type === "error") return fail(`${where(method)} returned Response.error()`);
	const pairs = responseHeaderPairs(res);
	for (let i = 0; i < pairs.length && !route.middleware; i++) {
		const name = pairs[i][0];
		if (name === "x-middleware-rewrite" || name === "x-middleware-next") {
			return fail(`${where(method)} returned NextResponse.${name.slice(13)}(), which is for middleware (middleware.ts or proxy.ts), not a route handler`);
		}
	}
	return write(res, pairs, requestMethod === "HEAD");
}

// fail logs msg and answers 500 with an empty body.
function fail(msg) {
	log(msg);
	host.setStatus(500);
}

// incoming makes the request being served, a NextRequest. Its headers are
// read from the host when the handler (or next/headers) first asks for
// them, its signal made when first read.
function incoming() {
	begin(receivedHeaders);
	const method = (requestMethod = host.method());
	const query = host.query();
	const url = `http://${authority(host.headerValues("host")[0])}${host.path()}${query ? "?" + query : ""}`;
	const bodySource = method === "GET" || method === "HEAD" ? null : readBody;
	return incomingRequest({ method, url, headers, bodySource, signal }, NextRequest);
}

// The request's method and header pairs (read when first asked for); the
// functions are made once, not per request.
let requestMethod, pairs = null;
const headers = () => (pairs ??= readHeaders());
const receivedHeaders = () => new Headers(headers());

// readHeaders returns the request's headers as [name, value] pairs, its
// Cookie headers joined into one as HTTP/2 allows.
function readHeaders() {
	const pairs = [];
	for (const name of host.headerNames()) {
		const values = host.headerValues(name);
		if (name === "cookie") pairs.push([name, values.join("; ")]);
		else for (const v of values) pairs.push([name, v]);
	}
	return pairs;
}

// readBody returns the request body's next chunk, or null at its end.
function readBody() {
	const chunk = host.bodyRead(65536);
	if (typeof chunk === "number") {
		throw new TypeError(chunk === ErrTooLarge ? "the request body is over the route's limit" : `reading the request body failed (error ${chunk})`);
	}
	return chunk.byteLength > 0 ? chunk : null;
}

// authority returns the Host header for the request's URL, as Next.js
// makes it, when it is a host name or an IP address with an optional port,
// and "localhost" otherwise: the header is the client's to choose, and one
// like "a.example/x?" must not change the URL's path.
function authority(host) {
	if (host !== lastHost) {
		lastHost = host;
		lastAuthority = host && hostOK.test(host) ? host : "localhost";
	}
	return lastAuthority;
}
let lastHost, lastAuthority = "localhost"; // a regular expression costs microseconds: the last answer is kept
const hostOK = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

// params returns the route's params for the handler's context, as a
// Promise that also has them as properties (Next.js 15 kept that for code
// that does not await). A catch-all param is a list; an optional one that
// matched nothing is absent.
function params() {
	const out = {};
	for (const name of host.paramNames()) {
		const values = host.paramValues(name);
		if (!route.catchAll.includes(name)) out[name] = values[0];
		else if (values.length > 0) out[name] = values;
	}
	const p = Promise.resolve(out);
	for (const name of Object.keys(out)) if (!(name in p)) p[name] = out[name];
	return p;
}

function describe(v) {
	if (v === null || v === undefined) return String(v);
	if (typeof v !== "object") return typeof v;
	const name = v.constructor?.name;
	if (name === "Response") return "a Response from another implementation (a fetch polyfill?)";
	return name ? `an object (${name})` : "an object";
}

// write sends res: status, headers (pairs, each Set-Cookie apart), the cookies set
// through next/headers, then the body, in one write for a string or bytes,
// chunk by chunk with a flush after each for a stream (server-sent events).
// A stream's chunks may be strings too (written as UTF-8), which Next.js
// would refuse. A HEAD request's stream body is not read at all; a string
// or bytes is written, for the host to drop and count: the Content-Length
// of a HEAD is what its GET writes.
function write(res, pairs, head) {
	refused(host.setStatus(res.status), `status ${res.status}`);
	for (let i = 0; i < pairs.length; i++) refused(host.headerAdd(pairs[i][0], pairs[i][1]), `header ${pairs[i][0]}`);
	const cookies = setCookies();
	for (let i = 0; i < cookies.length; i++) refused(host.headerAdd("set-cookie", cookies[i]), "a Set-Cookie header");

	const body = responseBody(res);
	if (body === null || body === undefined) return;
	if (typeof body.getReader !== "function") {
		closed(host.bodyWrite(body));
		return;
	}
	if (head) return body.cancel().catch(() => {}); // the host would drop it
	const names = pairs.map((p) => p[0]); // the headers sent, should the stream fail at once
	if (cookies.length > 0) names.push("set-cookie");
	return pump(takeDirect(body) ?? body.getReader(), names); // a fetched body is read straight from the host
}

// pump writes a stream body chunk by chunk, with a flush after each. The
// reader is a stream's, or the direct reader of a fetched body (whose
// read() may answer without a promise).
async function pump(reader, names) {
	for (let started = false; ; started = true) {
		let chunk;
		try {
			chunk = reader.read();
			if (chunk instanceof Promise) chunk = await chunk; // a direct reader's chunk may be there already
			if (!chunk.done && typeof chunk.value !== "string" && !ArrayBuffer.isView(chunk.value) && !(chunk.value instanceof ArrayBuffer)) {
				throw new TypeError(`the response body stream gave ${describe(chunk.value)}, not a Uint8Array`);
			}
		} catch (err) {
			reader.cancel(err).catch(() => {});
			if (!started) {
				// Nothing was sent: answer 500 instead, without the headers.
				for (const name of names) host.headerDel(name);
				return fail(`${route.file}: the response body failed: ${formatError(err)}`);
			}
			log(`${route.file}: the response body failed after the response started: ${formatError(err)}`);
			throw new Error("response body failed after the response started: connection cut");
		}
		if (chunk.done) return;
		let rc = host.bodyWrite(chunk.value);
		if (rc === 0) rc = host.flush();
		if (rc < 0) {
			closed(rc);
			reader.cancel(signal().reason).catch(() => {});
			return;
		}
	}
}

// closed handles a body write's result: the client is gone (the request's
// signal aborts) or a limit was reached.
function closed(rc) {
	if (rc === ErrClosed) controller().abort();
	else refused(rc, "the response body");
}

function refused(rc, what) {
	if (rc < 0) log(`${route.file}: ${what} refused by the host (error ${rc})`);
}
