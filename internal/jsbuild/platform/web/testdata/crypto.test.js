// crypto, performance, navigator, and how the globals are defined.

test('crypto.getRandomValues', () => {
  const a = new Uint32Array(8);
  assert(crypto.getRandomValues(a) === a, 'returns its argument');
  assert(a.some(x => x !== 0), 'filled');
  crypto.getRandomValues(new BigUint64Array(2));
  crypto.getRandomValues(new Uint8Array(65536));
  assertThrows(() => crypto.getRandomValues(new Uint8Array(65537)), 'QuotaExceededError');
  assertThrows(() => crypto.getRandomValues(new Float64Array(1)), 'TypeMismatchError');
  assertThrows(() => crypto.getRandomValues([1]), 'TypeMismatchError');
});

test('crypto.randomUUID', () => {
  const ids = new Set();
  for (let i = 0; i < 100; i++) {
    const id = crypto.randomUUID();
    assert(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id), id);
    ids.add(id);
  }
  assertEqual(ids.size, 100);
});

test('crypto.subtle.digest', async () => {
  const hex = b => Array.from(new Uint8Array(b), x => x.toString(16).padStart(2, '0')).join('');
  const data = new TextEncoder().encode('abc');
  assertEqual(hex(await crypto.subtle.digest('SHA-256', data)), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assertEqual(hex(await crypto.subtle.digest({ name: 'sha-1' }, data.buffer)), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  assert((await crypto.subtle.digest('SHA-512', data)) instanceof ArrayBuffer, 'an ArrayBuffer');
  await assertRejects(crypto.subtle.digest('MD5', data), 'NotSupportedError');
  await assertRejects(crypto.subtle.digest('SHA-256', 'string'), TypeError);
});

test('performance, navigator', async () => {
  const t0 = performance.now();
  await sleep(5);
  assert(performance.now() - t0 >= 4, 'performance.now advances');
  assertEqual(navigator.userAgent, 'wasmroute');
});

test('globals: non-enumerable, writable, configurable', () => {
  for (const k of ['URL', 'fetch', 'console', 'setTimeout', 'structuredClone', 'crypto']) {
    const d = Object.getOwnPropertyDescriptor(globalThis, k);
    assertEqual([d.enumerable, d.writable, d.configurable], [false, true, true], k);
  }
  assertEqual(typeof globalThis.__wasmroute_host, 'undefined');
});
