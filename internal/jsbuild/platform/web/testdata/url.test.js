// URL and URLSearchParams: cases from the WHATWG URL Standard's examples and
// the web-platform-tests' urltestdata.json.
const href = (u, b) => new URL(u, b).href;

test('URL: the spec examples', () => {
  assertEqual(href('https:example.org'), 'https://example.org/');
  assertEqual(href('https://////example.com///'), 'https://example.com///');
  assertEqual(href('https://example.com/././foo'), 'https://example.com/foo');
  assertEqual(href('hello:world', 'https://example.com/'), 'hello:world');
  assertEqual(href('https:example.org', 'https://example.com/'), 'https://example.com/example.org');
  assertEqual(href('\\example\\..\\demo/.\\', 'https://example.com/'), 'https://example.com/demo/');
  assertEqual(href('example', 'https://example.com/demo'), 'https://example.com/example');
  assertEqual(href('file:///C|/demo'), 'file:///C:/demo');
  assertEqual(href('..', 'file:///C:/demo'), 'file:///C:/');
  assertEqual(href('file://loc%61lhost/'), 'file:///');
  assertEqual(href('https://user:password@example.org/'), 'https://user:password@example.org/');
  assertEqual(href('https://example.org/foo bar'), 'https://example.org/foo%20bar');
  assertEqual(href('https://EXAMPLE.com/../x'), 'https://example.com/x');
});

test('URL: failures throw TypeError', () => {
  for (const bad of ['https://ex ample.org/', 'example', 'https://example.com:demo', 'http://[www.example.com]/', 'https://exa%23mple.org', 'http://', 'http://a:99999/', 'http://1.2.3.256/', 'http://[::1::]/'])
    assertThrows(() => new URL(bad), TypeError, bad);
  assertEqual(URL.canParse('x', 'https://a/'), true);
  assertEqual(URL.canParse('x'), false);
  assertEqual(URL.parse('nope'), null);
  assertEqual(URL.parse('/p', 'http://h').href, 'http://h/p');
});

test('URL: components', () => {
  const u = new URL('https://user:pa%20ss@EXAMPLE.com:8080/a/b/../c?q=1&r=%zz#frag');
  assertEqual([u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname, u.search, u.hash, u.origin],
    ['https:', 'user', 'pa%20ss', 'example.com:8080', 'example.com', '8080', '/a/c', '?q=1&r=%zz', '#frag', 'https://example.com:8080']);
  assertEqual(new URL('http://example.com:80/').port, '');
  assertEqual(new URL('wss://h:443/').host, 'h');
  assertEqual(new URL('ftp://h:21/').href, 'ftp://h/');
  assertEqual(JSON.stringify({ u: new URL('http://a/b') }), '{"u":"http://a/b"}');
  assertEqual(String(new URL('http://a')), 'http://a/');
});

test('URL: hosts', () => {
  assertEqual(new URL('http://0x7f.1/').hostname, '127.0.0.1');
  assertEqual(new URL('http://2130706433/').hostname, '127.0.0.1');
  assertEqual(new URL('http://0300.0250.01.01/').hostname, '192.168.1.1');
  assertEqual(new URL('http://[0:0:0:0:0:0:0:1]/').host, '[::1]');
  assertEqual(new URL('http://[2001:DB8:0:0:1:0:0:1]:81/').host, '[2001:db8::1:0:0:1]:81');
  assertEqual(new URL('http://[::ffff:192.168.0.1]/').hostname, '[::ffff:c0a8:1]');
  assertEqual(new URL('http://[1:0::]/').hostname, '[1::]');
  assertEqual(new URL('http://münchen.de/').hostname, 'xn--mnchen-3ya.de');
  assertEqual(new URL('http://Bücher.example/').hostname, 'xn--bcher-kva.example');
  assertEqual(new URL('http://日本語。jp/').hostname, 'xn--wgv71a119e.jp');
  assertEqual(new URL('http://ex%41mple.com/').hostname, 'example.com');
  assertEqual(new URL('foo://EXAMPLE.com/').hostname, 'EXAMPLE.com');
  assertEqual(new URL('http://1.2.3/').hostname, '1.2.0.3');
  assertThrows(() => new URL('http://1.2.3.4.5/'), TypeError);
  assertEqual(new URL('http://foo.09/'.replace('09', 'bar')).hostname, 'foo.bar');
  assertThrows(() => new URL('http://foo.09/'), TypeError);
  // Canonical IPv4 takes the fast path; every other numeric form the full parser.
  assertEqual(new URL('http://127.0.0.1:3000/a?b').href, 'http://127.0.0.1:3000/a?b');
  assertEqual(new URL('http://255.255.255.255/').host, '255.255.255.255');
  assertEqual(new URL('http://0.0.0.0:80/').host, '0.0.0.0');
  assertEqual(new URL('http://127.000.0.1/').hostname, '127.0.0.1');
  assertEqual(new URL('http://127.0.0.01/').hostname, '127.0.0.1');
  assertEqual(new URL('http://1.2.3.4./').hostname, '1.2.3.4');
  assertThrows(() => new URL('http://256.0.0.1/'), TypeError);
});

test('URL: opaque and non-special URLs', () => {
  const m = new URL('mailto:Someone@Example.com?subject=Hi there');
  assertEqual([m.protocol, m.pathname, m.search, m.host, m.origin], ['mailto:', 'Someone@Example.com', '?subject=Hi%20there', '', 'null']);
  const d = new URL('data:text/plain,Hello World#x');
  assertEqual([d.pathname, d.hash], ['text/plain,Hello World', '#x']);
  assertEqual(href('javascript:alert(1)'), 'javascript:alert(1)');
  assertEqual(href('foo://host/a/../b?c#d'), 'foo://host/b?c#d');
  assertEqual(href('foo:/a/..//b'), 'foo:/.//b');
  assertEqual(new URL('blob:https://a.example:8443/uuid').origin, 'https://a.example:8443');
  assertEqual(href('#x', 'mailto:a'), 'mailto:a#x');
  assertThrows(() => new URL('x', 'mailto:a'), TypeError);
});

test('URL: percent-encoding sets', () => {
  const u = new URL('http://h/p a"<>`{}^|?q a"<>\'`#f a"<>`');
  assertEqual(u.pathname, '/p%20a%22%3C%3E%60%7B%7D%5E|');
  assertEqual(u.search, "?q%20a%22%3C%3E%27`");
  assertEqual(u.hash, '#f%20a%22%3C%3E%60');
  assertEqual(new URL('foo://h/?\'').search, "?'");
  assertEqual(new URL('http://h/é?é#é').href, 'http://h/%C3%A9?%C3%A9#%C3%A9');
  assertEqual(new URL('http://h/\ud83d\ude00').pathname, '/%F0%9F%98%80');
  assertEqual(new URL('http://h/%2e/a/%2E%2e/b').pathname, '/b');
  assertEqual(new URL(' \t http://h/a\nb\r \n').href, 'http://h/ab');
});

test('URL: setters', () => {
  const u = new URL('https://example.org/a?x=1#h');
  u.protocol = 'http'; assertEqual(u.href, 'http://example.org/a?x=1#h');
  u.protocol = 'mailto'; assertEqual(u.protocol, 'http:', 'special to non-special is refused');
  u.host = 'example.com:8080'; assertEqual(u.host, 'example.com:8080');
  u.hostname = 'EXAMPLE.net'; assertEqual(u.host, 'example.net:8080');
  u.hostname = 'a.com:1'; assertEqual(u.hostname, 'example.net', 'a colon makes hostname refuse');
  u.port = '80'; assertEqual(u.port, '');
  u.port = '81x'; assertEqual(u.port, '81');
  u.port = ''; assertEqual(u.port, '');
  u.pathname = 'b c/../d'; assertEqual(u.pathname, '/d');
  u.pathname = '/x?y'; assertEqual(u.pathname, '/x%3Fy');
  u.search = 'a=b c'; assertEqual(u.search, '?a=b%20c');
  u.search = ''; assertEqual(u.href, 'http://example.net/x%3Fy#h');
  u.hash = '#j k'; assertEqual(u.hash, '#j%20k');
  u.hash = ''; assertEqual(u.href, 'http://example.net/x%3Fy');
  u.username = 'us er'; u.password = 'p@ss'; assertEqual(u.href, 'http://us%20er:p%40ss@example.net/x%3Fy');
  u.href = 'https://other/'; assertEqual(u.host, 'other');
  assertThrows(() => { u.href = 'nope'; }, TypeError);
  const f = new URL('file:///c/d');
  f.port = '8'; f.username = 'x'; assertEqual(f.href, 'file:///c/d');
});

test('URLSearchParams: parsing and serializing', () => {
  const p = new URLSearchParams('?a=1&b=x+y&c=%F0%9F%98%80&d&=e&a=2&f=%zz&g=%C3');
  assertEqual([...p], [['a', '1'], ['b', 'x y'], ['c', '😀'], ['d', ''], ['', 'e'], ['a', '2'], ['f', '%zz'], ['g', '\ufffd']]);
  assertEqual(p.get('a'), '1');
  assertEqual(p.getAll('a'), ['1', '2']);
  assertEqual(p.get('zzz'), null);
  assertEqual(p.size, 8);
  assertEqual(new URLSearchParams({ q: 'a b&c', 'x y': "~!'()*" }).toString(), 'q=a+b%26c&x+y=%7E%21%27%28%29*');
  assertEqual(new URLSearchParams([['a', 'b'], ['a', 'c']]).toString(), 'a=b&a=c');
  assertThrows(() => new URLSearchParams([['a']]), TypeError);
  const q = new URLSearchParams('z=1&a=2&z=0&b=3');
  q.sort(); assertEqual(q.toString(), 'a=2&b=3&z=1&z=0');
  q.set('z', '9'); assertEqual(q.toString(), 'a=2&b=3&z=9');
  q.delete('b'); q.append('c', 'd'); assertEqual(q.toString(), 'a=2&z=9&c=d');
  assertEqual(q.has('c', 'd'), true); assertEqual(q.has('c', 'x'), false);
  q.delete('c', 'x'); assertEqual(q.has('c'), true);
  const seen = []; q.forEach((v, k) => seen.push(k + v)); assertEqual(seen, ['a2', 'z9', 'cd']);
  assertEqual([...q.keys()], ['a', 'z', 'c']);
  assertEqual(Object.prototype.toString.call(q.entries()), '[object URLSearchParams Iterator]');
});

test('URL: searchParams is live both ways', () => {
  const u = new URL('https://example.com/?a=1&b=2');
  const sp = u.searchParams;
  assertEqual(sp.get('b'), '2');
  sp.append('c', 'x y');
  assertEqual(u.href, 'https://example.com/?a=1&b=2&c=x+y');
  u.search = '?z=9';
  assertEqual([...sp], [['z', '9']]);
  assertEqual(u.searchParams, sp);
  sp.delete('z');
  assertEqual(u.href, 'https://example.com/');
  u.href = 'http://h/?k=v';
  assertEqual(sp.get('k'), 'v');
});
