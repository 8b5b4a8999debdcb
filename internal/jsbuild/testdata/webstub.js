// A stand-in for platform/web/index.js, used by the tests only while the
// Web platform is not in the tree: it names what glue.js imports, taking
// the classes from the global object (Node.js has them, for ad hoc runs).
export const { AbortController, Headers, Request, Response, URL } = globalThis;
let host;
export function install(h) {
	host = h;
}
export function nextTimer() {
	return -1;
}
export function runTimers() {}
export function clearAllTimers() {}
export function createIncomingRequest(url, init) {
	if (init.method === "GET" || init.method === "HEAD") return new Request(url, init);
	const body = new ReadableStream({
		pull(c) {
			const b = host.bodyRead(65536);
			if (typeof b === "number") c.error(new TypeError(`reading the request body: error ${b}`));
			else if (b.byteLength === 0) c.close();
			else c.enqueue(new Uint8Array(b));
		},
	});
	return new Request(url, { ...init, body, duplex: "half" });
}
export function responseBody(res) {
	return res.body;
}
