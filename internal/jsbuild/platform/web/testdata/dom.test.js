// DOMException, Event, EventTarget, AbortController, AbortSignal.

test('DOMException', () => {
  const e = new DOMException('gone', 'NotFoundError');
  assertEqual([e.name, e.message, e.code, e instanceof Error, DOMException.NOT_FOUND_ERR], ['NotFoundError', 'gone', 8, true, 8]);
  assertEqual(new DOMException().name, 'Error');
  assertEqual(new DOMException('x', 'Custom').code, 0);
  assertEqual(String(new DOMException('m', 'AbortError')), 'AbortError: m');
  assertEqual([DOMException.DATA_CLONE_ERR, DOMException.INUSE_ATTRIBUTE_ERR, DOMException.URL_MISMATCH_ERR], [25, 10, 21]);
  assertEqual(Object.prototype.toString.call(e), '[object DOMException]');
});

test('EventTarget: listeners, once, handleEvent, removal, signal', () => {
  const t = new EventTarget(), got = [];
  const f = e => got.push('f:' + e.type + ':' + (e.target === t) + ':' + (e.currentTarget === t));
  t.addEventListener('ping', f);
  t.addEventListener('ping', f);
  t.addEventListener('ping', { handleEvent(e) { got.push('obj'); } });
  t.addEventListener('ping', () => got.push('once'), { once: true });
  const c = new AbortController();
  t.addEventListener('ping', () => got.push('signal'), { signal: c.signal });
  assertEqual(t.dispatchEvent(new Event('ping')), true);
  c.abort();
  t.dispatchEvent(new Event('ping'));
  t.removeEventListener('ping', f);
  t.dispatchEvent(new Event('ping'));
  assertEqual(got, ['f:ping:true:true', 'obj', 'once', 'signal', 'f:ping:true:true', 'obj', 'obj']);
});

test('Event: preventDefault, stopImmediatePropagation, CustomEvent', () => {
  const t = new EventTarget(), got = [];
  t.addEventListener('x', e => { e.preventDefault(); e.stopImmediatePropagation(); got.push(1); });
  t.addEventListener('x', () => got.push(2));
  const e = new Event('x', { cancelable: true });
  assertEqual(t.dispatchEvent(e), false);
  assertEqual([got, e.defaultPrevented, e.eventPhase, e.currentTarget, e.target === t], [[1], true, 0, null, true]);
  assertEqual(new Event('y').cancelable, false);
  assertEqual(new CustomEvent('c', { detail: { a: 1 } }).detail, { a: 1 });
  assertThrows(() => new Event(), TypeError);
  assert(new Event('t').timeStamp >= 0, 'timeStamp');
});

test('AbortController: abort reasons, onabort, throwIfAborted', () => {
  const c = new AbortController(), s = c.signal, got = [];
  s.onabort = e => got.push('onabort:' + e.type);
  s.addEventListener('abort', () => got.push('listener:' + s.aborted));
  assertEqual(s.aborted, false);
  s.throwIfAborted();
  c.abort();
  c.abort('second is ignored');
  assertEqual(got, ['onabort:abort', 'listener:true']);
  assertEqual([s.reason.name, s.reason instanceof DOMException, s.reason.code], ['AbortError', true, 20]);
  assertThrows(() => s.throwIfAborted(), 'AbortError');
  const c2 = new AbortController();
  c2.abort(new Error('custom'));
  assertEqual(c2.signal.reason.message, 'custom');
  assertThrows(() => c2.signal.throwIfAborted(), Error);
  assertThrows(() => new AbortSignal(), TypeError);
});

test('AbortSignal.abort, timeout, any', async () => {
  assertEqual(AbortSignal.abort().reason.name, 'AbortError');
  assertEqual(AbortSignal.abort('why').reason, 'why');
  const t = AbortSignal.timeout(5);
  assertEqual(t.aborted, false);
  await new Promise(r => t.addEventListener('abort', r));
  assertEqual([t.reason.name, t.reason.code], ['TimeoutError', 23]);
  const a = new AbortController(), b = new AbortController();
  const any = AbortSignal.any([a.signal, b.signal]);
  b.abort('b wins');
  a.abort('a later');
  assertEqual([any.aborted, any.reason], [true, 'b wins']);
  assertEqual(AbortSignal.any([AbortSignal.abort('pre')]).reason, 'pre');
  assertEqual(AbortSignal.any([]).aborted, false);
});
