// The Web platform globals of wasmroute's JavaScript routes.
//
// Why hand-written: QuickJS has only the ECMAScript builtins, and every
// route's snapshot holds this code and the objects it makes. The polyfills
// that would do the job (whatwg-url with tr46 and its Unicode tables,
// web-streams-polyfill, undici's fetch classes, formdata-node, …) are several
// hundred KiB once bundled, are written for engines that JIT, and pull in
// one another's WebIDL layers. The pieces here are written from the WHATWG
// specifications (URL, Fetch, Streams, Encoding, DOM, HTML's timers,
// structured clone and base64), share one small WebIDL layer (util.js), lean
// on the host for what C does faster (UTF-8, digests, random bytes), and keep
// the work lazy on the request path: request headers are read from the host
// when first used, a body is not made into a stream unless someone asks for
// .body, and a string response body goes to the host as a string. What they
// leave out is listed at the top of each module (URL: most of UTS #46;
// streams: byte streams and BYOB readers; fetch: forbidden header names, CORS,
// cookies, caching).
//
// install(host) defines the globals; the other exports are the classes and
// the functions the dispatcher uses (incomingRequest, responseBody,
// responseHeaderPairs, headerPairs, takeDirect, nextTimer, runTimers, clearAllTimers,
// io, ready, clearIO, reportError, format, inspect), hostError for the
// platform's other services, and makeFetch for the tests.
import { setHost } from './host.js';
import { DOMException, Event, CustomEvent, EventTarget, AbortController, AbortSignal } from './dom.js';
import { setTimeout, clearTimeout, setInterval, clearInterval, queueMicrotask, nextTimer, runTimers, clearAllTimers } from './timers.js';
import { console, format, inspect, reportError, setStackMapper } from './console.js';
import { TextEncoder, TextDecoder, atob, btoa } from './encoding.js';
import { URL, URLSearchParams, parseHref } from './url.js';
import { Headers, headerPairs } from './headers.js';
import { Blob, File, FormData } from './blob.js';
import {
  ReadableStream, ReadableStreamDefaultReader, ReadableStreamDefaultController, WritableStream,
  WritableStreamDefaultWriter, WritableStreamDefaultController, TransformStream, TransformStreamDefaultController,
  CountQueuingStrategy, ByteLengthQueuingStrategy, TextEncoderStream, TextDecoderStream, takeDirect,
} from './streams.js';
import { Request, Response, incomingRequest, jsonResponse, responseBody, responseHeaderPairs } from './fetch.js';
import { fetch, makeFetch, hostError } from './client.js';
import { io, ready, clearIO, wait as waitIO, forget as forgetIO } from './io.js';
import { structuredClone, setUncloneable } from './clone.js';
import { crypto, Crypto, SubtleCrypto, performance, Performance, navigator, Navigator } from './crypto.js';

const classes = {
  DOMException, Event, CustomEvent, EventTarget, AbortController, AbortSignal, TextEncoder, TextDecoder,
  URL, URLSearchParams, Headers, Blob, File, FormData, Request, Response,
  ReadableStream, ReadableStreamDefaultReader, ReadableStreamDefaultController, WritableStream,
  WritableStreamDefaultWriter, WritableStreamDefaultController, TransformStream, TransformStreamDefaultController,
  CountQueuingStrategy, ByteLengthQueuingStrategy, TextEncoderStream, TextDecoderStream,
  Crypto, SubtleCrypto, Performance, Navigator,
};
const functions = {
  fetch, setTimeout, clearTimeout, setInterval, clearInterval, queueMicrotask, structuredClone, atob, btoa, reportError,
};
const objects = { console, crypto, performance, navigator };

let installed = false;
// install defines the globals on globalThis (non-enumerable, writable and
// configurable, as WebIDL does), given the engine's native host object
// (internal/jsengine/CONTRACT.md). It does not delete globalThis.__wasmroute_host.
export function install(host) {
  setHost(host);
  if (installed) return;
  installed = true;
  for (const [name, C] of Object.entries(classes)) {
    if (!Object.hasOwn(C.prototype, Symbol.toStringTag))
      Object.defineProperty(C.prototype, Symbol.toStringTag, { value: name, configurable: true });
  }
  setUncloneable(Object.values(classes).filter(C => C !== DOMException && C !== Blob && C !== File));
  const all = { ...classes, ...functions, ...objects };
  for (const [name, v] of Object.entries(all))
    Object.defineProperty(globalThis, name, { value: v, writable: true, configurable: true, enumerable: false });
}

export {
  DOMException, Event, CustomEvent, EventTarget, AbortController, AbortSignal, TextEncoder, TextDecoder,
  URL, URLSearchParams, Headers, Blob, File, FormData, Request, Response,
  ReadableStream, ReadableStreamDefaultReader, ReadableStreamDefaultController, WritableStream,
  WritableStreamDefaultWriter, WritableStreamDefaultController, TransformStream, TransformStreamDefaultController,
  CountQueuingStrategy, ByteLengthQueuingStrategy, TextEncoderStream, TextDecoderStream,
  Crypto, SubtleCrypto, Performance, Navigator,
  fetch, setTimeout, clearTimeout, setInterval, clearInterval, queueMicrotask, structuredClone, atob, btoa,
  console, crypto, performance, navigator,
  makeFetch, hostError, io, ready, clearIO, waitIO, forgetIO, takeDirect,
  incomingRequest, jsonResponse, parseHref, responseBody, responseHeaderPairs, headerPairs, nextTimer, runTimers, clearAllTimers, reportError, format, inspect,
  setStackMapper,
};
