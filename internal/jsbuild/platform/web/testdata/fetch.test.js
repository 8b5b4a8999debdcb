// Request and Response.

test('Request: basics', async () => {
  const r = new Request('https://example.com/api/items?x=1', {
    method: 'post', headers: { 'X-Id': '7' }, body: JSON.stringify({ a: 1 }),
  });
  assertEqual(r.method, 'POST');
  assertEqual(r.url, 'https://example.com/api/items?x=1');
  assertEqual(r.headers.get('x-id'), '7');
  assertEqual(r.headers.get('content-type'), 'text/plain;charset=UTF-8');
  assertEqual(r.bodyUsed, false);
  assertEqual(await r.json(), { a: 1 });
  assertEqual(r.bodyUsed, true);
  await assertRejects(r.text(), TypeError);
  assertEqual(new Request('http://h/', { method: 'patch' }).method, 'patch');
  assertEqual(new Request('http://h/', { method: 'delete' }).method, 'DELETE');
  assertThrows(() => new Request('http://h/', { method: 'CONNECT' }), TypeError);
  assertThrows(() => new Request('http://h/', { method: 'bad method' }), TypeError);
  assertThrows(() => new Request('/relative'), TypeError);
  assertThrows(() => new Request('http://u:p@h/'), TypeError);
  assertThrows(() => new Request('http://h/', { body: 'x' }), TypeError, 'GET with a body');
  assertEqual([r.mode, r.credentials, r.cache, r.redirect, r.referrer, r.destination], ['cors', 'same-origin', 'default', 'follow', 'about:client', '']);
  assertEqual(r.signal.aborted, false);
});

test('Request: from a Request, clone, signal', async () => {
  const c = new AbortController();
  const a = new Request('http://h/p', { method: 'PUT', body: 'hello', signal: c.signal, headers: { a: '1' } });
  const b = a.clone();
  const d = new Request(a, { headers: { b: '2' } });
  assertEqual(a.bodyUsed, true, 'the body moved to d');
  assertEqual(d.method, 'PUT');
  assertEqual([...d.headers], [['b', '2']]);
  assertEqual(await d.text(), 'hello');
  assertEqual(await b.text(), 'hello');
  c.abort('stop');
  assertEqual([b.signal.aborted, b.signal.reason, d.signal.reason], [true, 'stop', 'stop']);
});

test('Request: formData, urlencoded', async () => {
  const r = new Request('http://h/', { method: 'POST', body: new URLSearchParams('a=1&b=x+y&a=2') });
  assertEqual(r.headers.get('content-type'), 'application/x-www-form-urlencoded;charset=UTF-8');
  const fd = await r.formData();
  assertEqual(fd.getAll('a'), ['1', '2']);
  assertEqual(fd.get('b'), 'x y');
});

test('Request: formData, multipart with a file', async () => {
  const body = [
    '--XyZ', 'Content-Disposition: form-data; name="title"', '', 'Hello, wörld', '--XyZ',
    'Content-Disposition: form-data; name="upload"; filename="a b.txt"', 'Content-Type: text/plain', '',
    'line 1\r\nline 2', '--XyZ',
    'Content-Disposition: form-data; name="empty"; filename=""', 'Content-Type: application/octet-stream', '', '', '--XyZ--', '',
  ].join('\r\n');
  const r = new Request('http://h/upload', { method: 'POST', body, headers: { 'content-type': 'multipart/form-data; boundary="XyZ"' } });
  const fd = await r.formData();
  assertEqual(fd.get('title'), 'Hello, wörld');
  const f = fd.get('upload');
  assert(f instanceof File, 'a File');
  assertEqual([f.name, f.type, f.size], ['a b.txt', 'text/plain', 14]);
  assertEqual(await f.text(), 'line 1\r\nline 2');
  assertEqual(fd.get('empty').size, 0);
  await assertRejects(new Request('http://h/', { method: 'POST', body: 'x', headers: { 'content-type': 'multipart/form-data' } }).formData(), TypeError);
  await assertRejects(new Request('http://h/', { method: 'POST', body: 'x' }).formData(), TypeError);
});

test('Request and Response: FormData bodies round-trip', async () => {
  const fd = new FormData();
  fd.append('name', 'a\nb');
  fd.append('file', new Blob([new Uint8Array([0, 1, 2, 255])], { type: 'application/x-bin' }), 'bin"ary.dat');
  const res = new Response(fd);
  const ct = res.headers.get('content-type');
  assert(/^multipart\/form-data; boundary=/.test(ct), ct);
  const back = await res.formData();
  assertEqual(back.get('name'), 'a\r\nb');
  const f = back.get('file');
  assertEqual([f.name, f.type], ['bin%22ary.dat', 'application/x-bin']);
  assertEqual(await f.bytes(), new Uint8Array([0, 1, 2, 255]));
});

test('Response: bodies and content types', async () => {
  const cases = [
    [null, null, ''],
    ['text', 'text/plain;charset=UTF-8', 'text'],
    [new Uint8Array([104, 105]), null, 'hi'],
    [new Uint8Array([104, 105]).buffer, null, 'hi'],
    [new DataView(new Uint8Array([0, 104, 105]).buffer, 1), null, 'hi'],
    [new Blob(['blob'], { type: 'Text/X' }), 'text/x', 'blob'],
    [new URLSearchParams({ a: 'b c' }), 'application/x-www-form-urlencoded;charset=UTF-8', 'a=b+c'],
    [new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('str')); c.enqueue(new TextEncoder().encode('eam')); c.close(); } }), null, 'stream'],
  ];
  for (const [body, type, text] of cases) {
    const r = new Response(body);
    assertEqual(r.headers.get('content-type'), type, String(body));
    assertEqual(await r.text(), text, String(body));
  }
  assertEqual(new Response(null).body, null);
  assertEqual(await new Response('\ufeffbom').text(), 'bom');
  assertEqual(await new Response('x').blob().then(b => b.type), 'text/plain;charset=utf-8');
  assertEqual(new Uint8Array(await new Response('ab').arrayBuffer()), new Uint8Array([97, 98]));
  assertEqual(await new Response('ab').bytes(), new Uint8Array([97, 98]));
});

test('Response: status, statusText, ok, json, redirect, error', async () => {
  const r = new Response('x', { status: 201, statusText: 'Created', headers: [['x', 'y']] });
  assertEqual([r.status, r.statusText, r.ok, r.type, r.url, r.redirected], [201, 'Created', true, 'default', '', false]);
  assertEqual(new Response().status, 200);
  assertEqual(new Response(null, { status: 404 }).ok, false);
  assertThrows(() => new Response('', { status: 199 }), RangeError);
  assertThrows(() => new Response('', { status: 600 }), RangeError);
  assertThrows(() => new Response('x', { status: 204 }), TypeError);
  assertEqual(new Response(null, { status: 204 }).status, 204);
  assertThrows(() => new Response('', { statusText: 'a\nb' }), TypeError);
  const j = Response.json({ ok: true, n: [1] }, { status: 202, headers: { 'x-a': 'b' } });
  assertEqual([j.status, j.headers.get('content-type'), j.headers.get('x-a')], [202, 'application/json', 'b']);
  assertEqual(await j.json(), { ok: true, n: [1] });
  assertThrows(() => Response.json(undefined), TypeError);
  assertEqual(Response.json(1, { headers: { 'content-type': 'application/problem+json' } }).headers.get('content-type'), 'application/problem+json');
  const red = Response.redirect('https://example.com/a b', 301);
  assertEqual([red.status, red.headers.get('location')], [301, 'https://example.com/a%20b']);
  assertEqual(Response.redirect(new URL('http://h/x')).status, 302);
  assertThrows(() => Response.redirect('https://example.com/', 200), RangeError);
  assertThrows(() => Response.redirect('/relative'), TypeError);
  const e = Response.error();
  assertEqual([e.type, e.status, e.ok, e.statusText], ['error', 0, false, '']);
});

test('Response: body stream, bodyUsed, clone', async () => {
  const r = new Response('hello');
  const c = r.clone();
  const reader = r.body.getReader();
  assertEqual(r.bodyUsed, false);
  const { value } = await reader.read();
  assertEqual(new TextDecoder().decode(value), 'hello');
  assertEqual(r.bodyUsed, true);
  assertEqual((await reader.read()).done, true);
  assertThrows(() => r.clone(), TypeError);
  assertEqual(await c.text(), 'hello');
  const s = new Response(new ReadableStream({ start(ctl) { ctl.enqueue(new Uint8Array([1])); ctl.close(); } }));
  const [a, b] = [s, s.clone()];
  assertEqual(await a.bytes(), new Uint8Array([1]));
  assertEqual(await b.bytes(), new Uint8Array([1]));
  await assertRejects(new Response(new ReadableStream({ start(ctl) { ctl.enqueue('not bytes'); ctl.close(); } })).text(), TypeError);
  const locked = new ReadableStream();
  locked.getReader();
  assertThrows(() => new Response(locked), TypeError);
});

test('incomingRequest and responseBody: the dispatcher API', async () => {
  const { incomingRequest, responseBody, headerPairs } = __web;
  const chunks = [new TextEncoder().encode('{"a":'), new TextEncoder().encode('[1,2]}')];
  let pulls = 0, headerCalls = 0;
  const req = incomingRequest({
    method: 'POST', url: 'http://example.com/a/./b?x=1',
    headers: () => { headerCalls++; return [['content-type', 'application/json'], ['x-y', 'z']]; },
    bodySource: () => { pulls++; return chunks.shift() ?? null; },
  });
  assertEqual([req.method, req.url, pulls, headerCalls], ['POST', 'http://example.com/a/b?x=1', 0, 0]);
  assertEqual(req.headers.get('X-Y'), 'z');
  assertEqual(headerCalls, 1);
  assertEqual(await req.json(), { a: [1, 2] });
  assertEqual(pulls, 3);
  assertEqual(req.signal.aborted, false);

  const streamed = incomingRequest({ method: 'PUT', url: 'http://h/', headers: [], bodySource: () => pulls++ < 5 ? new Uint8Array([pulls]).buffer : null });
  const got = [];
  for await (const c of streamed.body) got.push(...c);
  assertEqual(got, [4, 5]);
  assertEqual(incomingRequest({ method: 'GET', url: 'http://h/', headers: [] }).body, null);

  assertEqual(responseBody(new Response(null)), null);
  const text = new Response('hi');
  assertEqual(responseBody(text), 'hi');
  assertEqual(text.bodyUsed, true);
  assertThrows(() => responseBody(text), TypeError);
  assert(responseBody(new Response(new Uint8Array([1]))) instanceof Uint8Array);
  assert(responseBody(new Response(new ReadableStream())) instanceof ReadableStream);
  const h = new Headers([['Set-Cookie', 'a=1'], ['set-cookie', 'b=2'], ['X', 'y']]);
  assertEqual(headerPairs(h), [['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['x', 'y']]);
});
