// Request and Response, with the Body mixin. See https://fetch.spec.whatwg.org/.
//
// A body is a record {src, pull, stream, used}: src is a string or bytes in
// memory, pull a synchronous source (the incoming request's), stream a
// ReadableStream. The stream is made only when someone asks for .body (or
// clones a pulled body); text(), json() and the rest read src or pull directly.
import { enc, dec, bytesOf, isBufferSource, concat, toUSV, dictionary } from './util.js';
import { Headers, fill, headerPairs, setGuard, guardOf, appendTrusted, recordPairs } from './headers.js';
import { URLSearchParams, parseForm, parseHref } from './url.js';
import { Blob, FormData, formPairs, blobBytes, multipartEncode, multipartDecode } from './blob.js';
import { ReadableStream, rsi, takeDirect } from './streams.js';
import { AbortSignal, newSignal } from './dom.js';

const u8 = b => b instanceof ArrayBuffer ? new Uint8Array(b) : b;
const pullStream = pull => new ReadableStream({
  pull(c) { const b = pull(); if (b === null) c.close(); else c.enqueue(u8(b)); },
}, { highWaterMark: 0 });

const TEXT = 'text/plain;charset=UTF-8', TEXT_TYPE = [['content-type', TEXT]];
// extract makes a body from a BodyInit: [body, content-type or null].
function extract(v) {
  if (typeof v === 'string') return [newBody(toUSV(v)), TEXT];
  if (v instanceof ReadableStream) {
    if (v.locked || rsi(v).disturbed) throw new TypeError('the body stream is locked or disturbed');
    return [newBody(null, null, v), null];
  }
  if (isBufferSource(v)) return [newBody(bytesOf(v).slice()), null];
  if (v instanceof Blob) return [newBody(blobBytes(v)), v.type || null];
  if (v instanceof URLSearchParams) return [newBody(v.toString()), 'application/x-www-form-urlencoded;charset=UTF-8'];
  if (v instanceof FormData) {
    const boundary = '----formdata-wasmroute-' + Math.random().toString(16).slice(2) + Math.random().toString(16).slice(2);
    return [newBody(multipartEncode(v, boundary)), 'multipart/form-data; boundary=' + boundary];
  }
  return [newBody(toUSV(v)), TEXT];
}
// newBody makes a body record; every record has the same shape.
const newBody = (src = null, pull = null, stream = null, used = false) => ({ src, pull, stream, used });
const disturbed = B => B.stream ? rsi(B.stream).disturbed : B.used;
const locked = B => !!B.stream && !!rsi(B.stream).reader;
const unusable = B => disturbed(B) || locked(B);

function bodyStream(B) {
  if (B.stream) return B.stream;
  let s;
  if (B.used) { s = new ReadableStream({ start(c) { c.close(); } }); rsi(s).disturbed = true; }
  else if (B.pull) s = pullStream(B.pull);
  else {
    const src = B.src;
    s = new ReadableStream({
      pull(c) { const b = typeof src === 'string' ? enc(src) : src.slice(); if (b.length) c.enqueue(b); c.close(); },
    }, { highWaterMark: 0 });
  }
  return B.stream = s;
}

// consume reads the whole body: a promise of [string or bytes, whether the bytes are ours to keep].
async function consume(B) {
  if (!B) return [new Uint8Array(0), true];
  if (unusable(B)) throw new TypeError('Body is unusable: it has already been read');
  if (!B.stream) {
    B.used = true;
    if (!B.pull) return [B.src, false];
    const chunks = [];
    for (let c; (c = B.pull()) !== null;) chunks.push(u8(c));
    return [concat(chunks), true];
  }
  const reader = takeDirect(B.stream) ?? B.stream.getReader(), chunks = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (!(value instanceof Uint8Array)) {
      const e = new TypeError('a body stream chunk is not a Uint8Array');
      reader.cancel(e).catch(() => {});
      throw e;
    }
    chunks.push(value);
  }
  return [concat(chunks), chunks.length > 1];
}
const asBytes = ([v, own]) => typeof v === 'string' ? enc(v) : own ? v : v.slice();
const asText = ([v]) => {
  const s = typeof v === 'string' ? v : dec(v);
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
};
function cloneBody(B) {
  if (!B) return null;
  if (unusable(B)) throw new TypeError('clone: the body has already been read');
  if (!B.stream && !B.pull) return newBody(B.src);
  const [a, b] = bodyStream(B).tee();
  B.stream = a;
  return newBody(null, null, b);
}

// mixin adds the Body members to proto, given the private getters of its class.
function mixin(proto, bodyOf, headersOf) {
  const m = {
    arrayBuffer() { return consume(bodyOf(this)).then(r => { const b = asBytes(r); return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.slice().buffer; }); },
    bytes() { return consume(bodyOf(this)).then(asBytes); },
    text() { return consume(bodyOf(this)).then(asText); },
    json() { return consume(bodyOf(this)).then(r => JSON.parse(asText(r))); },
    blob() {
      const type = headersOf(this).get('content-type') ?? '';
      return consume(bodyOf(this)).then(r => new Blob([asBytes(r)], { type }));
    },
    formData() {
      const ct = headersOf(this).get('content-type') ?? '';
      return consume(bodyOf(this)).then(r => {
        const essence = ct.split(';')[0].trim().toLowerCase();
        if (essence === 'multipart/form-data') {
          const m = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(ct);
          const boundary = m && (m[1] ?? m[2]);
          if (!boundary) throw new TypeError('formData: the multipart/form-data content type has no boundary');
          return multipartDecode(asBytes(r), boundary);
        }
        if (essence === 'application/x-www-form-urlencoded') {
          const fd = new FormData();
          for (const [k, v] of parseForm(asText(r))) fd.append(k, v);
          return fd;
        }
        throw new TypeError(`formData: cannot parse a body of content type '${ct}'`);
      });
    },
  };
  for (const k in m) Object.defineProperty(proto, k, { value: m[k], writable: true, configurable: true });
  Object.defineProperty(proto, 'body', { get() { const B = bodyOf(this); return B && bodyStream(B); }, enumerable: true, configurable: true });
  Object.defineProperty(proto, 'bodyUsed', { get() { const B = bodyOf(this); return !!B && disturbed(B); }, enumerable: true, configurable: true });
}

const credentials = /^[^:]*:\/\/[^/?#]*@/;
const methods = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'];
function normalizeMethod(m) {
  m = String(m);
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(m)) throw new TypeError(`Request: '${m}' is not a valid HTTP method`);
  const u = m.toUpperCase();
  if (u === 'CONNECT' || u === 'TRACE' || u === 'TRACK') throw new TypeError(`Request: '${m}' HTTP method is unsupported`);
  return methods.includes(u) ? u : m;
}
const custom = Symbol.for('nodejs.util.inspect.custom');
const INCOMING = {};
const enumOf = (v, allowed, what) => {
  v = String(v);
  if (!allowed.includes(v)) throw new TypeError(`Request: '${v}' is not a valid ${what}`);
  return v;
};

// Set by the classes' static blocks: the internal access to their private state.
let takeBody, initResponse, responsePairs, takeRequestBody, makeFetched;
// jsonResponse(C, text, init) makes a C (Response or a subclass) of JSON text, as Response.json does.
export let jsonResponse;
const JSON_TYPE = [['content-type', 'application/json']];

const defaults = Object.freeze({
  redirect: 'follow', mode: 'cors', credentials: 'same-origin', cache: 'default',
  referrer: 'about:client', referrerPolicy: '', integrity: '', keepalive: false,
});

export class Request {
  #method = 'GET'; #url; #headers = null; #lazyHeaders = null; #body = null; #signal;
  // The rarely set members, in one record shared until one is set: each
  // private field costs the constructor about half a microsecond.
  #o = defaults;
  constructor(input, init) {
    if (input === INCOMING) {
      this.#method = init.method; this.#url = init.url; this.#lazyHeaders = init.headers;
      this.#body = init.bodySource ? newBody(null, init.bodySource) : null;
      this.#signal = init.signal ?? null;
      return;
    }
    // (new Request() throws a TypeError parsing "undefined": no arguments object.)
    init = dictionary(init, 'RequestInit');
    let src = null;
    if (input instanceof Request) {
      src = input;
      this.#method = src.#method; this.#url = src.#url; this.#o = src.#o;
    } else {
      const href = parseHref(input);
      if (href === null) throw new TypeError(`Request: invalid URL '${input}'`);
      if (href.includes('@') && credentials.test(href)) throw new TypeError(`Request: a URL with credentials is not allowed: '${input}'`);
      this.#url = href;
    }
    if (init.method !== undefined) this.#method = normalizeMethod(init.method);
    if (init.redirect !== undefined || init.mode !== undefined || init.credentials !== undefined || init.cache !== undefined ||
      init.referrer !== undefined || init.referrerPolicy !== undefined || init.integrity !== undefined || init.keepalive !== undefined) {
      const o = this.#o = { ...this.#o };
      if (init.redirect !== undefined) o.redirect = enumOf(init.redirect, ['follow', 'error', 'manual'], 'redirect mode');
      if (init.mode !== undefined) {
        o.mode = enumOf(init.mode, ['navigate', 'same-origin', 'no-cors', 'cors'], 'mode');
        if (o.mode === 'navigate') throw new TypeError("Request: mode 'navigate' is not allowed");
      }
      if (init.credentials !== undefined) o.credentials = enumOf(init.credentials, ['omit', 'same-origin', 'include'], 'credentials mode');
      if (init.cache !== undefined) o.cache = enumOf(init.cache, ['default', 'no-store', 'reload', 'no-cache', 'force-cache', 'only-if-cached'], 'cache mode');
      if (init.referrer !== undefined) o.referrer = String(init.referrer) === '' ? '' : 'about:client';
      if (init.referrerPolicy !== undefined) o.referrerPolicy = String(init.referrerPolicy);
      if (init.integrity !== undefined) o.integrity = String(init.integrity);
      if (init.keepalive !== undefined) o.keepalive = !!init.keepalive;
      Object.freeze(o);
    }
    let signal = src ? src.signal : null;
    if (init.signal !== undefined) {
      if (init.signal !== null && !(init.signal instanceof AbortSignal)) throw new TypeError('Request: signal must be an AbortSignal');
      signal = init.signal;
    }
    // The signal is made when first asked for (see get signal).
    this.#signal = signal ? () => AbortSignal.any([signal]) : null;
    const headers = this.#headers = new Headers();
    if (init.headers !== undefined) fill(headers, init.headers);
    else if (src) fill(headers, src.headers);
    const inputBody = src ? src.#body : null;
    if ((init.body != null || inputBody) && (this.#method === 'GET' || this.#method === 'HEAD'))
      throw new TypeError('Request with GET/HEAD method cannot have body.');
    if (init.body != null) {
      const e = extract(init.body), b = e[0], type = e[1];
      this.#body = b;
      if (type && !headers.has('content-type')) headers.append('content-type', type);
    } else if (inputBody) {
      if (unusable(inputBody)) throw new TypeError('Request: the input request body has already been used');
      this.#body = inputBody;
      src.#body = newBody(null, null, null, true);
    }
  }
  get method() { return this.#method; }
  get url() { return this.#url; }
  get headers() {
    if (!this.#headers) {
      this.#headers = new Headers();
      const h = this.#lazyHeaders;
      if (h) appendTrusted(this.#headers, typeof h === 'function' ? h() : h);
      this.#lazyHeaders = null;
    }
    return this.#headers;
  }
  get destination() { return ''; }
  get referrer() { return this.#o.referrer; }
  get referrerPolicy() { return this.#o.referrerPolicy; }
  get mode() { return this.#o.mode; }
  get credentials() { return this.#o.credentials; }
  get cache() { return this.#o.cache; }
  get redirect() { return this.#o.redirect; }
  get integrity() { return this.#o.integrity; }
  get keepalive() { return this.#o.keepalive; }
  get isReloadNavigation() { return false; }
  get isHistoryNavigation() { return false; }
  get signal() {
    // null: a signal that never aborts; a function: makes the signal.
    const s = this.#signal;
    if (s === null) return this.#signal = newSignal();
    return typeof s === 'function' ? this.#signal = s() : s;
  }
  get duplex() { return 'half'; }
  clone() {
    const r = new Request(this.#url, { method: this.#method, headers: this.headers, signal: this.signal });
    r.#o = this.#o;
    r.#body = cloneBody(this.#body);
    return r;
  }
  [custom](depth, opts, inspect) {
    return 'Request ' + inspect({ method: this.method, url: this.url, headers: this.headers, bodyUsed: this.bodyUsed }, opts);
  }
  static {
    mixin(Request.prototype, r => r.#body, r => r.headers);
    takeRequestBody = r => {
      const B = r.#body;
      if (!B) return null;
      if (unusable(B)) throw new TypeError('fetch: the request body has already been used');
      if (B.stream || B.pull) return consume(B).then(asBytes);
      B.used = true;
      return B.src;
    };
  }
}

const nullBodyStatus = s => s === 101 || s === 103 || s === 204 || s === 205 || s === 304;
const redirectStatus = s => s === 301 || s === 302 || s === 303 || s === 307 || s === 308;

const NO_HEADERS = [];
// The responses fetch() got after following a redirect (a field would cost
// every Response's constructor).
const redirected = new WeakSet();

export class Response {
  // #headers is a Headers, or until one is needed (response.headers, an
  // init with headers) the list of pairs it will hold: NO_HEADERS,
  // TEXT_TYPE, JSON_TYPE or a new list (fetch()'s, whose Headers will be
  // immutable), none of them ever modified. The dispatcher sends such a
  // response without making the Headers.
  #type = 'default'; #status = 200; #statusText = ''; #headers = NO_HEADERS; #body = null; #url = '';
  constructor(body = null, init) {
    if (init !== undefined) {
      init = dictionary(init, 'ResponseInit');
      initResponse(this, init);
    }
    if (body !== null && body !== undefined) {
      if (nullBodyStatus(this.#status)) throw new TypeError(`Response with null body status ${this.#status} cannot have body`);
      const e = extract(body), b = e[0], type = e[1]; // (no destructuring: it iterates)
      this.#body = b;
      if (type === null) return;
      if (init === undefined || init.headers === undefined) this.#addType(type === TEXT ? TEXT_TYPE : [['content-type', type]]);
      else if (!this.headers.has('content-type')) this.headers.append('content-type', type);
    }
  }
  // #addType adds pairs (one content-type) to headers that have none.
  #addType(pairs) {
    const h = this.#headers;
    if (h === NO_HEADERS) this.#headers = pairs;
    else if (h instanceof Headers) appendTrusted(h, pairs);
    else this.#headers = h.concat(pairs);
  }
  static {
    // initResponse applies a ResponseInit (a dictionary) to r.
    initResponse = (r, init) => {
      if (init.status !== undefined) {
        const s = Math.trunc(Number(init.status)) || 0;
        if (s < 200 || s > 599) throw new RangeError(`Response: status ${init.status} is not in the range 200 to 599`);
        r.#status = s;
      }
      if (init.statusText !== undefined) {
        const t = String(init.statusText);
        if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(t)) throw new TypeError(`Response: invalid statusText ${JSON.stringify(t)}`);
        r.#statusText = t;
      }
      if (init.headers !== undefined) {
        // A record (the common { 'content-type': … }) stays a list of pairs
        // until someone asks for the Headers.
        const pairs = r.#headers === NO_HEADERS ? recordPairs(init.headers) : null;
        if (pairs !== null) r.#headers = pairs;
        else fill(r.headers, init.headers);
      }
    };
  }
  static error() {
    const r = new Response();
    r.#type = 'error'; r.#status = 0;
    setGuard(r.headers, 'immutable');
    return r;
  }
  static redirect(url, status = 302) {
    const href = parseHref(url);
    if (href === null) throw new TypeError(`Response.redirect: invalid URL '${url}'`);
    status = Math.trunc(Number(status)) || 0;
    if (!redirectStatus(status)) throw new RangeError(`Response.redirect: invalid status ${status}`);
    const r = new Response(null, { status });
    r.headers.set('location', href);
    setGuard(r.headers, 'immutable');
    return r;
  }
  static json(data, init) {
    const s = JSON.stringify(data);
    if (s === undefined) throw new TypeError('Response.json: the data is not JSON serializable');
    return jsonResponse(Response, s, init);
  }
  get type() { return this.#type; }
  get url() { return this.#url; }
  get redirected() { return redirected.has(this); }
  get status() { return this.#status; }
  get ok() { return this.#status >= 200 && this.#status <= 299; }
  get statusText() { return this.#statusText; }
  get headers() {
    const h = this.#headers;
    if (h instanceof Headers) return h;
    const headers = this.#headers = new Headers();
    appendTrusted(headers, h);
    if (this.#type === 'basic') setGuard(headers, 'immutable'); // fetch()'s (or a clone's)
    return headers;
  }
  clone() {
    const r = new Response();
    r.#type = this.#type; r.#status = this.#status; r.#statusText = this.#statusText; r.#url = this.#url;
    const h = this.#headers;
    if (h instanceof Headers) {
      fill(r.headers, h);
      setGuard(r.#headers, guardOf(h));
    } else r.#headers = h;
    r.#body = cloneBody(this.#body);
    if (redirected.has(this)) redirected.add(r);
    return r;
  }
  [custom](depth, opts, inspect) {
    return 'Response ' + inspect({ status: this.status, statusText: this.statusText, headers: this.headers, body: this.body, bodyUsed: this.bodyUsed, ok: this.ok, redirected: this.redirected, type: this.type, url: this.url }, opts);
  }
  static {
    mixin(Response.prototype, r => r.#body, r => r.headers);
    jsonResponse = (C, s, init) => {
      const r = new C(null, init);
      if (nullBodyStatus(r.#status)) throw new TypeError(`Response with null body status ${r.#status} cannot have body`);
      r.#body = newBody(s);
      if (init === undefined || init === null || init.headers === undefined) r.#addType(JSON_TYPE);
      else if (!r.headers.has('content-type')) r.headers.append('content-type', 'application/json');
      return r;
    };
    takeBody = r => {
      const B = r.#body;
      if (!B) return null;
      if (unusable(B)) throw new TypeError('the response body has already been used');
      if (B.stream || B.pull) return bodyStream(B);
      B.used = true;
      return B.src;
    };
    responsePairs = r => {
      const h = r.#headers;
      return h instanceof Headers ? headerPairs(h) : h;
    };
    makeFetched = (status, statusText, pairs, url, wasRedirected, stream) => {
      const r = new Response();
      r.#type = 'basic'; r.#status = status; r.#statusText = statusText; r.#url = url;
      r.#headers = pairs; // made into immutable Headers when asked for
      if (stream) r.#body = newBody(null, null, stream);
      if (wasRedirected) redirected.add(r);
      return r;
    };
  }
}

// incomingRequest makes the Request the dispatcher hands to a route handler.
//
//   method      string, as the host gives it (host.method())
//   url         string, the absolute URL (scheme://host/path?query); it is
//               parsed, so request.url is its WHATWG serialization
//   headers     array of [lowercase name, value] pairs, or a function returning
//               one, called the first time the handler reads request.headers;
//               trusted: not validated (values are ByteStrings, one char per byte)
//   bodySource  null (no body: GET, HEAD), or a function returning the next
//               chunk (a Uint8Array or an ArrayBuffer, synchronously) or null at
//               the end; called only when the handler reads the body, e.g.
//                 () => { const b = host.bodyRead(65536);
//                         if (typeof b === 'number') throw new Error(`bodyRead: ${b}`);
//                         return b.byteLength ? b : null; }
//               text()/json()/… drain it in a loop; request.body is a
//               ReadableStream (highWaterMark 0) that calls it on each pull
//   signal      an AbortSignal (e.g. an AbortController's, aborted when the
//               client goes away), a function returning one, called the first
//               time the handler reads request.signal, or undefined for one
//               that never aborts
//
// The request is made as newTarget (Request or a subclass, whose constructor
// does not run) would make it. It throws a TypeError if url does not parse.
export function incomingRequest(init, newTarget = Request) {
  const href = parseHref(init.url);
  if (href === null) throw new TypeError(`incomingRequest: invalid URL '${init.url}'`);
  const { method, headers, bodySource, signal } = init;
  return Reflect.construct(Request, [INCOMING, { method, url: href, headers, bodySource, signal }], newTarget);
}

// responseBody takes a Response's body for the dispatcher to send: null (no
// body), a string (send as UTF-8: host.bodyWrite(string)), a Uint8Array (send
// as is; do not modify it) or a ReadableStream (pump it with getReader(): its
// chunks should be Uint8Arrays). The body counts as used afterwards. It throws
// a TypeError when the body was already used or its stream is locked.
export function responseBody(response) {
  return takeBody(response);
}
export { headerPairs };

// responseHeaderPairs returns a Response's header list, as headerPairs
// does, without making its Headers when no one has asked for them. Do not
// modify it.
export function responseHeaderPairs(response) {
  return responsePairs(response);
}

// requestBody takes a Request's body for fetch() to send, marking it used:
// null (none), a string (send as UTF-8), a Uint8Array (do not modify it), or
// a promise of a Uint8Array (a stream, read to its end). It throws a
// TypeError when the body was already used.
export function requestBody(request) {
  return takeRequestBody(request);
}

// fetchedResponse makes the Response fetch() resolves to: status (any
// number the host gave), statusText, header pairs ([lowercase name, value],
// trusted: the host's; the list is kept, do not modify it), the final URL, whether a redirect was followed, and
// the body stream (null for none). Its headers are immutable.
export function fetchedResponse(status, statusText, pairs, url, wasRedirected, stream) {
  return makeFetched(status, statusText, pairs, url, wasRedirected, stream);
}
