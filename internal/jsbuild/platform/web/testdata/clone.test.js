// structuredClone.

test('structuredClone: values and cycles', () => {
  const date = new Date(1e12), re = /a+/gi, buf = new Uint8Array([1, 2, 3]);
  const src = { n: 1, s: 'x', b: true, u: undefined, nul: null, big: 10n, date, re, buf, view: buf.subarray(1),
    map: new Map([['k', { deep: [1] }]]), set: new Set([1, 'two']), arr: [1, , 3], nested: { a: [{ b: 2 }] } };
  src.self = src;
  src.arr.push(src.nested);
  const c = structuredClone(src);
  assert(c !== src && c.self === c, 'the cycle is kept');
  assert(c.arr[3] === c.nested, 'shared references are kept');
  assert(c.date !== date && c.date.getTime() === 1e12, 'Date');
  assertEqual([c.re.source, c.re.flags], ['a+', 'gi']);
  assertEqual(c.buf, new Uint8Array([1, 2, 3]));
  assert(c.view.buffer === c.buf.buffer && c.view[0] === 2, 'views share their cloned buffer');
  assertEqual(c.map.get('k'), { deep: [1] });
  assertEqual([...c.set], [1, 'two']);
  assertEqual(1 in c.arr, false);
  assertEqual([c.n, c.s, c.b, c.big, c.nul, 'u' in c], [1, 'x', true, 10n, null, true]);
  assertEqual(structuredClone(NaN), NaN);
  class P { constructor() { this.x = 1; } get y() { return 2; } }
  const p = structuredClone(new P());
  assertEqual([Object.getPrototypeOf(p) === Object.prototype, p.x, p.y], [true, 1, undefined]);
  const e = structuredClone(new RangeError('bad', { cause: 1 }));
  assertEqual([e instanceof RangeError, e.message, e.cause], [true, 'bad', 1]);
});

test('structuredClone: DataCloneError', () => {
  for (const v of [() => {}, Symbol('s'), { f() {} }, new WeakMap(), Promise.resolve(), new Headers(), new Request('http://h/')])
    assertThrows(() => structuredClone(v), 'DataCloneError');
  assertThrows(() => structuredClone(), TypeError);
});
