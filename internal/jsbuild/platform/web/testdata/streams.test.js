// ReadableStream, WritableStream, TransformStream and the encoding streams.
const enc = s => new TextEncoder().encode(s);
async function collect(stream) {
  const out = [];
  for await (const c of stream) out.push(c);
  return out;
}

test('ReadableStream: SSE from setTimeout, as in a Next.js route', async () => {
  let i = 0, cancelled = false;
  const stream = new ReadableStream({
    start(controller) {
      const tick = () => {
        controller.enqueue(enc(`data: ${JSON.stringify({ i })}\n\n`));
        if (++i === 3) controller.close(); else setTimeout(tick, 5);
      };
      setTimeout(tick, 5);
    },
    cancel() { cancelled = true; },
  });
  const res = new Response(stream, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const events = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    events.push(value);
  }
  assertEqual(events, ['data: {"i":0}\n\n', 'data: {"i":1}\n\n', 'data: {"i":2}\n\n']);
  assertEqual(cancelled, false);
});

test('ReadableStream: pull, highWaterMark, desiredSize', async () => {
  const pulls = [];
  let n = 0;
  const s = new ReadableStream({
    pull(c) { pulls.push(c.desiredSize); c.enqueue(++n); if (n === 4) c.close(); },
  }, { highWaterMark: 2 });
  await sleep(0);
  assertEqual(pulls, [2, 1], 'pulled to the high-water mark before any read');
  assertEqual(await collect(s), [1, 2, 3, 4]);
  const sized = new ReadableStream({ start(c) { c.enqueue('abc'); assertEqual(c.desiredSize, 7); } }, new CountQueuingStrategy({ highWaterMark: 8 }));
  const bytes = new ReadableStream({ start(c) { c.enqueue(new Uint8Array(3)); assertEqual(c.desiredSize, 7); } }, new ByteLengthQueuingStrategy({ highWaterMark: 10 }));
  assertThrows(() => new ReadableStream({}, { highWaterMark: -1 }), RangeError);
  void sized; void bytes;
});

test('ReadableStream: reader, releaseLock, cancel, errors', async () => {
  let reason;
  const s = new ReadableStream({ start(c) { c.enqueue('a'); }, cancel(r) { reason = r; } });
  const r = s.getReader();
  assertEqual(s.locked, true);
  assertThrows(() => s.getReader(), TypeError);
  assertEqual(await r.read(), { value: 'a', done: false });
  const pending = r.read();
  r.releaseLock();
  await assertRejects(pending, TypeError);
  await assertRejects(r.closed, TypeError);
  assertEqual(s.locked, false);
  await s.cancel('bye');
  assertEqual(reason, 'bye');
  assertEqual(await s.getReader().read(), { value: undefined, done: true });

  const boom = new Error('boom');
  const e = new ReadableStream({ pull(c) { c.error(boom); } });
  const er = e.getReader();
  assertEqual(await assertRejects(er.read()), boom);
  assertEqual(await assertRejects(er.closed), boom);
  assertThrows(() => new ReadableStream({ start() { throw new RangeError('sync'); } }), RangeError);
  assertThrows(() => s.getReader({ mode: 'byob' }), TypeError);
});

test('ReadableStream: async iteration, break cancels', async () => {
  let cancelled = false, n = 0;
  const s = new ReadableStream({ pull(c) { c.enqueue(++n); }, cancel() { cancelled = true; } });
  const got = [];
  for await (const v of s) { got.push(v); if (v === 3) break; }
  assertEqual([got, cancelled, s.locked], [[1, 2, 3], true, false]);
  const keep = new ReadableStream({ start(c) { c.enqueue(1); c.enqueue(2); } });
  for await (const v of keep.values({ preventCancel: true })) { if (v === 1) break; }
  assertEqual(await keep.getReader().read(), { value: 2, done: false });
  assertEqual(await collect(ReadableStream.from(['a', Promise.resolve('b')])), ['a', 'b']);
  assertEqual(await collect(ReadableStream.from((async function* () { yield 1; yield 2; })())), [1, 2]);
});

test('ReadableStream: tee', async () => {
  const s = new ReadableStream({ start(c) { c.enqueue('x'); c.enqueue('y'); c.close(); } });
  const [a, b] = s.tee();
  assertEqual(s.locked, true);
  assertEqual(await collect(a), ['x', 'y']);
  assertEqual(await collect(b), ['x', 'y']);
  let reason;
  const t = new ReadableStream({ cancel(r) { reason = r; } });
  const [c, d] = t.tee();
  const p1 = c.cancel('r1');
  await sleep(0);
  assertEqual(reason, undefined, 'the source is cancelled when both branches are');
  await Promise.all([p1, d.cancel('r2')]);
  assertEqual(reason, ['r1', 'r2']);
});

test('WritableStream: writer, backpressure, close, abort', async () => {
  const written = [];
  let closed = false, aborted;
  const ws = new WritableStream({
    async write(chunk) { await sleep(1); written.push(chunk); },
    close() { closed = true; },
  }, { highWaterMark: 2 });
  const w = ws.getWriter();
  assertEqual(w.desiredSize, 2);
  w.write('a'); w.write('b');
  assertEqual(w.desiredSize, 0);
  await w.ready;
  await w.write('c');
  await w.close();
  assertEqual([written, closed], [['a', 'b', 'c'], true]);
  await w.closed;
  await assertRejects(w.write('d'), TypeError);

  const ab = new WritableStream({ abort(r) { aborted = r; } });
  const aw = ab.getWriter();
  await aw.abort('why');
  assertEqual(aborted, 'why');
  assertEqual(await assertRejects(aw.closed), 'why');

  const failing = new WritableStream({ write() { throw new Error('sink failed'); } });
  const fw = failing.getWriter();
  await assertRejects(fw.write('x'), Error);
  await assertRejects(fw.closed, Error);
  let signalReason;
  const sig = new WritableStream({ start(c) { c.signal.addEventListener('abort', () => { signalReason = c.signal.reason; }); } });
  await sig.abort('via signal');
  assertEqual(signalReason, 'via signal');
});

test('TransformStream: transform, flush, pipeThrough, pipeTo', async () => {
  const upper = new TransformStream({
    transform(chunk, c) { c.enqueue(chunk.toUpperCase()); },
    flush(c) { c.enqueue('!'); },
  });
  const src = ReadableStream.from(['a', 'b']);
  assertEqual(await collect(src.pipeThrough(upper)), ['A', 'B', '!']);
  const out = [];
  await ReadableStream.from(['x', 'y']).pipeTo(new WritableStream({ write(c) { out.push(c); } }));
  assertEqual(out, ['x', 'y']);
  const id = new TransformStream();
  const w = id.writable.getWriter();
  w.write(1); w.write(2); w.close();
  assertEqual(await collect(id.readable), [1, 2]);
  const failing = new TransformStream({ transform() { throw new TypeError('bad chunk'); } });
  await assertRejects(collect(ReadableStream.from([1]).pipeThrough(failing)), TypeError);
  const term = new TransformStream({ transform(chunk, c) { c.enqueue(chunk); c.terminate(); } });
  assertEqual(await collect(ReadableStream.from([1, 2, 3]).pipeThrough(term)), [1]);
});

test('pipeTo: errors propagate, abort signal stops', async () => {
  const boom = new Error('source failed');
  let abortedWith;
  const src = new ReadableStream({ pull(c) { c.error(boom); } });
  const p = src.pipeTo(new WritableStream({ abort(r) { abortedWith = r; } }));
  assertEqual(await assertRejects(p), boom);
  assertEqual(abortedWith, boom);
  let cancelled;
  const ctl = new AbortController();
  const slow = new ReadableStream({ pull(c) { return sleep(5).then(() => c.enqueue(1)); }, cancel(r) { cancelled = r; } });
  const q = slow.pipeTo(new WritableStream(), { signal: ctl.signal });
  setTimeout(() => ctl.abort(), 12);
  const e = await assertRejects(q, 'AbortError');
  assertEqual(cancelled, e);
  const sinkErr = new Error('sink failed');
  let srcCancel;
  const r2 = new ReadableStream({ pull(c) { c.enqueue(1); }, cancel(r) { srcCancel = r; } });
  assertEqual(await assertRejects(r2.pipeTo(new WritableStream({ write() { throw sinkErr; } }))), sinkErr);
  assertEqual(srcCancel, sinkErr);
});

test('TextEncoderStream and TextDecoderStream', async () => {
  const bytes = await collect(ReadableStream.from(['a\ud83d', '\ude00b']).pipeThrough(new TextEncoderStream()));
  const all = bytes.reduce((a, b) => [...a, ...b], []);
  assertEqual(all, [97, 0xf0, 0x9f, 0x98, 0x80, 98]);
  const split = [new Uint8Array([0xe2]), new Uint8Array([0x82]), new Uint8Array([0xac, 0x21])];
  assertEqual((await collect(ReadableStream.from(split).pipeThrough(new TextDecoderStream()))).join(''), '€!');
  const ds = new TextDecoderStream('utf-8', { fatal: true });
  assertEqual([ds.encoding, ds.fatal, ds.ignoreBOM], ['utf-8', true, false]);
});
