package wasmbin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// Info is what a server needs to know about a module before compiling it:
// its exports, imports and memory. Parse reads it from the binary's
// type, import, function, memory and export sections, skipping the rest, so
// that a project's modules are checked against the ABI at load without
// paying for wazero's validation of every function body.
type Info struct {
	Exports      map[string]Export
	Imports      []FuncImport
	OtherImports []ExternImport    // tables, memories, globals, tags
	MemoryMin    map[string]uint64 // exported memories: initial size in pages
}

// ExternImport is an import other than a function's.
type ExternImport struct {
	Module, Name string
	Kind         byte // ExternTable, ExternMemory, ExternGlobal or ExternTag
}

// FuncType is a function signature: its parameter and result value types,
// as the binary encodes them (0x7f is i32). Its String method formats it
// as in "(i32, i64) -> (i32)".
type FuncType struct{ Params, Results []byte }

// Export is an exported function (Sig set) or other extern (Kind).
type Export struct {
	Kind byte
	Sig  FuncType
}

// FuncImport is an imported function.
type FuncImport struct {
	Module, Name string
	Sig          FuncType
}

// The kinds of imports and exports ("externs"), as the binary encodes them.
// See https://webassembly.github.io/spec/core/binary/modules.html#import-section
const (
	ExternFunc   = 0
	ExternTable  = 1
	ExternMemory = 2
	ExternGlobal = 3
	ExternTag    = 4 // exception handling proposal
)

// externNames names import and export kinds in messages.
var externNames = map[byte]string{ExternFunc: "function", ExternTable: "table", ExternMemory: "memory", ExternGlobal: "global", ExternTag: "tag"}

// KindName names an import or export kind in messages: "function",
// "table", "memory", "global" or "tag"; "" for another.
func KindName(kind byte) string { return externNames[kind] }

// sectionNames names the sections Parse reads.
var sectionNames = map[byte]string{1: "type", 2: "import", 3: "function", 5: "memory", 7: "export"}

// valueTypeNames names the value types of signatures in messages.
var valueTypeNames = map[byte]string{0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64", 0x7b: "v128", 0x70: "funcref", 0x6f: "externref"}

func (t FuncType) String() string {
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
	return names(t.Params) + " -> " + names(t.Results)
}

// reader reads the WebAssembly binary format; the first error sticks.
type reader struct {
	b   []byte
	err error
}

// ErrTruncated is the error of a binary that ends in the middle of what it
// declares; Parse returns it for a binary cut short before its exports, and
// ReadHead then reads more of the file.
var ErrTruncated = errors.New("unexpected end")

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail(ErrTruncated)
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
		r.fail(ErrTruncated)
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
		r.fail(ErrTruncated)
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
	case ExternFunc:
		return r.uleb()
	case ExternTable:
		r.byte()
		r.limits()
	case ExternMemory:
		return r.limits()
	case ExternGlobal:
		r.byte()
		r.byte()
	case ExternTag:
		r.byte()
		r.uleb()
	default:
		r.fail(fmt.Errorf("unknown import kind %d", kind))
	}
	return 0
}

// Parse reads the module information of a WebAssembly binary, or of
// its beginning up to the export section (which comes before the code and
// data). It checks only what it reads: wazero validates the rest when it
// compiles. A binary cut short before its exports gives ErrTruncated.
func Parse(bin []byte) (*Info, error) {
	if !bytes.HasPrefix(bin, []byte("\x00asm\x01\x00\x00\x00")) {
		return nil, errors.New("not a WebAssembly 1.0 binary (bad magic number or version)")
	}
	r := &reader{b: bin[8:]}
	var (
		types    []FuncType
		funcs    []uint64 // type index of each function, imported first
		memories []uint64 // initial pages of each memory, imported first
		info     = &Info{Exports: map[string]Export{}, MemoryMin: map[string]uint64{}}
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
				types = append(types, FuncType{s.valueTypes(), s.valueTypes()})
			}
		case 2: // import
			for n := s.count(); n > 0 && s.err == nil; n-- {
				module, name, kind := s.name(), s.name(), s.byte()
				switch v := s.importDesc(kind); kind {
				case ExternFunc:
					funcs = append(funcs, v)
					info.Imports = append(info.Imports, FuncImport{Module: module, Name: name, Sig: typeAt(types, v, s)})
				case ExternMemory:
					memories = append(memories, v)
					fallthrough
				default:
					info.OtherImports = append(info.OtherImports, ExternImport{Module: module, Name: name, Kind: kind})
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
		x := Export{Kind: e.kind}
		switch e.kind {
		case ExternFunc:
			if e.idx >= uint64(len(funcs)) {
				return nil, fmt.Errorf("export %q: no function %d", e.name, e.idx)
			}
			check := &reader{}
			x.Sig = typeAt(types, funcs[e.idx], check)
			if check.err != nil {
				return nil, fmt.Errorf("export %q: %w", e.name, check.err)
			}
		case ExternMemory:
			if e.idx >= uint64(len(memories)) {
				return nil, fmt.Errorf("export %q: no memory %d", e.name, e.idx)
			}
			info.MemoryMin[e.name] = memories[e.idx]
		}
		info.Exports[e.name] = x
	}
	return info, nil
}

// ReadHead reads the beginning of the module file name in root,
// enough for Parse, and returns its information and the file's size.
// Go guests keep their exports in the first few KiB of several MiB.
func ReadHead(root *os.Root, name string) (*Info, int64, error) {
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
		info, err := Parse(head)
		if errors.Is(err, ErrTruncated) && int64(len(head)) < size {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return nil, 0, err
			}
			continue
		}
		return info, size, err
	}
}

func typeAt(types []FuncType, idx uint64, r *reader) FuncType {
	if idx >= uint64(len(types)) {
		r.fail(fmt.Errorf("no type %d", idx))
		return FuncType{}
	}
	return types[idx]
}

// ReadFile reads the module file at path in root, refusing one larger than
// MaxModuleSize before reading it (or while: it may grow meanwhile).
func ReadFile(root *os.Root, path string) ([]byte, error) {
	f, _, err := openModule(root, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bin, err := io.ReadAll(io.LimitReader(f, MaxModuleSize+1))
	if err == nil && len(bin) > MaxModuleSize {
		err = fmt.Errorf("is more than the limit of %s", FormatSize(MaxModuleSize))
	}
	return bin, err
}

// openModule opens the module file name in root and returns it with its
// size, refusing one larger than MaxModuleSize.
func openModule(root *os.Root, name string) (*os.File, int64, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() > MaxModuleSize {
		err = fmt.Errorf("is %d bytes, more than the limit of %s", fi.Size(), FormatSize(MaxModuleSize))
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}
