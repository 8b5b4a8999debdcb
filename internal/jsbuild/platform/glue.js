// glue.js is the one place that names what the platform takes from the Web
// platform (web/index.js); the rest of the platform imports it from here.
//
// Besides the classes and the timer hooks, web/ provides two fast paths:
//
//   createIncomingRequest(url, init) -> Request
//       the request being served: init is { method, headers, signal }, and
//       its body reads host.bodyRead lazily, as the handler consumes it.
//   responseBody(response) -> null | string | ArrayBuffer | view | ReadableStream
//       a Response's body as it was given, without copying, marking the
//       body used: a string or bytes go out in one host.bodyWrite.
export {
	AbortController,
	Headers,
	Request,
	Response,
	URL,
	clearAllTimers,
	createIncomingRequest,
	install,
	nextTimer,
	responseBody,
	runTimers,
} from "./web/index.js";
