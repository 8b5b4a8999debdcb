// DOMException, Event, CustomEvent, EventTarget, AbortController and AbortSignal.
// See https://webidl.spec.whatwg.org/#idl-DOMException and https://dom.spec.whatwg.org/.
import { reportError } from './console.js';
import { setTimer } from './timers.js';
import { host } from './host.js';

const codes = {
  IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5,
  NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InUseAttributeError: 10,
  InvalidStateError: 11, SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14,
  InvalidAccessError: 15, TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20,
  URLMismatchError: 21, QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
};

export class DOMException extends Error {
  #name;
  constructor(message = '', options = 'Error') {
    let name = options, cause;
    if (options !== null && typeof options === 'object') {
      name = 'name' in options ? String(options.name) : 'Error';
      if ('cause' in options) cause = { cause: options.cause };
    }
    super(String(message), cause);
    this.#name = String(name);
  }
  get name() { return this.#name; }
  get code() { return codes[this.#name] || 0; }
}
// message is an own property set by Error; WebIDL has it as an accessor, which is not observable here.
('INDEX_SIZE DOMSTRING_SIZE HIERARCHY_REQUEST WRONG_DOCUMENT INVALID_CHARACTER NO_DATA_ALLOWED ' +
 'NO_MODIFICATION_ALLOWED NOT_FOUND NOT_SUPPORTED INUSE_ATTRIBUTE INVALID_STATE SYNTAX INVALID_MODIFICATION ' +
 'NAMESPACE INVALID_ACCESS VALIDATION TYPE_MISMATCH SECURITY NETWORK ABORT URL_MISMATCH QUOTA_EXCEEDED ' +
 'TIMEOUT INVALID_NODE_TYPE DATA_CLONE').split(' ').forEach((k, i) => {
  const d = { value: i + 1, enumerable: true };
  Object.defineProperty(DOMException, k + '_ERR', d);
  Object.defineProperty(DOMException.prototype, k + '_ERR', d);
});

export const abortError = () => new DOMException('This operation was aborted', 'AbortError');

// Set by the classes' static blocks: the internal access to their private state.
let dispatch;
// addAbortAlgorithm(signal, fn) runs fn (before the abort event) when signal aborts.
export let addAbortAlgorithm;
// signalAbort(signal, reason) aborts signal.
export let signalAbort;
// newSignal() returns a signal that is not aborted.
export let newSignal;

export class Event {
  #type; #bubbles; #cancelable; #composed; #canceled = false; #stop = 0; #target = null; #current = null;
  #phase = 0; #passive = false; #dispatching = false; #time;
  constructor(type, init) {
    if (arguments.length < 1) throw new TypeError("Event: 'type' is required");
    init ??= {};
    this.#type = String(type);
    this.#bubbles = !!init.bubbles; this.#cancelable = !!init.cancelable; this.#composed = !!init.composed;
    this.#time = now();
  }
  get type() { return this.#type; }
  get target() { return this.#target; }
  get srcElement() { return this.#target; }
  get currentTarget() { return this.#current; }
  get eventPhase() { return this.#phase; }
  get bubbles() { return this.#bubbles; }
  get cancelable() { return this.#cancelable; }
  get composed() { return this.#composed; }
  get defaultPrevented() { return this.#canceled; }
  get returnValue() { return !this.#canceled; }
  get cancelBubble() { return this.#stop > 0; }
  set cancelBubble(v) { if (v) this.#stop ||= 1; }
  get isTrusted() { return false; }
  get timeStamp() { return this.#time; }
  composedPath() { return this.#current ? [this.#current] : []; }
  preventDefault() { if (this.#cancelable && !this.#passive) this.#canceled = true; }
  stopPropagation() { this.#stop ||= 1; }
  stopImmediatePropagation() { this.#stop = 2; }
  static {
    // dispatch runs target's listeners for event. See https://dom.spec.whatwg.org/#concept-event-dispatch.
    dispatch = (target, ev, listeners) => {
      if (ev.#dispatching) throw new DOMException('The event is already being dispatched.', 'InvalidStateError');
      ev.#dispatching = true;
      ev.#target = ev.#current = target;
      ev.#phase = 2;
      for (const l of listeners.slice()) {
        if (l.removed) continue;
        if (l.once) removeListener(listeners, l);
        ev.#passive = l.passive;
        try {
          const cb = l.callback;
          if (typeof cb === 'function') cb.call(target, ev);
          else if (typeof cb.handleEvent === 'function') cb.handleEvent(ev);
          else throw new TypeError("listener's handleEvent is not a function");
        } catch (e) { reportError(e); }
        ev.#passive = false;
        if (ev.#stop === 2) break;
      }
      ev.#dispatching = false; ev.#phase = 0; ev.#current = null; ev.#stop = 0;
      return !ev.#canceled;
    };
  }
}
for (const [i, k] of ['NONE', 'CAPTURING_PHASE', 'AT_TARGET', 'BUBBLING_PHASE'].entries()) {
  Object.defineProperty(Event, k, { value: i, enumerable: true });
  Object.defineProperty(Event.prototype, k, { value: i, enumerable: true });
}
const now = () => host ? host.hrtime() : 0;

export class CustomEvent extends Event {
  #detail;
  constructor(type, init) { super(type, init); this.#detail = init?.detail ?? null; }
  get detail() { return this.#detail; }
}

function removeListener(list, l) {
  l.removed = true;
  const i = list.indexOf(l);
  if (i >= 0) list.splice(i, 1);
}

export class EventTarget {
  #listeners = new Map(); // type → [{callback, capture, once, passive, removed}]
  addEventListener(type, callback, options) {
    if (callback === null || callback === undefined) return;
    if (typeof callback !== 'function' && typeof callback !== 'object') throw new TypeError('addEventListener: listener must be an object or function');
    const o = typeof options === 'object' && options !== null ? options : { capture: !!options };
    const signal = o.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError("addEventListener: 'signal' must be an AbortSignal");
    if (signal?.aborted) return;
    type = String(type);
    const capture = !!o.capture;
    let list = this.#listeners.get(type);
    if (!list) this.#listeners.set(type, list = []);
    if (list.some(l => l.callback === callback && l.capture === capture)) return;
    const l = { callback, capture, once: !!o.once, passive: !!o.passive, removed: false };
    list.push(l);
    if (signal) addAbortAlgorithm(signal, () => removeListener(list, l));
  }
  removeEventListener(type, callback, options) {
    const capture = typeof options === 'object' && options !== null ? !!options.capture : !!options;
    const list = this.#listeners.get(String(type));
    const l = list?.find(l => l.callback === callback && l.capture === capture);
    if (l) removeListener(list, l);
  }
  dispatchEvent(event) {
    if (!(event instanceof Event)) throw new TypeError("dispatchEvent: argument is not an Event");
    return dispatch(this, event, this.#listeners.get(event.type) || []);
  }
}

// An event handler attribute (onabort): one listener added on first set, calling the current value.
function handlerAttribute(proto, name) {
  const key = Symbol(name);
  Object.defineProperty(proto, 'on' + name, {
    get() { return this[key]?.fn ?? null; },
    set(v) {
      const fn = typeof v === 'function' || (typeof v === 'object' && v !== null) ? v : null;
      if (!this[key]) {
        if (!fn) return;
        const h = this[key] = { fn };
        this.addEventListener(name, function (ev) { if (typeof h.fn === 'function') return h.fn.call(this, ev); });
      }
      this[key].fn = fn;
    },
    configurable: true, enumerable: true,
  });
}

let token = {};
export class AbortSignal extends EventTarget {
  #aborted = false; #reason; #algorithms = [];
  constructor(t) {
    if (t !== token) throw new TypeError('Illegal constructor');
    super();
  }
  get aborted() { return this.#aborted; }
  get reason() { return this.#reason; }
  throwIfAborted() { if (this.#aborted) throw this.#reason; }
  static abort(reason) {
    const s = new AbortSignal(token);
    s.#aborted = true;
    s.#reason = reason === undefined ? abortError() : reason;
    return s;
  }
  static timeout(ms) {
    ms = Number(ms);
    if (!(ms >= 0 && ms <= Number.MAX_SAFE_INTEGER)) throw new TypeError('AbortSignal.timeout: milliseconds must be a non-negative integer');
    const s = new AbortSignal(token);
    setTimer(() => signalAbort(s, new DOMException('The operation timed out.', 'TimeoutError')), ms);
    return s;
  }
  static any(signals) {
    const s = new AbortSignal(token);
    const list = [...signals];
    for (const x of list) if (!(x instanceof AbortSignal)) throw new TypeError('AbortSignal.any: not an AbortSignal');
    const done = list.find(x => x.#aborted);
    if (done) { s.#aborted = true; s.#reason = done.#reason; return s; }
    for (const x of list) addAbortAlgorithm(x, () => signalAbort(s, x.#reason));
    return s;
  }
  static {
    addAbortAlgorithm = (s, fn) => { if (!s.#aborted) s.#algorithms.push(fn); };
    signalAbort = (s, reason) => {
      if (s.#aborted) return;
      s.#aborted = true;
      s.#reason = reason === undefined ? abortError() : reason;
      const algs = s.#algorithms;
      s.#algorithms = [];
      for (const fn of algs) { try { fn(); } catch (e) { reportError(e); } }
      s.dispatchEvent(new Event('abort'));
    };
    newSignal = () => new AbortSignal(token);
  }
}
handlerAttribute(AbortSignal.prototype, 'abort');


export class AbortController {
  #signal = newSignal();
  get signal() { return this.#signal; }
  abort(reason) { signalAbort(this.#signal, reason); }
}
