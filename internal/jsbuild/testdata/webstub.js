// A stand-in for platform/web/index.js, used by the tests only while the
// Web platform is not in the tree: it names what glue.js imports, taking
// the classes from the global object (Node.js has them, for ad hoc runs).
export const { AbortController, Headers, Request, Response, URL } = globalThis;
export function install(host) {}
export function nextTimer() {
	return -1;
}
export function runTimers() {}
export function clearAllTimers() {}
export function createIncomingRequest(url, init) {
	return new Request(url, init);
}
export function responseBody(res) {
	return res.body;
}
