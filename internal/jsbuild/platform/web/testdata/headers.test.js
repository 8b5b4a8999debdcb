// Headers.

test('Headers: case-insensitive, combined, sorted', () => {
  const h = new Headers({ 'Content-Type': 'text/html', 'X-B': '1' });
  h.append('x-b', '2');
  h.append('Accept', 'a/b');
  assertEqual(h.get('CONTENT-TYPE'), 'text/html');
  assertEqual(h.get('X-b'), '1, 2');
  assertEqual(h.has('accept'), true);
  assertEqual([...h], [['accept', 'a/b'], ['content-type', 'text/html'], ['x-b', '1, 2']]);
  assertEqual([...h.keys()], ['accept', 'content-type', 'x-b']);
  h.set('X-B', '3');
  assertEqual(h.get('x-b'), '3');
  h.delete('ACCEPT');
  assertEqual(h.get('accept'), null);
  const seen = [];
  h.forEach((v, k, o) => seen.push([k, v, o === h]));
  assertEqual(seen, [['content-type', 'text/html', true], ['x-b', '3', true]]);
});

test('Headers: Set-Cookie values stay apart', () => {
  const h = new Headers([['Set-Cookie', 'a=1; Path=/'], ['set-cookie', 'b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT'], ['x', 'y']]);
  assertEqual(h.getSetCookie(), ['a=1; Path=/', 'b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT']);
  assertEqual(h.get('set-cookie'), 'a=1; Path=/, b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT');
  assertEqual([...h], [['set-cookie', 'a=1; Path=/'], ['set-cookie', 'b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT'], ['x', 'y']]);
  assertEqual(new Headers().getSetCookie(), []);
});

test('Headers: validation', () => {
  assertThrows(() => new Headers({ 'bad name': 'x' }), TypeError);
  assertThrows(() => new Headers({ 'x': 'a\r\nb' }), TypeError);
  assertThrows(() => new Headers({ 'x': 'a\0b' }), TypeError);
  assertThrows(() => new Headers({ 'x': 'caf\u20ac' }), TypeError, 'a char above U+00FF');
  assertThrows(() => new Headers([['a', 'b', 'c']]), TypeError);
  assertThrows(() => new Headers().get('ü'), TypeError);
  const h = new Headers({ x: ' \t padded \t ' });
  assertEqual(h.get('x'), 'padded');
  assertEqual(new Headers({ x: 'caf\u00e9' }).get('x'), 'caf\u00e9');
  assertEqual(new Headers(new Headers({ a: 'b' })).get('a'), 'b');
});

test('Headers: immutable where the spec says', () => {
  const r = Response.redirect('https://example.com/next', 307);
  assertThrows(() => r.headers.set('x', 'y'), TypeError);
  assertThrows(() => Response.error().headers.append('x', 'y'), TypeError);
  const ok = new Response('x');
  ok.headers.set('x', 'y');
  assertEqual(ok.headers.get('x'), 'y');
  assertEqual(Object.prototype.toString.call(ok.headers), '[object Headers]');
});
