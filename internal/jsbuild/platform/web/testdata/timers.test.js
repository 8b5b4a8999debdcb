// Timers and queueMicrotask.

test('setTimeout: order by delay, then by scheduling', async () => {
  const got = [];
  await new Promise(done => {
    setTimeout(() => got.push('b'), 20);
    setTimeout(() => got.push('a'), 5);
    setTimeout((x, y) => got.push(x + y), 5, 'c', 'd');
    setTimeout(() => { got.push('end'); done(); }, 30);
  });
  assertEqual(got, ['a', 'cd', 'b', 'end']);
});

test('setTimeout: microtasks run between timers', async () => {
  const got = [];
  await new Promise(done => {
    setTimeout(() => { got.push(1); Promise.resolve().then(() => got.push('micro')); }, 0);
    setTimeout(() => { got.push(2); done(); }, 0);
  });
  assertEqual(got, [1, 'micro', 2]);
});

test('clearTimeout, setInterval, clearInterval', async () => {
  let n = 0, cleared = false;
  const t = setTimeout(() => { cleared = true; }, 1);
  clearTimeout(t);
  clearTimeout(123456); clearTimeout(undefined);
  await new Promise(done => {
    const id = setInterval(() => { if (++n === 3) { clearInterval(id); setTimeout(done, 10); } }, 2);
  });
  assertEqual([n, cleared], [3, false]);
  assert(typeof setTimeout(() => {}) === 'number' && setTimeout(() => {}) > 0, 'ids are positive numbers');
});

test('queueMicrotask runs before timers', async () => {
  const got = [];
  await new Promise(done => {
    setTimeout(() => { got.push('timer'); done(); }, 0);
    queueMicrotask(() => got.push('micro'));
  });
  assertEqual(got, ['micro', 'timer']);
  assertThrows(() => queueMicrotask(1), TypeError);
});

test('nextTimer, runTimers, clearAllTimers', () => {
  const { nextTimer } = __web;
  const id = setTimeout(() => {}, 1000);
  const t = nextTimer();
  assert(t > 900 && t <= 1000, 'nextTimer ' + t);
  clearTimeout(id);
});
