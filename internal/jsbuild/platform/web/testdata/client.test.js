// fetch() over fake natives (web/client.js's makeFetch): what it asks the
// host for, and what it makes of the answers. The real host is tested end
// to end by runtime's TestJSServices.

// fakeHost scripts each handle's answers: script(list, body, flags) returns
// the handle's successive answers to fetchHead and fetchBodyRead (-8 for
// "pending": fetch waits, a fake wait that resolves on the next timer),
// strings for body chunks ('' the end), or a negative number for
// fetchStart itself.
function fakeHost(script, message = '') {
  const calls = [], handles = new Map();
  let next = 1;
  const buf = s => new TextEncoder().encode(s).buffer;
  const answer = h => {
    const st = handles.get(h);
    if (!st || st.closed) return -1;
    const r = st.answers.length ? st.answers.shift() : -8;
    return typeof r === 'string' ? buf(r) : r;
  };
  const natives = {
    fetchStart(list, body, flags) {
      calls.push(['start', list, body, flags]);
      const answers = script(list, body, flags);
      if (typeof answers === 'number') return answers;
      const h = next++;
      handles.set(h, { answers, closed: false });
      return h;
    },
    fetchHead(h) { calls.push(['head', h]); return answer(h); },
    fetchBodyRead(h, max) { calls.push(['read', h]); return answer(h); },
    fetchClose(h) { calls.push(['close', h]); handles.get(h).closed = true; return 0; },
    errorMessage() { return message; },
  };
  const wait = h => { calls.push(['wait', h]); return new Promise(r => setTimeout(r, 0)); };
  const forget = h => { calls.push(['forget', h]); };
  return { fetch: __web.makeFetch({ natives, wait, forget }), calls, handles };
}

const names = calls => calls.map(c => c[0]);

test('fetch: the request list, body and flags; the response', async () => {
  const { fetch, calls } = fakeHost(() => [-8, ['201', 'https://api.example.com/v1/items?x=1', 'content-type', 'application/json', 'x-latin1', 'caf\u00e9'], '{"id":', '7}', '']);
  const p = fetch('https://api.example.com/v1/items?x=1#frag', {
    method: 'post', headers: { 'X-Key': 'k1' }, body: JSON.stringify({ a: 1 }), redirect: 'manual',
    next: { revalidate: 60 }, cache: 'no-store',
  });
  // Started before fetch returned.
  assertEqual(calls[0], ['start', ['POST', 'https://api.example.com/v1/items?x=1', 'x-key', 'k1', 'content-type', 'text/plain;charset=UTF-8', 'accept', '*/*'], '{"a":1}', 1]);
  const res = await p;
  assertEqual([res.status, res.statusText, res.ok, res.url, res.redirected, res.type], [201, 'Created', true, 'https://api.example.com/v1/items?x=1', false, 'basic']);
  assertEqual(res.headers.get('content-type'), 'application/json');
  assertEqual(res.headers.get('x-latin1'), 'caf\u00e9');
  assertThrows(() => res.headers.set('x', '1'), TypeError, 'immutable headers');
  assertEqual(await res.json(), { id: 7 });
  assertEqual(names(calls), ['start', 'wait', 'head', 'wait', 'head', 'read', 'read', 'read', 'forget', 'close']);
});

test('fetch: Promise.all starts every request before waiting', async () => {
  const { fetch, calls } = fakeHost(list => [-8, ['200', list[1]], list[1].slice(-1), '']);
  const all = Promise.all([fetch('http://a.example/a'), fetch(new URL('http://b.example/b')), fetch(new Request('http://c.example/c'))]);
  assertEqual(names(calls), ['start', 'wait', 'start', 'wait', 'start', 'wait']);
  const texts = await Promise.all((await all).map(r => r.text()));
  assertEqual(texts, ['a', 'b', 'c']);
});

test('fetch: body types', async () => {
  const bodies = [];
  const { fetch } = fakeHost((list, body) => {
    const ct = list.indexOf('content-type');
    bodies.push([ct < 0 ? null : list[ct + 1].split(';')[0], typeof body === 'string' ? body : body && Array.from(new Uint8Array(body.buffer ?? body, body.byteOffset ?? 0, body.byteLength))]);
    return [['204', list[1]]];
  });
  const u = 'http://h.example/';
  await fetch(u, { method: 'PUT', body: new URLSearchParams({ a: '1 2' }) });
  await fetch(u, { method: 'PUT', body: new Uint8Array([1, 2, 3]).buffer });
  await fetch(u, { method: 'PUT', body: new Uint16Array([0x0201]) });
  await fetch(u, { method: 'PUT', body: new Blob(['hi'], { type: 'text/x-hi' }) });
  await fetch(u, { method: 'PUT', body: new ReadableStream({ start(c) { c.enqueue(new Uint8Array([4])); c.enqueue(new Uint8Array([5, 6])); c.close(); } }), duplex: 'half' });
  await fetch(u);
  const fd = new FormData();
  fd.append('k', 'v');
  await fetch(u, { method: 'POST', body: fd });
  assertEqual(bodies.slice(0, 6), [
    ['application/x-www-form-urlencoded', 'a=1+2'],
    [null, [1, 2, 3]],
    [null, [1, 2]],
    ['text/x-hi', [104, 105]],
    [null, [4, 5, 6]],
    [null, null],
  ]);
  assertEqual(bodies[6][0], 'multipart/form-data');
});

test('fetch: a stream body is read before the request starts', async () => {
  const { fetch, calls } = fakeHost(list => [['200', list[1]], '']);
  const p = fetch('http://h.example/', { method: 'POST', body: new ReadableStream({ pull(c) { c.enqueue(new Uint8Array([1])); c.close(); } }) });
  assertEqual(calls.length, 0, 'not started yet');
  await p;
  assertEqual(names(calls).slice(0, 1), ['start']);
});

test('fetch: errors', async () => {
  const denied = fakeHost(() => -6, 'fetch https://x.example/: denied: add "https://x.example" to allowedOutboundHosts');
  let e = await assertRejects(denied.fetch('https://x.example/'), TypeError);
  assertEqual([e.message, e.cause.message, e.cause.code], ['fetch failed', 'fetch https://x.example/: denied: add "https://x.example" to allowedOutboundHosts', 'ErrDenied']);
  assert(e.cause instanceof Error, 'the cause is an Error');

  const failed = fakeHost(() => [-8, -9], 'fetch http://down.example/: connection refused');
  e = await assertRejects(failed.fetch('http://down.example/'), TypeError);
  assertEqual([e.cause.message, e.cause.code], ['fetch http://down.example/: connection refused', 'ErrFailed']);
  assertEqual(names(failed.calls).slice(-2), ['forget', 'close'], 'the handle is closed');

  const quiet = fakeHost(() => -7);
  e = await assertRejects(quiet.fetch('http://h.example/'), TypeError);
  assertEqual([e.cause.message, e.cause.code], ['fetch http://h.example/: ErrLimit', 'ErrLimit']);

  const none = fakeHost(() => { throw new Error('not called'); });
  e = await assertRejects(none.fetch('/api/relative'), TypeError);
  assert(e.message.includes('not an absolute URL'), e.message);
  await assertRejects(none.fetch('http://h.example/', { method: 'GET', body: 'x' }), TypeError);
  await assertRejects(none.fetch('http://h.example/', { redirect: 'sometimes' }), TypeError);
  assertEqual(none.calls, []);
});

test('fetch: the body streams, chunk by chunk, waiting in between', async () => {
  const { fetch, calls } = fakeHost(list => [['200', list[1]], 'a', -8, -8, 'b', -8, '']);
  const res = await fetch('http://h.example/');
  const reader = res.body.getReader(), dec = new TextDecoder();
  const got = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    got.push(dec.decode(value));
  }
  assertEqual(got, ['a', 'b']);
  assertEqual(names(calls).filter(n => n === 'wait').length, 4);
  assertEqual(names(calls).slice(-2), ['forget', 'close']);
});

test('fetch: a body error, a cancelled body, a body-less response', async () => {
  const big = fakeHost(list => [['200', list[1]], 'x', -4], 'fetch http://h.example/: the response body is over maxFetchBody (10 MiB)');
  const e = await assertRejects((await big.fetch('http://h.example/')).text(), TypeError);
  assertEqual([e.cause.code, e.cause.message], ['ErrTooLarge', 'fetch http://h.example/: the response body is over maxFetchBody (10 MiB)']);
  assertEqual(names(big.calls).slice(-2), ['forget', 'close']);

  const cancel = fakeHost(list => [['200', list[1]], 'x', 'y']);
  const body = (await cancel.fetch('http://h.example/')).body;
  await body.cancel();
  assertEqual(names(cancel.calls).slice(-2), ['forget', 'close']);

  for (const [method, status] of [['HEAD', '200'], ['GET', '204'], ['GET', '304']]) {
    const h = fakeHost(list => [['' + status, list[1], 'content-length', '5']]);
    const res = await h.fetch('http://h.example/', { method });
    assertEqual([res.status, res.body, await res.text()], [+status, null, ''], method + ' ' + status);
    assertEqual(names(h.calls).slice(-2), ['forget', 'close']);
  }
});

test('fetch: redirects', async () => {
  const moved = fakeHost(list => [['200', 'https://new.example/there'], '']);
  let res = await moved.fetch('https://old.example/here');
  assertEqual([res.url, res.redirected], ['https://new.example/there', true]);
  assertEqual(moved.calls[0][3], 0, 'follow');
  assertEqual((await moved.fetch('https://old.example/', { redirect: 'error' })).redirected, false);
  assertEqual(moved.calls.filter(c => c[0] === 'start')[1][3], 2, 'error');

  const manual = fakeHost(list => [['302', list[1], 'location', '/next']]);
  res = await manual.fetch('https://h.example/', { redirect: 'manual' });
  assertEqual([res.status, res.statusText, res.headers.get('location'), res.redirected], [302, 'Found', '/next', false]);
});

test('fetch: AbortSignal', async () => {
  // Aborted before: nothing starts.
  const before = fakeHost(() => { throw new Error('not called'); });
  let e = await assertRejects(before.fetch('http://h.example/', { signal: AbortSignal.abort() }), 'AbortError');
  assert(e instanceof DOMException, 'a DOMException');
  let reason;
  await before.fetch('http://h.example/', { signal: AbortSignal.abort('why') }).catch(r => { reason = r; });
  assertEqual(reason, 'why');

  // While waiting for the head: the handle is closed, the reason rejects.
  const head = fakeHost(list => [-8, -8, -8, ['200', list[1]]]);
  const ac = new AbortController();
  const p = head.fetch('http://h.example/', { signal: ac.signal });
  setTimeout(() => ac.abort(), 0);
  e = await assertRejects(p, 'AbortError');
  assertEqual(names(head.calls).slice(-2), ['forget', 'close']);

  // While reading the body: the stream errors with the reason.
  const body = fakeHost(list => [['200', list[1]], 'a', -8, -8, -8, 'b', '']);
  const ac2 = new AbortController();
  const res = await body.fetch('http://h.example/', { signal: ac2.signal });
  const text = res.text();
  setTimeout(() => ac2.abort(new Error('enough')), 0);
  e = await assertRejects(text, Error);
  assertEqual(e.message, 'enough');
  assertEqual(names(body.calls).filter(n => n === 'close').length, 1);

  // After the body ended, an abort changes nothing.
  const done = fakeHost(list => [['200', list[1]], 'ok', '']);
  const ac3 = new AbortController();
  assertEqual(await (await done.fetch('http://h.example/', { signal: ac3.signal })).text(), 'ok');
  ac3.abort();
  assertEqual(names(done.calls).filter(n => n === 'close').length, 1);

  // AbortSignal.timeout.
  const slow = fakeHost(() => []); // pending for ever
  e = await assertRejects(slow.fetch('http://h.example/', { signal: AbortSignal.timeout(1) }), 'TimeoutError');
});

test('io: wait, ready, forget, clearIO', async () => {
  const { io, ready, clearIO, waitIO, forgetIO } = __web;
  // Synchronous up to the end: the engine polls what io() lists, and these
  // handles are no host's.
  assertEqual(io(), []);
  const got = [];
  const a = waitIO(1001).then(() => got.push('a'));
  waitIO(1002).then(() => got.push('b: never'));
  assertEqual(io(), [1001, 1002]);
  ready(1001);
  ready(4242); // nothing waits on it
  assertEqual(io(), [1002]);
  waitIO(1001).then(() => got.push('a again'));
  assertEqual(io(), [1002, 1001], 'a handle that waits again goes last');
  ready(1001);
  forgetIO(1002);
  assertEqual(io(), []);
  waitIO(1003).then(() => got.push('c: never'));
  clearIO();
  assertEqual(io(), []);
  await a;
  await null;
  assertEqual(got, ['a', 'a again']);
});
