// A stand-in for platform/web/index.js, used by the tests only while the
// Web platform is not in the tree: it has the names glue.js imports, made
// from the global object's classes (Node.js has them, for ad hoc runs).
export const { AbortController, Headers, Request, Response, URL } = globalThis;
export function install(host) {}
export function nextTimer() {
	return -1;
}
export function runTimers() {}
export function clearAllTimers() {}
export function incomingRequest({ method, url, headers, bodySource, signal }) {
	const init = { method, headers: typeof headers === "function" ? headers() : headers, signal };
	if (bodySource) {
		init.duplex = "half";
		init.body = new ReadableStream({
			pull(c) {
				const chunk = bodySource();
				if (chunk === null) c.close();
				else c.enqueue(new Uint8Array(chunk));
			},
		});
	}
	return new Request(url, init);
}
export function responseBody(res) {
	return res.body;
}
export function headerPairs(headers) {
	return [...headers];
}
