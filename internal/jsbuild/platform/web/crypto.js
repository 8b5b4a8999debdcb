// crypto (getRandomValues, randomUUID, subtle.digest), performance and navigator.
import { host } from './host.js';
import { DOMException } from './dom.js';
import { isBufferSource } from './util.js';

const ints = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array];
const digests = { 'SHA-1': 1, 'SHA-256': 1, 'SHA-384': 1, 'SHA-512': 1 };
let token = {};

export class SubtleCrypto {
  constructor(t) { if (t !== token) throw new TypeError('Illegal constructor'); }
  digest(algorithm, data) {
    try {
      const name = String(typeof algorithm === 'object' && algorithm !== null ? algorithm.name : algorithm).toUpperCase();
      if (!digests[name]) throw new DOMException(`Unrecognized algorithm name '${name}'`, 'NotSupportedError');
      if (!isBufferSource(data)) throw new TypeError('digest: data must be an ArrayBuffer or ArrayBufferView');
      return Promise.resolve(host.digest(name, data));
    } catch (e) { return Promise.reject(e); }
  }
}

export class Crypto {
  #subtle;
  constructor(t) { if (t !== token) throw new TypeError('Illegal constructor'); this.#subtle = new SubtleCrypto(token); }
  get subtle() { return this.#subtle; }
  getRandomValues(array) {
    if (!ints.some(C => array instanceof C)) throw new DOMException('getRandomValues: the argument must be an integer typed array', 'TypeMismatchError');
    if (array.byteLength > 65536) throw new DOMException(`getRandomValues: ${array.byteLength} bytes is more than 65536`, 'QuotaExceededError');
    host.randomFill(array);
    return array;
  }
  randomUUID() {
    const b = host.randomFill(new Uint8Array(16));
    b[6] = b[6] & 0x0f | 0x40;
    b[8] = b[8] & 0x3f | 0x80;
    let h = '';
    for (let i = 0; i < 16; i++) h += (i === 4 || i === 6 || i === 8 || i === 10 ? '-' : '') + (b[i] < 16 ? '0' : '') + b[i].toString(16);
    return h;
  }
}
export const crypto = new Crypto(token);

// performance.now() is the host's monotonic clock (milliseconds since the instance started).
export class Performance {
  constructor(t) { if (t !== token) throw new TypeError('Illegal constructor'); }
  now() { return host.hrtime(); }
  get timeOrigin() { return Date.now() - host.hrtime(); }
  toJSON() { return { timeOrigin: this.timeOrigin }; }
}
export const performance = new Performance(token);

export class Navigator {
  constructor(t) { if (t !== token) throw new TypeError('Illegal constructor'); }
  get userAgent() { return 'wasmroute'; }
  get hardwareConcurrency() { return 1; }
  get language() { return 'en-US'; }
  get languages() { return ['en-US']; }
}
export const navigator = new Navigator(token);
