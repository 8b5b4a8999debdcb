// Blob, File, FormData.

test('Blob: parts, type, slice, text, stream', async () => {
  const b = new Blob(['héllo ', new Uint8Array([119, 111]), new Blob(['rld'])], { type: 'Text/Plain' });
  assertEqual([b.size, b.type], [12, 'text/plain']);
  assertEqual(await b.text(), 'héllo world');
  assertEqual(await b.slice(-5).text(), 'world');
  assertEqual(await b.slice(1, 3).bytes(), new Uint8Array([0xc3, 0xa9]));
  assertEqual(b.slice(0, 1, 'a/b').type, 'a/b');
  assertEqual(new Blob([], { type: 'é' }).type, '');
  assertEqual(new Uint8Array(await new Blob(['ab']).arrayBuffer()), new Uint8Array([97, 98]));
  const chunks = [];
  for await (const c of new Blob(['xyz']).stream()) chunks.push(...c);
  assertEqual(chunks, [120, 121, 122]);
  assertEqual(await new Blob(['a\r\nb\rc'], { endings: 'native' }).text(), 'a\nb\nc');
  assertThrows(() => new Blob('not a sequence'), TypeError);
  assertEqual(Object.prototype.toString.call(b), '[object Blob]');
});

test('File: name, lastModified', () => {
  const f = new File(['x'], 'a.txt', { type: 'text/plain', lastModified: 42 });
  assertEqual([f.name, f.lastModified, f.type, f.size, f instanceof Blob], ['a.txt', 42, 'text/plain', 1, true]);
  assert(Math.abs(new File([], 'n').lastModified - Date.now()) < 1000, 'lastModified defaults to now');
  assertThrows(() => new File(['x']), TypeError);
  assertEqual(Object.prototype.toString.call(f), '[object File]');
});

test('FormData: entries, files, set, delete', () => {
  const fd = new FormData();
  fd.append('a', '1');
  fd.append('a', 2);
  fd.append('blob', new Blob(['x']));
  fd.append('file', new File(['y'], 'y.txt'), 'renamed.txt');
  assertEqual(fd.getAll('a'), ['1', '2']);
  assertEqual([fd.get('blob').name, fd.get('file').name], ['blob', 'renamed.txt']);
  assert(fd.get('blob') instanceof File, 'a Blob becomes a File');
  fd.set('a', '3');
  assertEqual(fd.getAll('a'), ['3']);
  fd.delete('blob');
  assertEqual([...fd.keys()], ['a', 'file']);
  assertEqual(fd.has('zzz'), false);
  assertEqual(fd.get('zzz'), null);
  assertThrows(() => fd.append('s', 'str', 'filename'), TypeError);
  assertThrows(() => new FormData({}), TypeError);
});
