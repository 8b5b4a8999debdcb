// glue.js is the one place that names what the platform takes from the Web
// platform (web/index.js); the rest of the platform imports it from here.
//
// Besides the classes and the timer hooks, web/ gives the dispatcher:
//
//   incomingRequest({ method, url, headers, bodySource, signal }) -> Request
//       the request being served; headers are [name, value] pairs or a
//       function returning them when first read; bodySource returns the
//       next body chunk (or null at the end) when the handler reads it.
//   responseBody(response) -> null | string | Uint8Array | ReadableStream
//       a Response's body as it was given, marking it used: a string or
//       bytes go out in one host.bodyWrite.
//   headerPairs(headers) -> [name, value] pairs, uncombined (each
//       Set-Cookie apart).
//   responseHeaderPairs(response) -> headerPairs(response.headers),
//       without making the Headers of a response whose headers no one
//       has asked for.
//   takeDirect(stream) -> a reader ({ read(), cancel(reason) }, read's
//       result a { value, done } or a promise of one) of a fetched body
//       that reads the host's chunks without the stream's machinery, the
//       stream locked; null for any other stream, or one already touched.
//   setStackMapper(fn) -> console maps the stack traces it prints with fn.
//   io(), ready(handle) -> the engine's hooks for the handles fetch() waits
//       on; clearIO() drops them when a request ends.
//   hostError(natives, code, what) -> the Error of a fetch* or kv* native's
//       error code, its message the host's explanation.
//   parseHref(input) -> the href of the absolute URL input, or null.
//   jsonResponse(C, text, init) -> a C (Response or a subclass) of the JSON
//       text, as Response.json makes it.
export {
	AbortController,
	Headers,
	Request,
	Response,
	URL,
	clearAllTimers,
	clearIO,
	hostError,
	io,
	ready,
	headerPairs,
	incomingRequest,
	jsonResponse,
	install,
	nextTimer,
	parseHref,
	responseBody,
	responseHeaderPairs,
	runTimers,
	setStackMapper,
	takeDirect,
} from "./web/index.js";
