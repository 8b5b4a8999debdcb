// fetch(): outbound HTTP through the host (abi/ABI.md, "Outbound HTTP";
// the fetch* natives of internal/jsengine/CONTRACT.md), as WHATWG Fetch
// describes it for a server: no CORS, no cookies, no cache.
//
// fetch() starts the request before it returns (fetchStart), so that
// Promise.all([fetch(a), fetch(b)]) runs both at once; the promise then
// waits on the handle (io.js) for the response head, and the response's
// body is a stream that reads the host's chunks as they are asked for. A
// request body is read whole before the request starts (a stream too).
//
// Errors reject as undici's do: TypeError('fetch failed', { cause }), the
// cause an Error whose message is the host's explanation (error_message:
// the allow-list entry to add, the DNS failure…) and whose code is the ABI
// error's name ('ErrDenied', 'ErrFailed'…). An aborted signal rejects with
// its reason (an AbortError DOMException by default) and closes the handle.
// Next.js's init.next and init.cache are accepted and have no effect.
import { host } from './host.js';
import { Request, fetchedResponse, requestBody } from './fetch.js';
import { headerPairs } from './headers.js';
import { parseHref } from './url.js';
import { ReadableStream } from './streams.js';
import * as io from './io.js';

const ErrPending = -8; // abi.ErrPending
const codeNames = new Map([[-1, 'ErrInvalid'], [-4, 'ErrTooLarge'], [-5, 'ErrClosed'], [-6, 'ErrDenied'],
  [-7, 'ErrLimit'], [-8, 'ErrPending'], [-9, 'ErrFailed'], [-10, 'ErrNotFound']]);

// hostError makes the Error of the ABI error code a fetch* or kv* native
// returned: its message the host's explanation (errorMessage), else what
// and the code's name; its code the name.
export function hostError(natives, code, what) {
  const name = codeNames.get(code) ?? `error ${code}`;
  let msg = '';
  try { msg = natives.errorMessage(); } catch { /* outside a request: none */ }
  const e = new Error(msg || `${what}: ${name}`);
  e.code = name;
  return e;
}

const CHUNK = 65536;

// The reason phrases of the statuses a server commonly answers (the ABI
// gives the status alone; HTTP/2 has no reason phrase).
const reasons = new Map(Object.entries({
  200: 'OK', 201: 'Created', 202: 'Accepted', 203: 'Non-Authoritative Information', 204: 'No Content',
  205: 'Reset Content', 206: 'Partial Content', 300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found',
  303: 'See Other', 304: 'Not Modified', 307: 'Temporary Redirect', 308: 'Permanent Redirect', 400: 'Bad Request',
  401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 411: 'Length Required',
  412: 'Precondition Failed', 413: 'Content Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable', 417: 'Expectation Failed', 418: "I'm a teapot", 421: 'Misdirected Request',
  422: 'Unprocessable Content', 425: 'Too Early', 426: 'Upgrade Required', 428: 'Precondition Required',
  429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Timeout', 505: 'HTTP Version Not Supported', 507: 'Insufficient Storage', 511: 'Network Authentication Required',
}).map(([k, v]) => [+k, v]));

const noFragment = url => { const i = url.indexOf('#'); return i < 0 ? url : url.slice(0, i); };
// shown is a URL as messages show it: without its query, which may hold a
// key (as the host's messages do).
const shown = url => { const i = url.search(/[?#]/); return i < 0 ? url : url.slice(0, i); };

// makeFetch returns a fetch function over fake.natives (fetchStart,
// fetchHead, fetchBodyRead, fetchClose, errorMessage) and fake's waiting
// functions (wait(handle): a promise resolved when the handle is ready;
// forget(handle)). Without fake, the host's natives and the engine's event
// loop (io.js): the global fetch. The platform's tests give fakes.
export function makeFetch(fake) {
  const natives = () => fake ? fake.natives : host;
  const wait = fake ? fake.wait : io.wait, forget = fake ? fake.forget : io.forget;
  const generation = fake ? () => 0 : () => io.generation;

  return function fetch(input, init = undefined) {
    return new Promise((resolve, reject) => {
      // A relative URL says what to do: Request's own message does not.
      if (!(input instanceof Request) && parseHref(String(input)) === null) {
        throw new TypeError(`fetch: ${JSON.stringify(String(input))} is not an absolute URL: a route handler has no base URL (use e.g. new URL(path, request.url))`);
      }
      const request = new Request(input, init);
      const signal = request.signal;
      signal.throwIfAborted();
      const body = requestBody(request);
      if (body instanceof Promise) body.then(b => start(request, b, signal, resolve, reject), reject);
      else start(request, body, signal, resolve, reject);
    });
  };

  function start(request, body, signal, resolve, reject) {
    if (signal.aborted) return reject(signal.reason);
    const N = natives();
    const list = [request.method, noFragment(request.url)];
    let accept = false;
    for (const [name, value] of headerPairs(request.headers)) {
      list.push(name, value);
      if (name === 'accept') accept = true;
    }
    if (!accept) list.push('accept', '*/*');
    const mode = request.redirect;
    const h = N.fetchStart(list, body, mode === 'manual' ? 1 : mode === 'error' ? 2 : 0);
    const what = `fetch ${shown(request.url)}`;
    if (h < 0) return reject(new TypeError('fetch failed', { cause: hostError(N, h, what) }));

    // The fetch's state: settled once the promise is, closed once the
    // handle is; controller is the body stream's.
    const gen = generation();
    let settled = false, closed = false, controller = null;
    // stale: the request that started the fetch has ended, and the host
    // closed the handle with it (its number may be another's now).
    const stale = () => gen !== generation();
    const close = () => {
      if (closed) return;
      closed = true;
      signal.removeEventListener('abort', onAbort);
      forget(h);
      if (!stale()) N.fetchClose(h);
    };
    const ended = () => new TypeError('fetch failed', { cause: new Error(`${what}: the request that started it has ended`) });
    const fail = (code, message) => new TypeError(message, { cause: hostError(N, code, what) });
    function onAbort() {
      if (closed) return;
      close();
      if (!settled) { settled = true; reject(signal.reason); }
      else if (controller) controller.error(signal.reason);
    }
    signal.addEventListener('abort', onAbort);

    const head = () => {
      if (closed) return;
      if (stale()) {
        settled = true;
        close();
        return reject(ended());
      }
      const r = N.fetchHead(h);
      if (r === ErrPending) return void wait(h).then(head);
      settled = true;
      if (typeof r === 'number') {
        const e = fail(r, 'fetch failed');
        close();
        return reject(e);
      }
      const status = +r[0], url = noFragment(parseHref(r[1]) ?? r[1]);
      const pairs = [];
      for (let i = 2; i + 1 < r.length; i += 2) pairs.push([r[i], r[i + 1]]);
      const none = request.method === 'HEAD' || status === 101 || status === 103 || status === 204 || status === 205 || status === 304;
      if (none) close();
      const redirected = mode === 'follow' && url !== noFragment(request.url);
      resolve(fetchedResponse(status, reasons.get(status) ?? '', pairs, url, redirected, none ? null : stream()));
    };

    // stream is the response body: each pull reads what the host has, or
    // waits on the handle for more.
    const stream = () => new ReadableStream({
      start(c) { controller = c; },
      pull(c) {
        const read = () => {
          if (closed) return; // aborted: the stream is errored already
          if (stale()) {
            close();
            throw ended();
          }
          const r = N.fetchBodyRead(h, CHUNK);
          if (r === ErrPending) return wait(h).then(read);
          if (typeof r === 'number') {
            const e = fail(r, `${what}: reading the response body failed`);
            close();
            throw e;
          }
          if (r.byteLength === 0) {
            close();
            c.close();
          } else c.enqueue(new Uint8Array(r));
        };
        return read();
      },
      cancel() { close(); },
    }, { highWaterMark: 0 });

    wait(h).then(head);
  }
}

export const fetch = makeFetch();
