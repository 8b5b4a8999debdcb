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
import { hostStream } from './streams.js';
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
const notAbsolute = input => new TypeError(`fetch: ${JSON.stringify(String(input))} is not an absolute URL: a route handler has no base URL (use e.g. new URL(path, request.url))`);
const NO_PAIRS = [], DONE = Object.freeze({ value: undefined, done: true });

// makeFetch returns a fetch function over fake.natives (fetchStart,
// fetchHead, fetchBodyRead, fetchClose, errorMessage) and fake's waiting
// functions (wait(handle): a promise resolved when the handle is ready;
// forget(handle)). Without fake, the host's natives and the engine's event
// loop (io.js): the global fetch. The platform's tests give fakes.
//
// Each step costs the interpreter microseconds, so the common fetch(url)
// makes no Request (its headers, signal and body would be empty), a fetch's
// state is one object whose methods are shared (no closures made per
// fetch), the head is read straight from the engine's ready call (no
// promise), and a body passed on whole (new Response(res.body), res.text())
// is read through the stream's direct reader (streams.js, hostStream).
export function makeFetch(fake) {
  const natives = () => fake ? fake.natives : host;
  const forget = fake ? fake.forget : io.forget;
  const onReady = fake ? (h, fn) => void fake.wait(h).then(fn) : io.onReady;
  const generation = fake ? () => 0 : () => io.generation;

  // Fetch is the state of one fetch: settled once its promise is, closed
  // once its handle is; controller is the body stream's, failure what
  // aborted the body after the head (its direct reader throws it), pending
  // the resolve of a body read waiting on the handle.
  class Fetch {
    constructor(N, h, method, url, signal, mode, resolve, reject) {
      this.N = N; this.h = h; this.method = method; this.url = url; this.signal = signal; this.mode = mode;
      this.resolve = resolve; this.reject = reject;
      this.gen = generation(); this.settled = false; this.closed = false; this.controller = null;
      this.failure = undefined; this.abortListener = null; this.pending = null;
    }
    get what() { return `fetch ${shown(this.url)}`; }
    // stale: the request that started the fetch has ended, and the host
    // closed the handle with it (its number may be another's now).
    stale() { return this.gen !== generation(); }
    close() {
      if (this.closed) return;
      this.closed = true;
      if (this.abortListener) this.signal.removeEventListener('abort', this.abortListener);
      forget(this.h);
      if (!this.stale()) this.N.fetchClose(this.h);
      // A read waiting for the host ends: undefined, or the direct
      // reader's failure.
      if (this.pending !== null) { this.pending(); this.pending = null; }
    }
    ended() { return new TypeError('fetch failed', { cause: new Error(`${this.what}: the request that started it has ended`) }); }
    fail(code, message) { return new TypeError(message, { cause: hostError(this.N, code, this.what) }); }
    aborted() {
      if (this.closed) return;
      const reason = this.signal.reason;
      if (this.settled) this.failure = reason;
      this.close();
      if (!this.settled) { this.settled = true; this.reject(reason); }
      else if (this.controller) this.controller.error(reason);
    }
    ready() {
      try { this.head(); } catch (e) {
        if (!this.settled) { this.settled = true; this.close(); this.reject(e); }
      }
    }
    head() {
      if (this.closed) return;
      if (this.stale()) {
        this.settled = true;
        this.close();
        return this.reject(this.ended());
      }
      const r = this.N.fetchHead(this.h);
      if (r === ErrPending) return onReady(this.h, () => this.ready());
      this.settled = true;
      if (typeof r === 'number') {
        const e = this.fail(r, 'fetch failed');
        this.close();
        return this.reject(e);
      }
      // The host answers with the URL it was given when no redirect was
      // followed: already serialized.
      const status = +r[0], url = r[1] === this.url ? r[1] : noFragment(parseHref(r[1]) ?? r[1]);
      const pairs = [];
      for (let i = 2; i + 1 < r.length; i += 2) pairs.push([r[i], r[i + 1]]);
      const none = this.method === 'HEAD' || status === 101 || status === 103 || status === 204 || status === 205 || status === 304;
      if (none) this.close();
      const redirected = this.mode === 'follow' && url !== this.url;
      this.resolve(fetchedResponse(status, reasons.get(status) ?? '', pairs, url, redirected, none ? null : this.stream()));
    }
    // read returns the body's next chunk (a Uint8Array), null at its end,
    // undefined once closed (the end read, a cancel or an abort), or a
    // promise of one of these when it must wait for the host.
    read() {
      if (this.closed) return undefined;
      if (this.stale()) {
        this.close();
        throw this.ended();
      }
      const r = this.N.fetchBodyRead(this.h, CHUNK);
      if (r === ErrPending) return new Promise(resolve => onReady(this.h, this.pending = resolve)).then(() => this.read());
      if (typeof r === 'number') {
        const e = this.fail(r, `${this.what}: reading the response body failed`);
        this.close();
        throw e;
      }
      if (r.byteLength === 0) {
        this.close();
        return null;
      }
      return new Uint8Array(r);
    }
    // stream is the response body: each pull reads what the host has, or
    // waits on the handle for more.
    stream() {
      const [s, c] = hostStream(c => this.pull(c), () => this.close(), new Direct(this));
      this.controller = c;
      return s;
    }
    pull(c) {
      const r = this.read();
      if (r instanceof Promise) return r.then(x => deliver(c, x));
      deliver(c, r);
    }
  }
  // deliver gives a read's result to the body stream's controller.
  const deliver = (c, x) => {
    if (x === null) c.close();
    else if (x !== undefined) c.enqueue(x);
  };
  // Direct is a fetched body's direct reader: read() gives what a stream
  // reader's read() would (or throws what it would reject with).
  class Direct {
    constructor(f) { this.f = f; }
    read() {
      const r = this.f.read();
      return r instanceof Promise ? r.then(x => this.result(x)) : this.result(r);
    }
    result(x) {
      if (x !== undefined && x !== null) return { value: x, done: false };
      if (this.f.failure !== undefined) throw this.f.failure;
      return DONE;
    }
    cancel() {
      this.f.close();
      return Promise.resolve();
    }
  }

  return function fetch(input, init = undefined) {
    return new Promise((resolve, reject) => {
      let href;
      if (init === undefined && typeof input === 'string' && (href = parseHref(input)) !== null && !href.includes('@')) {
        // fetch(url): a GET without headers, body or signal.
        return start('GET', href, NO_PAIRS, null, null, 'follow', resolve, reject);
      }
      // A relative URL says what to do: Request's own message does not.
      if (href === null || (!(input instanceof Request) && parseHref(String(input)) === null)) throw notAbsolute(input);
      const request = new Request(input, init);
      const signal = request.signal;
      signal.throwIfAborted();
      const body = requestBody(request);
      const go = b => start(request.method, request.url, headerPairs(request.headers), b, signal, request.redirect, resolve, reject);
      if (body instanceof Promise) body.then(go, reject);
      else go(body);
    });
  };

  function start(method, url, headers, body, signal, mode, resolve, reject) {
    if (signal !== null && signal.aborted) return reject(signal.reason);
    const N = natives();
    url = noFragment(url);
    const list = [method, url];
    let accept = false;
    for (let i = 0; i < headers.length; i++) {
      const name = headers[i][0];
      list.push(name, headers[i][1]);
      if (name === 'accept') accept = true;
    }
    if (!accept) list.push('accept', '*/*');
    const h = N.fetchStart(list, body, mode === 'manual' ? 1 : mode === 'error' ? 2 : 0);
    if (h < 0) return reject(new TypeError('fetch failed', { cause: hostError(N, h, `fetch ${shown(url)}`) }));
    const f = new Fetch(N, h, method, url, signal, mode, resolve, reject);
    if (signal !== null) signal.addEventListener('abort', f.abortListener = () => f.aborted());
    onReady(h, () => f.ready());
  }
}

export const fetch = makeFetch();
