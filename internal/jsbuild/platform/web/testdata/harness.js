// A tiny test harness, a classic script that works in any engine with the
// platform installed: test(name, fn) registers a test (fn may be async),
// runTests() runs them in order and resolves to {passed, failed}, printing one
// line per test with console.log and the failures with console.error.
//
// Tests of the dispatcher's internal API read it from globalThis.__web, the
// platform module's namespace (esbuild --global-name=__web); runners provide it.
(function () {
  const tests = [];
  const show = v => {
    if (typeof v === 'string') return JSON.stringify(v);
    if (typeof v === 'bigint') return v + 'n';
    if (v instanceof Uint8Array) return `Uint8Array [${Array.from(v).join(', ')}]`;
    try { return JSON.stringify(v) ?? String(v); } catch { return String(v); }
  };
  function equal(a, b) {
    if (Object.is(a, b)) return true;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    if (ArrayBuffer.isView(a)) return a.length === b.length && Array.prototype.every.call(a, (x, i) => Object.is(x, b[i]));
    if (a instanceof Date) return a.getTime() === b.getTime();
    if (a instanceof Map || a instanceof Set) return equal([...a], [...b]);
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every(k => Object.hasOwn(b, k) && equal(a[k], b[k]));
  }
  function check(e, expected, msg) {
    if (expected === undefined) return;
    const ok = typeof expected === 'string' ? e && e.name === expected : e instanceof expected;
    if (!ok) throw new Error(`${msg ? msg + ': ' : ''}threw ${e && e.name}: ${e && e.message}, want ${typeof expected === 'string' ? expected : expected.name}`);
  }
  globalThis.test = (name, fn) => { tests.push({ name: String(name), fn }); };
  globalThis.assert = (cond, msg) => { if (!cond) throw new Error(msg || 'assertion failed'); };
  globalThis.assertEqual = (actual, expected, msg) => {
    if (!equal(actual, expected)) throw new Error(`${msg ? msg + ': ' : ''}got ${show(actual)}, want ${show(expected)}`);
  };
  // assertThrows calls fn and checks that it throws: an instance of the
  // constructor expected, or an error whose name is the string expected.
  globalThis.assertThrows = (fn, expected, msg) => {
    try { fn(); } catch (e) { check(e, expected, msg); return e; }
    throw new Error(`${msg ? msg + ': ' : ''}did not throw`);
  };
  globalThis.assertRejects = async (promise, expected, msg) => {
    try { await (typeof promise === 'function' ? promise() : promise); } catch (e) { check(e, expected, msg); return e; }
    throw new Error(`${msg ? msg + ': ' : ''}did not reject`);
  };
  globalThis.sleep = ms => new Promise(r => setTimeout(r, ms));
  globalThis.runTests = async (filter) => {
    let passed = 0, failed = 0;
    for (const t of tests) {
      if (filter && !t.name.includes(filter)) continue;
      try {
        await t.fn();
        passed++;
        console.log('ok   ' + t.name);
      } catch (e) {
        failed++;
        console.error('FAIL ' + t.name + ': ' + (e && e.stack && !String(e.stack).startsWith(String(e)) ? e + '\n' + e.stack : e && e.stack || e));
      }
    }
    console.log(`${passed} passed, ${failed} failed`);
    return { passed, failed };
  };
})();
