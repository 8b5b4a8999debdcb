package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// moduleInfo is what load needs to know about a module before compiling it:
// its exports, imports and memory. parseModule reads it from the binary's
// type, import, function, memory and export sections, skipping the rest, so
// that a project's modules are checked against the ABI at load without
// paying for wazero's validation of every function body.
type moduleInfo struct {
	exports      map[string]export
	imports      []funcImport
	otherImports []externImport    // tables, memories, globals, tags: the host provides none
	memoryMin    map[string]uint64 // exported memories: initial size in pages
}

// externImport is an import other than a function's.
type externImport struct {
	module, name string
	kind         byte
}

type funcType struct{ params, results []byte }

// export is an exported function (sig set) or other extern (kind).
type export struct {
	kind byte
	sig  funcType
}

type funcImport struct {
	module, name string
	sig          funcType
}

const (
	externFunc   = 0
	externTable  = 1
	externMemory = 2
	externGlobal = 3
	externTag    = 4
)

// externNames names import and export kinds in messages.
var externNames = map[byte]string{externFunc: "function", externTable: "table", externMemory: "memory", externGlobal: "global", externTag: "tag"}

// sectionNames names the sections parseModule reads.
var sectionNames = map[byte]string{1: "type", 2: "import", 3: "function", 5: "memory", 7: "export"}

// valueTypeNames names the value types of signatures in messages.
var valueTypeNames = map[byte]string{0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64", 0x7b: "v128", 0x70: "funcref", 0x6f: "externref"}

func (t funcType) String() string {
	names := func(ts []byte) string {
		var b bytes.Buffer
		b.WriteByte('(')
		for i, v := range ts {
			if i > 0 {
				b.WriteString(", ")
			}
			if n, ok := valueTypeNames[v]; ok {
				b.WriteString(n)
			} else {
				fmt.Fprintf(&b, "0x%02x", v)
			}
		}
		b.WriteByte(')')
		return b.String()
	}
	return names(t.params) + " -> " + names(t.results)
}

// reader reads the WebAssembly binary format; the first error sticks.
type reader struct {
	b   []byte
	err error
}

var errTruncated = errors.New("unexpected end")

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail(errTruncated)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

// uleb reads an unsigned LEB128 number of at most 64 bits.
func (r *reader) uleb() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail(errors.New("number too long"))
	return 0
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail(errTruncated)
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) name() string { return string(r.bytes(r.uleb())) }

// count reads a vector length, refusing one that cannot fit what is left.
func (r *reader) count() uint64 {
	n := r.uleb()
	if n > uint64(len(r.b)) {
		r.fail(errTruncated)
		return 0
	}
	return n
}

func (r *reader) valueTypes() []byte {
	return bytes.Clone(r.bytes(r.count()))
}

// limits reads table or memory limits and returns the minimum.
func (r *reader) limits() uint64 {
	flags := r.byte()
	min := r.uleb()
	if flags&1 != 0 {
		r.uleb() // max
	}
	if flags&0x08 != 0 { // custom page size (proposal)
		r.uleb()
	}
	return min
}

// section is one section of a module binary.
type section struct {
	id   byte
	body []byte
}

// splitSections splits a module binary into its sections.
func splitSections(bin []byte) ([]section, error) {
	if !bytes.HasPrefix(bin, []byte("\x00asm\x01\x00\x00\x00")) {
		return nil, errors.New("not a WebAssembly 1.0 binary")
	}
	var sections []section
	r := &reader{b: bin[8:]}
	for len(r.b) > 0 && r.err == nil {
		sections = append(sections, section{r.byte(), r.bytes(r.uleb())})
	}
	return sections, r.err
}

// importDesc reads the description of an import of the given kind, and
// returns a function's type index or a memory's minimum size.
func (r *reader) importDesc(kind byte) uint64 {
	switch kind {
	case externFunc:
		return r.uleb()
	case externTable:
		r.byte()
		r.limits()
	case externMemory:
		return r.limits()
	case externGlobal:
		r.byte()
		r.byte()
	case externTag:
		r.byte()
		r.uleb()
	default:
		r.fail(fmt.Errorf("unknown import kind %d", kind))
	}
	return 0
}

// parseModule reads the module information of a WebAssembly binary, or of
// its beginning up to the export section (which comes before the code and
// data). It checks only what it reads: wazero validates the rest when it
// compiles. A binary cut short before its exports gives errTruncated.
func parseModule(bin []byte) (*moduleInfo, error) {
	if !bytes.HasPrefix(bin, []byte("\x00asm\x01\x00\x00\x00")) {
		return nil, errors.New("not a WebAssembly 1.0 binary (bad magic number or version)")
	}
	r := &reader{b: bin[8:]}
	var (
		types    []funcType
		funcs    []uint64 // type index of each function, imported first
		memories []uint64 // initial pages of each memory, imported first
		info     = &moduleInfo{exports: map[string]export{}, memoryMin: map[string]uint64{}}
		exports  []struct {
			name string
			kind byte
			idx  uint64
		}
	)
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		s := &reader{b: r.bytes(r.uleb())}
		switch id {
		case 1: // type
			for n := s.count(); n > 0 && s.err == nil; n-- {
				if s.byte() != 0x60 {
					s.fail(errors.New("not a function type"))
				}
				types = append(types, funcType{s.valueTypes(), s.valueTypes()})
			}
		case 2: // import
			for n := s.count(); n > 0 && s.err == nil; n-- {
				module, name, kind := s.name(), s.name(), s.byte()
				switch v := s.importDesc(kind); kind {
				case externFunc:
					funcs = append(funcs, v)
					info.imports = append(info.imports, funcImport{module: module, name: name, sig: typeAt(types, v, s)})
				case externMemory:
					memories = append(memories, v)
					fallthrough
				default:
					info.otherImports = append(info.otherImports, externImport{module: module, name: name, kind: kind})
				}
			}
		case 3: // function
			for n := s.count(); n > 0 && s.err == nil; n-- {
				funcs = append(funcs, s.uleb())
			}
		case 5: // memory
			for n := s.count(); n > 0 && s.err == nil; n-- {
				memories = append(memories, s.limits())
			}
		case 7: // export
			for n := s.count(); n > 0 && s.err == nil; n-- {
				exports = append(exports, struct {
					name string
					kind byte
					idx  uint64
				}{s.name(), s.byte(), s.uleb()})
			}
		}
		if s.err != nil {
			return nil, fmt.Errorf("%s section: %w", sectionNames[id], s.err)
		}
		if id == 7 {
			break // nothing after the exports matters here
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	for _, e := range exports {
		x := export{kind: e.kind}
		switch e.kind {
		case externFunc:
			if e.idx >= uint64(len(funcs)) {
				return nil, fmt.Errorf("export %q: no function %d", e.name, e.idx)
			}
			check := &reader{}
			x.sig = typeAt(types, funcs[e.idx], check)
			if check.err != nil {
				return nil, fmt.Errorf("export %q: %w", e.name, check.err)
			}
		case externMemory:
			if e.idx >= uint64(len(memories)) {
				return nil, fmt.Errorf("export %q: no memory %d", e.name, e.idx)
			}
			info.memoryMin[e.name] = memories[e.idx]
		}
		info.exports[e.name] = x
	}
	return info, nil
}

// readModuleHead reads the beginning of the module file name in root,
// enough for parseModule, and returns its information and the file's size.
// Go guests keep their exports in the first few KiB of several MiB.
func readModuleHead(root *os.Root, name string) (*moduleInfo, int64, error) {
	f, size, err := openModule(root, name)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	for n := int64(64 << 10); ; n *= 4 {
		head := make([]byte, min(n, size))
		if _, err := io.ReadFull(f, head); err != nil {
			return nil, 0, err
		}
		info, err := parseModule(head)
		if errors.Is(err, errTruncated) && int64(len(head)) < size {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return nil, 0, err
			}
			continue
		}
		return info, size, err
	}
}

func typeAt(types []funcType, idx uint64, r *reader) funcType {
	if idx >= uint64(len(types)) {
		r.fail(fmt.Errorf("no type %d", idx))
		return funcType{}
	}
	return types[idx]
}

// readModule reads the module file at path, refusing one larger than
// maxModuleSize before reading it (or while: it may grow meanwhile).
func readModule(root *os.Root, path string) ([]byte, error) {
	f, _, err := openModule(root, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bin, err := io.ReadAll(io.LimitReader(f, maxModuleSize+1))
	if err == nil && len(bin) > maxModuleSize {
		err = fmt.Errorf("is more than the limit of %s", FormatSize(maxModuleSize))
	}
	return bin, err
}

// openModule opens the module file name in root and returns it with its
// size, refusing one larger than maxModuleSize.
func openModule(root *os.Root, name string) (*os.File, int64, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() > maxModuleSize {
		err = fmt.Errorf("is %d bytes, more than the limit of %s", fi.Size(), FormatSize(maxModuleSize))
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}
