// ReadableStream (default controller and reader; no byte streams or BYOB),
// WritableStream, TransformStream, the queuing strategies and
// TextEncoderStream/TextDecoderStream. See https://streams.spec.whatwg.org/.
//
// Each public object holds one internal record (#S, #W) that the algorithms
// below work on; the records are what the spec calls the stream's slots plus
// its controller's.
import { AbortController, AbortSignal } from './dom.js';
import { TextEncoder, TextDecoder } from './encoding.js';

const noop = () => {};
const resolved = v => Promise.resolve(v);
const handled = p => (p.catch(noop), p);
// defer is a promise with its settle functions and a settled flag.
function defer() {
  const d = { settled: false };
  d.promise = new Promise((res, rej) => {
    d.resolve = v => { if (!d.settled) { d.settled = true; res(v); } };
    d.reject = e => { if (!d.settled) { d.settled = true; rej(e); } };
  });
  return d;
}
// hdefer is a defer whose rejection counts as handled (the spec's closed and ready promises).
const hdefer = () => { const d = defer(); handled(d.promise); return d; };
// call calls fn and returns its result as a promise (a throw becomes a rejection).
function call(fn, ...args) {
  try { return resolved(fn ? fn(...args) : undefined); } catch (e) { return Promise.reject(e); }
}
function method(o, name) {
  const f = o[name];
  if (f !== undefined && typeof f !== 'function') throw new TypeError(`${name} must be a function`);
  return f && ((...a) => f.apply(o, a));
}
function strategy(s, defaultHWM) {
  s = s ?? {};
  const hwm = s.highWaterMark === undefined ? defaultHWM : Number(s.highWaterMark);
  if (Number.isNaN(hwm) || hwm < 0) throw new RangeError('highWaterMark must be a non-negative number');
  const size = s.size;
  if (size !== undefined && typeof size !== 'function') throw new TypeError('size must be a function');
  return {
    hwm,
    size: size ? c => {
      const n = Number(size(c));
      if (!(n >= 0 && n < Infinity)) throw new RangeError('a chunk size must be a finite, non-negative number');
      return n;
    } : () => 1,
  };
}
const token = {};

// Set by the classes' static blocks: the internal access to their private state.
let newController;
// rsi(stream) returns a ReadableStream's internal record (a TypeError for anything else).
export let rsi;
let newWController;
let wsi;
let newTController;

// --- ReadableStream ---

function desired(S) { return S.state === 'errored' ? null : S.state === 'closed' ? 0 : S.hwm - S.qsize; }
const canCloseOrEnqueue = S => !S.closeRequested && S.state === 'readable';
function rsEnqueue(S, chunk) {
  if (!canCloseOrEnqueue(S)) throw new TypeError('ReadableStream: cannot enqueue on a stream that is closed or errored');
  const R = S.reader;
  if (R && R.reads.length) R.reads.shift().resolve({ value: chunk, done: false });
  else {
    let n;
    try { n = S.size(chunk); } catch (e) { rsError(S, e); throw e; }
    S.queue.push({ v: chunk, n });
    S.qsize += n;
  }
  pullIfNeeded(S);
}
function rsClose(S) {
  if (!canCloseOrEnqueue(S)) throw new TypeError('ReadableStream: cannot close a stream that is closed or errored');
  S.closeRequested = true;
  if (!S.queue.length) finishClose(S);
}
function finishClose(S) {
  S.state = 'closed';
  S.pull = S.cancel = null;
  const R = S.reader;
  if (R) {
    for (const r of R.reads) r.resolve({ value: undefined, done: true });
    R.reads = [];
    R.closed.resolve();
  }
}
function rsError(S, e) {
  if (S.state !== 'readable') return;
  S.queue = []; S.qsize = 0;
  S.state = 'errored'; S.error = e;
  S.pull = S.cancel = null;
  const R = S.reader;
  if (R) {
    for (const r of R.reads) r.reject(e);
    R.reads = [];
    R.closed.reject(e);
  }
}
function pullIfNeeded(S) {
  if (!S.started || !canCloseOrEnqueue(S)) return;
  if (!(S.reader && S.reader.reads.length) && !(desired(S) > 0)) return;
  if (S.pulling) { S.pullAgain = true; return; }
  S.pulling = true;
  call(S.pull, S.ctrl).then(() => {
    S.pulling = false;
    if (S.pullAgain) { S.pullAgain = false; pullIfNeeded(S); }
  }, e => rsError(S, e));
}
function rsRead(R) {
  const S = R.s;
  if (!S) return Promise.reject(new TypeError('read: the reader has been released'));
  S.disturbed = true;
  if (S.state === 'closed') return resolved({ value: undefined, done: true });
  if (S.state === 'errored') return Promise.reject(S.error);
  if (S.queue.length) {
    const e = S.queue.shift();
    S.qsize = S.queue.length ? S.qsize - e.n : 0;
    if (S.closeRequested && !S.queue.length) finishClose(S); else pullIfNeeded(S);
    return resolved({ value: e.v, done: false });
  }
  const d = defer();
  R.reads.push(d);
  pullIfNeeded(S);
  return d.promise;
}
function rsCancel(S, reason) {
  S.disturbed = true;
  if (S.state === 'closed') return resolved();
  if (S.state === 'errored') return Promise.reject(S.error);
  S.queue = []; S.qsize = 0;
  const cancel = S.cancel;
  finishClose(S);
  return call(cancel, reason).then(noop);
}
function acquire(S) {
  if (S.reader) throw new TypeError('ReadableStream is locked to a reader');
  const R = { s: S, reads: [], closed: hdefer() };
  S.reader = R;
  if (S.state === 'closed') R.closed.resolve();
  else if (S.state === 'errored') R.closed.reject(S.error);
  return R;
}
function release(R) {
  const S = R.s;
  if (!S) return;
  const e = new TypeError('the reader has been released');
  if (R.closed.settled) R.closed = hdefer();
  R.closed.reject(e);
  for (const r of R.reads) r.reject(e);
  R.reads = [];
  S.reader = null; R.s = null;
}

// hostStream(pull, cancel, direct) makes the stream of a body whose chunks
// come from the host (a fetched body), as new ReadableStream({ pull, cancel },
// { highWaterMark: 0 }) would, but for its start, done at once, and at a
// fraction of the cost: pull(controller) and cancel(reason) are called as
// they are, with no wrapper. It returns [stream, controller].
//
// direct is the stream's direct reader: { read(), cancel(reason) }, read()
// answering what a reader's would ({ value, done } or a promise of one; a
// throw for a rejection), from the same source as pull but without the
// stream's queue and promises. takeDirect(stream) returns it, locking the
// stream and marking it disturbed as getReader() and a read would, when the
// stream is untouched (unlocked, undisturbed, readable, nothing queued or
// being pulled), and null otherwise. Whoever takes it reads the source to
// its end or cancels it: the stream itself never sees the chunks.
export let hostStream;
export function takeDirect(stream) {
  const S = rsi(stream), direct = S.direct;
  if (direct === undefined || direct === null) return null;
  if (S.reader || S.disturbed || S.state !== 'readable' || S.queue.length || S.pulling) return null;
  S.direct = null;
  acquire(S);
  S.disturbed = true;
  return direct;
}
const one = () => 1;

export class ReadableStreamDefaultController {
  #S;
  constructor(t) { if (t !== token) throw new TypeError('Illegal constructor'); }
  get desiredSize() { return desired(this.#S); }
  close() { rsClose(this.#S); }
  enqueue(chunk) { rsEnqueue(this.#S, chunk); }
  error(e) { rsError(this.#S, e); }
  static { newController = S => { const c = new ReadableStreamDefaultController(token); c.#S = S; return c; }; }
}

export class ReadableStreamDefaultReader {
  #R;
  constructor(stream) { this.#R = acquire(rsi(stream)); }
  get closed() { return this.#R.closed.promise; }
  read() { return rsRead(this.#R); }
  releaseLock() { release(this.#R); }
  cancel(reason) {
    const S = this.#R.s;
    return S ? rsCancel(S, reason) : Promise.reject(new TypeError('cancel: the reader has been released'));
  }
}

export class ReadableStream {
  #S;
  constructor(source, strategyInit) {
    if (source === token) { this.#S = strategyInit; return; } // hostStream's
    source ??= {};
    const type = source.type;
    // A 'bytes' source gets a default controller: enqueue works, byobRequest is undefined.
    if (type !== undefined && String(type) !== 'bytes') throw new TypeError(`ReadableStream: invalid type '${type}'`);
    const st = strategy(strategyInit, type === undefined ? 1 : 0);
    const S = this.#S = {
      state: 'readable', reader: null, error: undefined, disturbed: false, queue: [], qsize: 0, hwm: st.hwm, size: st.size,
      started: false, closeRequested: false, pulling: false, pullAgain: false, pull: null, cancel: null, ctrl: null,
    };
    S.ctrl = newController(S);
    S.pull = method(source, 'pull');
    S.cancel = method(source, 'cancel');
    const start = method(source, 'start');
    resolved(start && start(S.ctrl)).then(() => { S.started = true; pullIfNeeded(S); }, e => rsError(S, e));
  }
  get locked() { return !!this.#S.reader; }
  cancel(reason) {
    if (this.#S.reader) return Promise.reject(new TypeError('cancel: the stream is locked'));
    return rsCancel(this.#S, reason);
  }
  getReader(options) {
    const mode = options?.mode;
    if (mode !== undefined) throw new (String(mode) === 'byob' ? TypeError : RangeError)(`getReader: mode '${mode}' is not supported`);
    return new ReadableStreamDefaultReader(this);
  }
  pipeThrough(transform, options) {
    const { readable, writable } = transform;
    rsi(readable); wsi(writable);
    if (this.#S.reader) throw new TypeError('pipeThrough: the stream is locked');
    if (wsi(writable).writer) throw new TypeError('pipeThrough: the writable side is locked');
    handled(this.pipeTo(writable, options));
    return readable;
  }
  pipeTo(dest, options) {
    let W;
    try { W = wsi(dest); } catch { return Promise.reject(new TypeError('pipeTo: the destination is not a WritableStream')); }
    const S = this.#S;
    const preventClose = !!options?.preventClose, preventAbort = !!options?.preventAbort, preventCancel = !!options?.preventCancel;
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) return Promise.reject(new TypeError('pipeTo: signal must be an AbortSignal'));
    if (S.reader) return Promise.reject(new TypeError('pipeTo: the stream is locked'));
    if (W.writer) return Promise.reject(new TypeError('pipeTo: the destination is locked'));
    return pipe(this, S, dest, W, preventClose, preventAbort, preventCancel, signal);
  }
  tee() { return tee(this); }
  values(options) { return iterate(this.getReader(), !!options?.preventCancel); }
  static from(it) {
    let iter, sync = false;
    if (it != null && typeof it[Symbol.asyncIterator] === 'function') iter = it[Symbol.asyncIterator]();
    else if (it != null && typeof it[Symbol.iterator] === 'function') { iter = it[Symbol.iterator](); sync = true; }
    if (typeof iter !== 'object' || iter === null) throw new TypeError('ReadableStream.from: the argument is not iterable');
    return new ReadableStream({
      async pull(c) {
        const r = await iter.next();
        if (typeof r !== 'object' || r === null) throw new TypeError('ReadableStream.from: next() did not return an object');
        if (r.done) c.close(); else c.enqueue(sync ? await r.value : r.value);
      },
      async cancel(reason) {
        if (typeof iter.return !== 'function') return;
        const r = await iter.return(reason);
        if (typeof r !== 'object' || r === null) throw new TypeError('ReadableStream.from: return() did not return an object');
      },
    }, { highWaterMark: 0 });
  }
  static { rsi = s => s.#S; }
}
hostStream = (pull, cancel, direct) => {
  const S = {
    state: 'readable', reader: null, error: undefined, disturbed: false, queue: [], qsize: 0, hwm: 0, size: one,
    started: true, closeRequested: false, pulling: false, pullAgain: false, pull, cancel, ctrl: null, direct,
  };
  S.ctrl = newController(S);
  return [new ReadableStream(token, S), S.ctrl];
};
ReadableStream.prototype[Symbol.asyncIterator] = ReadableStream.prototype.values;
Object.defineProperty(ReadableStream.prototype, Symbol.asyncIterator, { enumerable: false });

// iterate is a ReadableStream's async iterator. Hand-written rather than an
// async generator: its return() (a for-await break) releases the reader and
// starts the cancel at once, and QuickJS does not wait for return()'s promise.
const AsyncIteratorProto = Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype);
function iterate(reader, preventCancel) {
  let ongoing = null, finished = false;
  const chain = steps => {
    const p = ongoing ? ongoing.then(steps, steps) : steps();
    const q = ongoing = p.then(r => { if (ongoing === q) ongoing = null; return r; }, e => { if (ongoing === q) ongoing = null; throw e; });
    return q;
  };
  const next = () => finished ? resolved({ value: undefined, done: true }) : reader.read().then(r => {
    if (r.done) { finished = true; reader.releaseLock(); return { value: undefined, done: true }; }
    return { value: r.value, done: false };
  }, e => { finished = true; reader.releaseLock(); throw e; });
  const ret = value => {
    if (finished) return resolved({ value, done: true });
    finished = true;
    const p = preventCancel ? resolved() : reader.cancel(value);
    reader.releaseLock();
    return p.then(() => ({ value, done: true }));
  };
  return Object.create(AsyncIteratorProto, {
    next: { value: () => chain(next), writable: true, configurable: true },
    return: { value: v => chain(() => ret(v)), writable: true, configurable: true },
  });
}

function tee(stream) {
  const S = rsi(stream), R = acquire(S);
  let reading = false, readAgain = false, canceled1 = false, canceled2 = false, reason1, reason2, S1, S2;
  const cancelled = defer();
  const pull = () => {
    if (reading) { readAgain = true; return resolved(); }
    reading = true;
    rsRead(R).then(({ value, done }) => {
      reading = false;
      if (done) {
        if (!canceled1) rsClose(S1);
        if (!canceled2) rsClose(S2);
        if (!canceled1 || !canceled2) cancelled.resolve();
        return;
      }
      if (!canceled1) rsEnqueue(S1, value);
      if (!canceled2) rsEnqueue(S2, value);
      if (readAgain) { readAgain = false; pull(); }
    }, () => { reading = false; });
    return resolved();
  };
  const cancelBoth = () => { if (canceled1 && canceled2) cancelled.resolve(rsCancel(S, [reason1, reason2])); return cancelled.promise; };
  const b1 = new ReadableStream({ pull, cancel(r) { canceled1 = true; reason1 = r; return cancelBoth(); } });
  const b2 = new ReadableStream({ pull, cancel(r) { canceled2 = true; reason2 = r; return cancelBoth(); } });
  S1 = rsi(b1); S2 = rsi(b2);
  R.closed.promise.catch(e => { rsError(S1, e); rsError(S2, e); if (!canceled1 || !canceled2) cancelled.resolve(); });
  return [b1, b2];
}

function pipe(source, S, dest, W, preventClose, preventAbort, preventCancel, signal) {
  const R = acquire(S), Wr = acquireWriter(W), done = defer();
  S.disturbed = true;
  let shuttingDown = false, inflight = resolved(), lastWrite = resolved(), onAbort = null;
  const finalize = (isErr, err) => {
    releaseWriter(Wr); release(R);
    if (onAbort) signal.removeEventListener('abort', onAbort);
    if (isErr) done.reject(err); else done.resolve();
  };
  // shutdown waits for the chunks read to be written (when dest can still take
  // them), then performs action, then finalizes.
  const shutdown = (action, isErr, err) => {
    if (shuttingDown) return;
    shuttingDown = true;
    const go = () => action ? call(action).then(() => finalize(isErr, err), e => finalize(true, e)) : finalize(isErr, err);
    if (W.state === 'writable' && !W.closeReq) inflight.then(() => lastWrite).then(go, go);
    else go();
  };
  const destClosed = () => {
    const e = new TypeError('pipeTo: the destination is closed');
    shutdown(!preventCancel && (() => rsCancel(S, e)), true, e);
  };
  if (signal) {
    const abortPipe = () => {
      const e = signal.reason;
      shutdown(() => Promise.all([
        !preventAbort && W.state === 'writable' ? wsAbort(W, e) : undefined,
        !preventCancel && S.state === 'readable' ? rsCancel(S, e) : undefined,
      ]), true, e);
    };
    if (signal.aborted) { abortPipe(); return done.promise; }
    signal.addEventListener('abort', onAbort = abortPipe);
  }
  R.closed.promise.then(
    () => shutdown(!preventClose && (() => closeWithErrorPropagation(W)), false),
    e => shutdown(!preventAbort && (() => wsAbort(W, e)), true, e));
  Wr.closed.promise.then(destClosed, e => shutdown(!preventCancel && (() => rsCancel(S, e)), true, e));
  if (W.closeReq || W.state === 'closed') destClosed();
  const pump = () => {
    if (shuttingDown) return;
    Wr.ready.promise.then(() => {
      if (shuttingDown) return;
      inflight = rsRead(R).then(({ value, done }) => {
        if (done) return;
        lastWrite = wsWrite(Wr, value);
        handled(lastWrite);
        pump();
      });
      handled(inflight);
    }, noop);
  };
  pump();
  return done.promise;
}

// --- WritableStream ---

const CLOSE = {};
function wDesired(W) { return W.state === 'errored' || W.state === 'erroring' ? null : W.state === 'closed' ? 0 : W.hwm - W.qsize; }
function updateBackpressure(W) {
  const bp = W.hwm - W.qsize <= 0, Wr = W.writer;
  if (Wr && bp !== W.backpressure) { if (bp) Wr.ready = hdefer(); else Wr.ready.resolve(); }
  W.backpressure = bp;
}
function wsWrite(Wr, chunk) {
  const W = Wr.w;
  if (!W) return Promise.reject(new TypeError('write: the writer has been released'));
  let n = 1;
  try { n = W.size(chunk); } catch (e) { if (W.state === 'writable') startErroring(W, e); }
  if (W.state === 'errored' || W.state === 'erroring') return Promise.reject(W.error);
  if (W.closeReq || W.state === 'closed') return Promise.reject(new TypeError('write: the stream is closing or closed'));
  const d = defer();
  W.queue.push({ chunk, n, d });
  W.qsize += n;
  updateBackpressure(W);
  advance(W);
  return d.promise;
}
function advance(W) {
  if (!W.started || W.inFlight) return;
  if (W.state === 'erroring') { finishErroring(W); return; }
  if (!W.queue.length) return;
  const e = W.queue[0];
  if (e === CLOSE) {
    W.queue.shift();
    W.inFlight = true;
    call(W.sinkClose).then(() => {
      W.inFlight = false;
      if (W.state === 'erroring') {
        W.error = undefined;
        if (W.pendingAbort) { W.pendingAbort.d.resolve(); W.pendingAbort = null; }
      }
      W.state = 'closed';
      W.closeReq.resolve();
      if (W.writer) W.writer.closed.resolve();
    }, err => {
      W.inFlight = false;
      W.closeReq.reject(err);
      handled(W.closeReq.promise);
      if (W.pendingAbort) { W.pendingAbort.d.reject(err); W.pendingAbort = null; }
      dealWithRejection(W, err);
    });
    return;
  }
  W.inFlight = true;
  call(W.sinkWrite, e.chunk, W.ctrl).then(() => {
    W.inFlight = false;
    e.d.resolve();
    W.queue.shift();
    W.qsize = W.queue.length ? W.qsize - e.n : 0;
    if (!W.closeReq && W.state === 'writable') updateBackpressure(W);
    advance(W);
  }, err => {
    W.inFlight = false;
    e.d.reject(err);
    dealWithRejection(W, err);
  });
}
function dealWithRejection(W, e) {
  if (W.state === 'writable') startErroring(W, e); else finishErroring(W);
}
function startErroring(W, reason) {
  W.state = 'erroring';
  W.error = reason;
  const Wr = W.writer;
  if (Wr) { if (Wr.ready.settled) Wr.ready = hdefer(); Wr.ready.reject(reason); }
  if (!W.inFlight && W.started) finishErroring(W);
}
function finishErroring(W) {
  W.state = 'errored';
  for (const e of W.queue) if (e !== CLOSE) { e.d.reject(W.error); handled(e.d.promise); }
  W.queue = []; W.qsize = 0;
  const pa = W.pendingAbort, rejectClosed = () => {
    if (W.closeReq) { W.closeReq.reject(W.error); handled(W.closeReq.promise); }
    const Wr = W.writer;
    if (Wr) Wr.closed.reject(W.error);
  };
  W.pendingAbort = null;
  if (!pa) return rejectClosed();
  if (pa.wasErroring) { pa.d.reject(W.error); return rejectClosed(); }
  call(W.sinkAbort, pa.reason).then(() => { pa.d.resolve(); rejectClosed(); }, err => { pa.d.reject(err); rejectClosed(); });
}
function wsAbort(W, reason) {
  if (W.state === 'closed' || W.state === 'errored') return resolved();
  W.abort.abort(reason);
  if (W.state === 'closed' || W.state === 'errored') return resolved();
  if (W.pendingAbort) return W.pendingAbort.d.promise;
  const wasErroring = W.state === 'erroring', d = defer();
  W.pendingAbort = { d, reason: wasErroring ? undefined : reason, wasErroring };
  if (!wasErroring) startErroring(W, reason);
  return d.promise;
}
function wsClose(W) {
  if (W.state === 'closed' || W.state === 'errored') return Promise.reject(new TypeError('close: the stream is closed or errored'));
  if (W.closeReq) return Promise.reject(new TypeError('close: the stream is already closing'));
  W.closeReq = defer();
  if (W.writer && W.backpressure && W.state === 'writable') W.writer.ready.resolve();
  W.queue.push(CLOSE);
  advance(W);
  return W.closeReq.promise;
}
function closeWithErrorPropagation(W) {
  if (W.closeReq || W.state === 'closed') return resolved();
  if (W.state === 'errored') return Promise.reject(W.error);
  return wsClose(W);
}
function acquireWriter(W) {
  if (W.writer) throw new TypeError('WritableStream is locked to a writer');
  const Wr = { w: W, ready: hdefer(), closed: hdefer() };
  W.writer = Wr;
  if (W.state === 'writable') { if (W.closeReq || !W.backpressure) Wr.ready.resolve(); }
  else if (W.state === 'erroring') Wr.ready.reject(W.error);
  else if (W.state === 'closed') { Wr.ready.resolve(); Wr.closed.resolve(); }
  else { Wr.ready.reject(W.error); Wr.closed.reject(W.error); }
  return Wr;
}
function releaseWriter(Wr) {
  const W = Wr.w;
  if (!W) return;
  const e = new TypeError('the writer has been released');
  for (const k of ['ready', 'closed']) {
    if (Wr[k].settled) Wr[k] = hdefer();
    Wr[k].reject(e);
  }
  W.writer = null; Wr.w = null;
}

export class WritableStreamDefaultController {
  #W;
  constructor(t) { if (t !== token) throw new TypeError('Illegal constructor'); }
  get signal() { return this.#W.abort.signal; }
  error(e) { if (this.#W.state === 'writable') startErroring(this.#W, e); }
  static { newWController = W => { const c = new WritableStreamDefaultController(token); c.#W = W; return c; }; }
}

export class WritableStreamDefaultWriter {
  #Wr;
  constructor(stream) { this.#Wr = acquireWriter(wsi(stream)); }
  get closed() { return this.#Wr.closed.promise; }
  get ready() { return this.#Wr.ready.promise; }
  get desiredSize() {
    if (!this.#Wr.w) throw new TypeError('desiredSize: the writer has been released');
    return wDesired(this.#Wr.w);
  }
  abort(reason) { const W = this.#Wr.w; return W ? wsAbort(W, reason) : Promise.reject(new TypeError('abort: the writer has been released')); }
  close() { const W = this.#Wr.w; return W ? wsClose(W) : Promise.reject(new TypeError('close: the writer has been released')); }
  releaseLock() { releaseWriter(this.#Wr); }
  write(chunk) { return wsWrite(this.#Wr, chunk); }
}

export class WritableStream {
  #W;
  constructor(sink, strategyInit) {
    sink ??= {};
    if (sink.type !== undefined) throw new RangeError('WritableStream: invalid type');
    const st = strategy(strategyInit, 1);
    const W = this.#W = {
      state: 'writable', writer: null, error: undefined, queue: [], qsize: 0, hwm: st.hwm, size: st.size, started: false,
      inFlight: false, closeReq: null, pendingAbort: null, backpressure: false, abort: new AbortController(),
      sinkWrite: method(sink, 'write'), sinkClose: method(sink, 'close'), sinkAbort: method(sink, 'abort'), ctrl: null,
    };
    W.ctrl = newWController(W);
    const start = method(sink, 'start');
    updateBackpressure(W);
    resolved(start && start(W.ctrl)).then(() => { W.started = true; advance(W); }, e => { W.started = true; dealWithRejection(W, e); });
  }
  get locked() { return !!this.#W.writer; }
  abort(reason) { return this.#W.writer ? Promise.reject(new TypeError('abort: the stream is locked')) : wsAbort(this.#W, reason); }
  close() { return this.#W.writer ? Promise.reject(new TypeError('close: the stream is locked')) : wsClose(this.#W); }
  getWriter() { return new WritableStreamDefaultWriter(this); }
  static { wsi = s => s.#W; }
}

// --- TransformStream ---

export class TransformStreamDefaultController {
  #T;
  constructor(t) { if (t !== token) throw new TypeError('Illegal constructor'); }
  get desiredSize() { return desired(this.#T.S); }
  enqueue(chunk) { tsEnqueue(this.#T, chunk); }
  error(e) { tsError(this.#T, e); }
  terminate() { tsTerminate(this.#T); }
  static { newTController = T => { const c = new TransformStreamDefaultController(token); c.#T = T; return c; }; }
}

function setBackpressure(T, bp) {
  T.bpChange.resolve();
  T.bpChange = defer();
  T.bp = bp;
}
function errorWritable(T, e) {
  if (T.W.state === 'writable') startErroring(T.W, e);
  if (T.bp) setBackpressure(T, false);
}
function tsError(T, e) { rsError(T.S, e); errorWritable(T, e); }
function tsEnqueue(T, chunk) {
  if (!canCloseOrEnqueue(T.S)) throw new TypeError('TransformStream: the readable side cannot take more chunks');
  try { rsEnqueue(T.S, chunk); } catch (e) { errorWritable(T, e); throw T.S.error; }
  if (!(desired(T.S) > 0) && !T.bp) setBackpressure(T, true);
}
function tsTerminate(T) {
  if (canCloseOrEnqueue(T.S)) rsClose(T.S);
  errorWritable(T, new TypeError('TransformStream terminated'));
}

export class TransformStream {
  #readable; #writable;
  constructor(transformer, writableStrategy, readableStrategy) {
    transformer ??= {};
    if (transformer.readableType !== undefined || transformer.writableType !== undefined) throw new RangeError('TransformStream: invalid type');
    const transform = method(transformer, 'transform'), flush = method(transformer, 'flush'),
      cancel = method(transformer, 'cancel'), start = method(transformer, 'start');
    const T = { S: null, W: null, bp: true, bpChange: defer(), finish: null };
    const ctrl = newTController(T);
    const started = defer();
    const perform = chunk => (transform ? call(transform, chunk, ctrl) : call(() => tsEnqueue(T, chunk)))
      .catch(e => { tsError(T, e); throw e; });
    this.#writable = new WritableStream({
      start: () => started.promise,
      write: chunk => T.bp
        ? T.bpChange.promise.then(() => { if (T.W.state === 'erroring') throw T.W.error; return perform(chunk); })
        : perform(chunk),
      close: () => T.finish ??= call(flush, ctrl).then(() => {
        if (T.S.state === 'errored') throw T.S.error;
        if (canCloseOrEnqueue(T.S)) rsClose(T.S);
      }, e => { rsError(T.S, e); throw e; }),
      abort: reason => T.finish ??= call(cancel, reason).then(() => {
        if (T.S.state === 'errored') throw T.S.error;
        rsError(T.S, reason);
      }, e => { rsError(T.S, e); throw e; }),
    }, writableStrategy);
    this.#readable = new ReadableStream({
      start: () => started.promise,
      pull: () => { setBackpressure(T, false); return T.bpChange.promise; },
      cancel: reason => T.finish ??= call(cancel, reason).then(() => {
        if (T.W.state === 'errored') throw T.W.error;
        errorWritable(T, reason);
      }, e => { errorWritable(T, e); throw e; }),
    }, readableStrategy ?? { highWaterMark: 0 });
    T.S = rsi(this.#readable);
    T.W = wsi(this.#writable);
    started.resolve(start && start(ctrl));
  }
  get readable() { return this.#readable; }
  get writable() { return this.#writable; }
}

// --- queuing strategies and encoding streams ---

const countSize = function size() { return 1; };
const byteSize = function size(chunk) { return chunk.byteLength; };
export class CountQueuingStrategy {
  #hwm;
  constructor(init) { this.#hwm = Number(init?.highWaterMark); }
  get highWaterMark() { return this.#hwm; }
  get size() { return countSize; }
}
export class ByteLengthQueuingStrategy {
  #hwm;
  constructor(init) { this.#hwm = Number(init?.highWaterMark); }
  get highWaterMark() { return this.#hwm; }
  get size() { return byteSize; }
}

export class TextEncoderStream {
  #ts;
  constructor() {
    const te = new TextEncoder();
    let pending = '';
    this.#ts = new TransformStream({
      transform(chunk, c) {
        let s = pending + String(chunk);
        pending = '';
        const last = s.charCodeAt(s.length - 1);
        if (last >= 0xd800 && last < 0xdc00) { pending = s.slice(-1); s = s.slice(0, -1); }
        if (s) c.enqueue(te.encode(s));
      },
      flush(c) { if (pending) c.enqueue(new Uint8Array([0xef, 0xbf, 0xbd])); },
    });
  }
  get encoding() { return 'utf-8'; }
  get readable() { return this.#ts.readable; }
  get writable() { return this.#ts.writable; }
}

export class TextDecoderStream {
  #ts; #d;
  constructor(label = 'utf-8', options) {
    const d = this.#d = new TextDecoder(label, options);
    this.#ts = new TransformStream({
      transform(chunk, c) { const s = d.decode(chunk, { stream: true }); if (s) c.enqueue(s); },
      flush(c) { const s = d.decode(); if (s) c.enqueue(s); },
    });
  }
  get encoding() { return 'utf-8'; }
  get fatal() { return this.#d.fatal; }
  get ignoreBOM() { return this.#d.ignoreBOM; }
  get readable() { return this.#ts.readable; }
  get writable() { return this.#ts.writable; }
}
