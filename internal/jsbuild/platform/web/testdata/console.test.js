// console and its formatting (util.format conventions).

test('format: specifiers', () => {
  const { format } = __web;
  assertEqual(format('%s is %d years', 'Bob', 42), 'Bob is 42 years');
  assertEqual(format('%i %f %d', '42.9px', '1.5', '0x10'), '42 1.5 16');
  assertEqual(format('%j', { a: [1, 'x'] }), '{"a":[1,"x"]}');
  const cyc = { name: 'c' }; cyc.self = cyc;
  assertEqual(format('%j', cyc), '[Circular]');
  assertEqual(format('100%% %s', 'sure'), '100% sure');
  assertEqual(format('%s', 5n), '5n');
  assertEqual(format('%d', 5n), '5n');
  assertEqual(format('%s %s', 'only'), 'only %s');
  assertEqual(format('%c styled', 'color: red'), ' styled');
  assertEqual(format('a', 'b', 1, { c: 2 }), 'a b 1 { c: 2 }');
  assertEqual(format(1, 'x'), '1 x');
  assertEqual(format('%o', [1]), '[ 1 ]');
  assertEqual(format('%O', { a: { b: { c: { d: 1 } } } }), '{ a: { b: { c: [Object] } } }');
});

test('inspect: values', () => {
  const { inspect } = __web;
  const cases = [
    ['str', "'str'"], [-0, '-0'], [10n, '10n'], [Symbol('s'), 'Symbol(s)'], [undefined, 'undefined'], [null, 'null'],
    [[1, 'a', [2]], "[ 1, 'a', [ 2 ] ]"], [{ a: 1, 'b-c': 'd' }, "{ a: 1, 'b-c': 'd' }"], [{}, '{}'], [[], '[]'],
    [new Map([['k', 1]]), "Map(1) { 'k' => 1 }"], [new Set([1, 2]), 'Set(2) { 1, 2 }'],
    [new Uint8Array([1, 2]), 'Uint8Array(2) [ 1, 2 ]'], [new Date(0), '1970-01-01T00:00:00.000Z'], [/x/g, '/x/g'],
    [function foo() {}, '[Function: foo]'], [class Foo {}, '[class Foo]'], [() => {}, '[Function (anonymous)]'],
    [Object.create(null), '[Object: null prototype] {}'], [[1, , 3], '[ 1, <1 empty item>, 3 ]'],
    [new (class Point { constructor() { this.x = 1; } })(), 'Point { x: 1 }'],
    [{ get g() { return 1; } }, '{ g: [Getter] }'], [{ [Symbol('k')]: 1 }, '{ [Symbol(k)]: 1 }'],
  ];
  for (const [v, want] of cases) assertEqual(inspect(v), want);
  const cyc = { name: 'root', list: [] }; cyc.list.push(cyc);
  assertEqual(inspect(cyc), "<ref *1> { name: 'root', list: [ [Circular *1] ] }");
  const long = { alpha: 'aaaaaaaaaaaaaaaa', beta: 'bbbbbbbbbbbbbbbbbb', gamma: 'cccccccccccccccccc', delta: 1 };
  assertEqual(inspect(long), "{\n  alpha: 'aaaaaaaaaaaaaaaa',\n  beta: 'bbbbbbbbbbbbbbbbbb',\n  gamma: 'cccccccccccccccccc',\n  delta: 1\n}");
  assert(inspect(new Error('boom')).startsWith('Error: boom'), inspect(new Error('boom')));
  const cause = Object.assign(new Error('denied: add "https://x" to allowedOutboundHosts'), { code: 'ErrDenied' });
  const withCause = inspect(new TypeError('fetch failed', { cause }));
  assert(withCause.startsWith('TypeError: fetch failed'), withCause);
  assert(withCause.includes('[cause]: Error: denied: add "https://x" to allowedOutboundHosts'), withCause);
  assert(withCause.includes("code: 'ErrDenied'"), withCause);
  assert(inspect(new URL('http://h/')).startsWith("URL {\n  href: 'http://h/'"), inspect(new URL('http://h/')));
  assertEqual(inspect(new Headers({ a: 'b' })), "Headers { a: 'b' }");
});

test('console methods exist and do not throw', () => {
  for (const k of ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir', 'table', 'assert', 'count', 'countReset', 'group', 'groupEnd', 'time', 'timeLog', 'timeEnd'])
    assertEqual(typeof console[k], 'function', k);
  console.assert(true, 'not printed');
});
