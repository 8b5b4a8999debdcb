// TextEncoder, TextDecoder, atob, btoa.

test('TextEncoder: encode and encodeInto', () => {
  const te = new TextEncoder();
  assertEqual(te.encoding, 'utf-8');
  assertEqual(te.encode('aé€😀'), new Uint8Array([97, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]));
  assertEqual(te.encode(), new Uint8Array(0));
  assertEqual(te.encode('\ud800'), new Uint8Array([0xef, 0xbf, 0xbd]));
  const dst = new Uint8Array(5);
  assertEqual(te.encodeInto('a€😀', dst), { read: 2, written: 4 });
  assertEqual(dst, new Uint8Array([97, 0xe2, 0x82, 0xac, 0]));
  assertEqual(te.encodeInto('😀', new Uint8Array(4)), { read: 2, written: 4 });
});

test('TextDecoder: fatal, BOM, labels', () => {
  const td = new TextDecoder();
  assertEqual(td.decode(new Uint8Array([0xef, 0xbb, 0xbf, 104, 105])), 'hi');
  assertEqual(new TextDecoder('utf-8', { ignoreBOM: true }).decode(new Uint8Array([0xef, 0xbb, 0xbf, 104])), '\ufeffh');
  assertEqual(td.decode(new Uint8Array([104, 0xff, 105])), 'h\ufffdi');
  assertThrows(() => new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xff])), TypeError);
  assertEqual(new TextDecoder(' UTF8 ').encoding, 'utf-8');
  assertThrows(() => new TextDecoder('latin1'), RangeError);
  assertEqual(td.decode(new Uint16Array([0x6968])), 'hi');
  assertEqual(td.decode(), '');
});

test('TextDecoder: stream splits multibyte characters', () => {
  const bytes = new TextEncoder().encode('€uro 😀!');
  for (let cut = 1; cut < bytes.length; cut++) {
    const td = new TextDecoder();
    const s = td.decode(bytes.subarray(0, cut), { stream: true }) + td.decode(bytes.subarray(cut));
    assertEqual(s, '€uro 😀!', 'cut at ' + cut);
  }
  const td = new TextDecoder();
  let out = '';
  for (const b of bytes) out += td.decode(new Uint8Array([b]), { stream: true });
  out += td.decode();
  assertEqual(out, '€uro 😀!');
  const t2 = new TextDecoder();
  assertEqual(t2.decode(new Uint8Array([0xe2, 0x82]), { stream: true }), '');
  assertEqual(t2.decode(), '\ufffd', 'an incomplete sequence at the end');
  assertEqual(t2.decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])), 'A', 'the BOM is stripped again after a flush');
});

test('atob and btoa', () => {
  assertEqual(btoa('Hello, world'), 'SGVsbG8sIHdvcmxk');
  assertEqual(btoa(''), '');
  assertEqual(btoa('\xff\xfe'), '//4=');
  assertEqual(atob('SGVsbG8sIHdvcmxk'), 'Hello, world');
  assertEqual(atob(' SGVs bG8=\n'), 'Hello');
  assertEqual(atob('//4'), '\xff\xfe');
  const e = assertThrows(() => btoa('€'), 'InvalidCharacterError');
  assert(e instanceof DOMException && e.code === 5, 'a DOMException with code 5');
  assertThrows(() => atob('a'), 'InvalidCharacterError');
  assertThrows(() => atob('a===') , 'InvalidCharacterError');
  assertThrows(() => atob('@@@@'), 'InvalidCharacterError');
});
