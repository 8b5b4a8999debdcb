package wasmbin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// wazero's binary decoder allocates by the counts and sizes it reads
// before it reads what they count: for a code section declaring 2^32-1
// function bodies in one byte, 2^32-1 wasm.Code values (the 49 bytes of
// testdata/hostile/wat/bodies.wasm killed the process); for a function
// declaring 2^32-1 locals, a slice of 4 GiB. checkModule walks the whole
// binary first and refuses every count that cannot fit the bytes left (each
// element takes at least one byte) or that exceeds the implementation
// limits the WebAssembly JS API sets
// (https://webassembly.github.io/spec/js-api/#limits), which every browser
// enforces, so no real module comes near them. It decodes no instruction:
// the instrumenter bounds a body's structure (instrument.go), and wazero
// validates it.

// MaxModuleSize is the largest module binary, in bytes, that ReadFile,
// ReadHead and Prepare accept: ours, not the JS API's (a Go guest is 2-10
// MiB).
const MaxModuleSize = 64 << 20

// Implementation limits. See https://webassembly.github.io/spec/js-api/#limits
const (
	maxTypes           = 1_000_000
	maxFunctions       = 1_000_000 // imported and defined
	maxImports         = 100_000
	maxExports         = 100_000
	maxGlobals         = 1_000_000 // imported and defined
	maxDataSegments    = 100_000
	maxTables          = 100_000 // imported and defined
	maxTableSize       = 10_000_000
	maxMemories        = 1
	maxElementSegments = 10_000_000
	maxElements        = 10_000_000 // the entries of all element segments (JS: of a table initialization)
	maxFunctionSize    = 7_654_321
	maxLocals          = 50_000 // in one function, its parameters included
	maxParams          = 1_000
	maxResults         = 1_000

	// maxModuleLocals bounds the locals of all the functions of a module
	// together, parameters included: wazero's compiler spends ~8 bytes per
	// local per function, so 10,000 functions of 50,000 locals (an 80 KB
	// module) took 3.8 GiB and 15 s to compile; at this cap, ~77 MiB, what
	// an 8 MiB Go guest's code takes. The demo's Go guests declare ~8,500
	// (TestCompileMemory).
	maxModuleLocals = 10_000_000
)

// sectionName names every section in messages.
var sectionName = [...]string{0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global",
	7: "export", 8: "start", 9: "element", 10: "code", 11: "data", 12: "data count", 13: "tag"}

// checker walks a module for checkModule.
type checker struct {
	params     []uint64 // parameter count of each type
	funcs      []uint64 // type index of each function, imported first
	imported   uint64   // imported functions
	tables     uint64
	memories   uint64
	globals    uint64
	elements   uint64 // entries of all element segments
	locals     uint64 // of all functions
	codeBodies bool
}

// checkModule checks the structure of the whole module binary bin: every
// section in order and consumed exactly, every count against the bytes left
// and the implementation limits above, every function's locals. It decodes
// neither instructions nor, beyond their bounds, custom sections other than
// "name", which wazero decodes.
func checkModule(bin []byte) (*checker, error) {
	if len(bin) > MaxModuleSize {
		return nil, fmt.Errorf("is %d bytes, more than the limit of %s", len(bin), FormatSize(MaxModuleSize))
	}
	if !bytes.HasPrefix(bin, []byte("\x00asm\x01\x00\x00\x00")) {
		return nil, errors.New("not a WebAssembly 1.0 binary (bad magic number or version)")
	}
	c := &checker{}
	r := &reader{b: bin[8:]}
	last := 0 // sectionOrder of the last known section
	for len(r.b) > 0 {
		id := r.byte()
		size := r.uleb()
		if r.err == nil && size > uint64(len(r.b)) {
			return nil, fmt.Errorf("section %d declares %d bytes, %d are left", id, size, len(r.b))
		}
		body := r.bytes(size)
		if r.err != nil {
			return nil, r.err
		}
		if int(id) >= len(sectionName) {
			return nil, fmt.Errorf("unknown section %d", id)
		}
		if id != 0 {
			if sectionOrder[id] <= last {
				return nil, fmt.Errorf("%s section out of order or repeated", sectionName[id])
			}
			last = sectionOrder[id]
		}
		s := &reader{b: body}
		c.section(id, s)
		if s.err == nil && len(s.b) > 0 {
			s.fail(fmt.Errorf("%d bytes after its last entry", len(s.b)))
		}
		if _, ok := s.err.(*errDeclares); ok {
			return nil, fmt.Errorf("%s section %w", sectionName[id], s.err)
		}
		if s.err != nil {
			return nil, fmt.Errorf("%s section: %w", sectionName[id], s.err)
		}
	}
	if uint64(len(c.funcs))-c.imported > 0 && !c.codeBodies {
		return nil, fmt.Errorf("declares %d functions and no code section", uint64(len(c.funcs))-c.imported)
	}
	return c, nil
}

// entry names what a message is about, and is formatted only for one:
// entry{"function", 3, "local count"} is "function 3's local count", an
// entry without a kind its part alone.
type entry struct {
	kind  string
	index uint64
	part  string
}

func (e entry) String() string {
	if e.kind == "" {
		return e.part
	}
	s := e.kind + " " + strconv.FormatUint(e.index, 10)
	if e.part != "" {
		s += "'s " + e.part
	}
	return s
}

// of names a part of e.
func (e entry) of(part string) entry {
	e.part = part
	return e
}

func named(s string) entry { return entry{part: s} }

// vector reads the length of a vector of what, whose elements take at least
// minSize bytes each, and refuses one that cannot fit the bytes left or
// exceeds limit.
// The message names owner, or reads on from its section's name if owner is
// empty: "code section declares 4294967295 function bodies in 38 bytes".
func (r *reader) vector(owner entry, what string, minSize, limit uint64) uint64 {
	n := r.uleb()
	switch {
	case r.err != nil:
		return 0
	case n > uint64(len(r.b))/minSize:
		r.fail(declares(owner, "%d %s in %d bytes", n, what, len(r.b)))
		return 0
	case n > limit:
		r.fail(declares(owner, "%d %s, more than the limit of %d", n, what, limit))
		return 0
	}
	return n
}

// errDeclares marks a message that reads on from its section's name.
type errDeclares struct{ msg string }

func (e *errDeclares) Error() string { return e.msg }

func declares(owner entry, format string, args ...any) error {
	msg := "declares " + fmt.Sprintf(format, args...)
	if owner == (entry{}) {
		return &errDeclares{msg}
	}
	return errors.New(owner.String() + " " + msg)
}

// utf8Name reads a name, checking its length against the bytes left and its
// encoding.
func (r *reader) utf8Name(what entry) []byte {
	n := r.uleb()
	if r.err == nil && n > uint64(len(r.b)) {
		r.fail(fmt.Errorf("%s of %d bytes in %d", what, n, len(r.b)))
	}
	b := r.bytes(n)
	if r.err == nil && !utf8.Valid(b) {
		r.fail(fmt.Errorf("%s is not UTF-8", what))
	}
	return b
}

// valueType reads a value type of WebAssembly 2.0 (wazero's features).
func (r *reader) valueType(what entry) byte {
	t := r.byte()
	switch t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
	default:
		if r.err == nil {
			r.fail(fmt.Errorf("%s has unknown value type 0x%02x", what, t))
		}
	}
	return t
}

// refType reads a table's or an element segment's reference type.
func (r *reader) refType(what entry) {
	if t := r.byte(); r.err == nil && t != 0x70 && t != 0x6f {
		r.fail(fmt.Errorf("%s has unknown reference type 0x%02x", what, t))
	}
}

// limitsOf reads table or memory limits, refusing flags beyond maxFlag.
func (r *reader) limitsOf(what entry, maxFlag byte) (min, max uint64, hasMax bool) {
	flags := r.byte()
	if r.err == nil && flags > maxFlag {
		r.fail(fmt.Errorf("%s has unknown limits flags 0x%02x", what, flags))
	}
	min = r.u32(what.of("minimum"))
	if hasMax = flags&1 != 0; hasMax {
		max = r.u32(what.of("maximum"))
		if r.err == nil && max < min {
			r.fail(fmt.Errorf("%s's maximum %d is below its minimum %d", what, max, min))
		}
	}
	return min, max, hasMax
}

// u32 reads an unsigned number that must fit 32 bits.
func (r *reader) u32(what entry) uint64 {
	v := r.uleb()
	if r.err == nil && v > 1<<32-1 {
		r.fail(fmt.Errorf("%s %d does not fit 32 bits", what, v))
	}
	return v
}

func (c *checker) section(id byte, s *reader) {
	switch id {
	case 0:
		c.custom(s)
	case 1: // type
		for i, n := uint64(0), s.vector(entry{}, "types", 3, maxTypes); i < n && s.err == nil; i++ {
			what := entry{"type", i, ""}
			if form := s.byte(); s.err == nil && form != 0x60 {
				s.fail(fmt.Errorf("%s is not a function type (0x%02x)", what, form))
			}
			params := s.vector(what, "parameters", 1, maxParams)
			for j := uint64(0); j < params && s.err == nil; j++ {
				s.valueType(what)
			}
			for j, m := uint64(0), s.vector(what, "results", 1, maxResults); j < m && s.err == nil; j++ {
				s.valueType(what)
			}
			c.params = append(c.params, params)
		}
	case 2: // import
		for i, n := uint64(0), s.vector(entry{}, "imports", 4, maxImports); i < n && s.err == nil; i++ {
			what := entry{"import", i, ""}
			s.utf8Name(what.of("module"))
			s.utf8Name(what.of("name"))
			switch kind := s.byte(); kind {
			case ExternFunc:
				c.addFunc(s, s.uleb(), what)
			case ExternTable:
				s.refType(what)
				s.limitsOf(what, 1)
				c.addTables(s, 1)
			case ExternMemory:
				s.limitsOf(what, 3)
				c.addMemories(s, 1)
			case ExternGlobal:
				s.valueType(what)
				s.mutability(what)
				c.addGlobals(s, 1)
			default:
				if s.err == nil {
					s.fail(fmt.Errorf("%s has unknown kind %d", what, kind))
				}
			}
		}
		c.imported = uint64(len(c.funcs))
	case 3: // function
		n := s.vector(entry{}, "functions", 1, maxFunctions)
		if s.err == nil && c.imported+n > maxFunctions {
			s.fail(fmt.Errorf("declares %d functions beside %d imported, more than the limit of %d", n, c.imported, maxFunctions))
		}
		for i := uint64(0); i < n && s.err == nil; i++ {
			c.addFunc(s, s.uleb(), entry{"function", c.imported + i, ""})
		}
	case 4: // table
		n := s.vector(entry{}, "tables", 3, maxTables)
		c.addTables(s, n)
		for i := uint64(0); i < n && s.err == nil; i++ {
			what := entry{"table", i, ""}
			s.refType(what)
			if min, _, _ := s.limitsOf(what, 1); s.err == nil && min > maxTableSize {
				s.fail(fmt.Errorf("%s starts with %d entries, more than the limit of %d", what, min, maxTableSize))
			}
		}
	case 5: // memory
		n := s.vector(entry{}, "memories", 2, maxMemories)
		c.addMemories(s, n)
		for i := uint64(0); i < n && s.err == nil; i++ {
			s.limitsOf(entry{"memory", i, ""}, 3)
		}
	case 6: // global
		n := s.vector(entry{}, "globals", 3, maxGlobals)
		c.addGlobals(s, n)
		for i := uint64(0); i < n && s.err == nil; i++ {
			what := entry{"global", i, ""}
			s.valueType(what)
			s.mutability(what)
			s.constExpr()
		}
	case 7: // export
		for i, n := uint64(0), s.vector(entry{}, "exports", 3, maxExports); i < n && s.err == nil; i++ {
			what := entry{"export", i, ""}
			s.utf8Name(what.of("name"))
			if kind := s.byte(); s.err == nil && kind > ExternGlobal {
				s.fail(fmt.Errorf("%s has unknown kind %d", what, kind))
			}
			s.u32(what.of("index"))
		}
	case 8: // start
		s.u32(named("start function"))
	case 9: // element
		for i, n := uint64(0), s.vector(entry{}, "element segments", 2, maxElementSegments); i < n && s.err == nil; i++ {
			c.element(s, entry{"element segment", i, ""})
		}
	case 10: // code
		n := s.vector(entry{}, "function bodies", 2, maxFunctions)
		if defined := uint64(len(c.funcs)) - c.imported; s.err == nil && n != defined {
			s.fail(declares(entry{}, "%d function bodies for %d functions", n, defined))
		}
		c.codeBodies = true
		for i := uint64(0); i < n && s.err == nil; i++ {
			c.code(s, c.imported+i)
		}
	case 11: // data
		n := s.vector(entry{}, "data segments", 2, maxDataSegments)
		for i := uint64(0); i < n && s.err == nil; i++ {
			what := entry{"data segment", i, ""}
			switch flags := s.uleb(); flags {
			case 0:
				s.constExpr()
			case 1:
			case 2:
				s.u32(what.of("memory"))
				s.constExpr()
			default:
				if s.err == nil {
					s.fail(fmt.Errorf("%s has unknown flags %d", what, flags))
				}
			}
			s.bytes(s.vector(what, "bytes", 1, MaxModuleSize))
		}
	case 12: // data count
		if n := s.uleb(); s.err == nil && n > maxDataSegments {
			s.fail(declares(entry{}, "%d data segments, more than the limit of %d", n, maxDataSegments))
		}
	case 13: // tag
		s.fail(errors.New("exception handling is not supported"))
	}
}

func (r *reader) mutability(what entry) {
	if m := r.byte(); r.err == nil && m > 1 {
		r.fail(fmt.Errorf("%s has unknown mutability %d", what, m))
	}
}

func (c *checker) addFunc(s *reader, typeIdx uint64, what entry) {
	if s.err != nil {
		return
	}
	if typeIdx >= uint64(len(c.params)) {
		s.fail(fmt.Errorf("%s has no type %d", what, typeIdx))
		return
	}
	if uint64(len(c.funcs)) >= maxFunctions {
		s.fail(fmt.Errorf("more than the limit of %d functions", maxFunctions))
		return
	}
	c.funcs = append(c.funcs, typeIdx)
}

func (c *checker) addTables(s *reader, n uint64) {
	if c.tables += n; s.err == nil && c.tables > maxTables {
		s.fail(fmt.Errorf("more than the limit of %d tables", maxTables))
	}
}

func (c *checker) addMemories(s *reader, n uint64) {
	if c.memories += n; s.err == nil && c.memories > maxMemories {
		s.fail(fmt.Errorf("more than the limit of %d memory", maxMemories))
	}
}

func (c *checker) addGlobals(s *reader, n uint64) {
	if c.globals += n; s.err == nil && c.globals > maxGlobals {
		s.fail(fmt.Errorf("more than the limit of %d globals", maxGlobals))
	}
}

// element checks one element segment (the 8 encodings of WebAssembly 2.0).
func (c *checker) element(s *reader, what entry) {
	flags := s.uleb()
	if s.err == nil && flags > 7 {
		s.fail(fmt.Errorf("%s has unknown flags %d", what, flags))
		return
	}
	if flags&3 == 2 { // active with a table index
		s.u32(what.of("table"))
	}
	if flags&1 == 0 { // active: an offset
		s.constExpr()
	}
	if flags&3 != 0 { // an element kind or reference type
		if flags&4 == 0 {
			if k := s.byte(); s.err == nil && k != 0 {
				s.fail(fmt.Errorf("%s has unknown element kind %d", what, k))
			}
		} else {
			s.refType(what)
		}
	}
	n := s.vector(what, "entries", 1, maxElements)
	if c.elements += n; s.err == nil && c.elements > maxElements {
		s.fail(fmt.Errorf("more than the limit of %d element entries in all segments", maxElements))
	}
	for i := uint64(0); i < n && s.err == nil; i++ {
		if flags&4 == 0 {
			s.u32(what.of("function index"))
		} else {
			s.constExpr()
		}
	}
}

// code checks the body of function fn: its size and its locals.
func (c *checker) code(s *reader, fn uint64) {
	what := entry{"function", fn, ""}
	size := s.uleb()
	switch {
	case s.err != nil:
		return
	case size > uint64(len(s.b)):
		s.fail(fmt.Errorf("%s's body declares %d bytes, %d are left", what, size, len(s.b)))
		return
	case size > maxFunctionSize:
		s.fail(fmt.Errorf("%s's body is %d bytes, more than the limit of %d", what, size, maxFunctionSize))
		return
	case size == 0:
		s.fail(fmt.Errorf("%s's body is empty", what))
		return
	}
	b := &reader{b: s.bytes(size)}
	locals := c.params[c.funcs[fn]]
	for i, n := uint64(0), b.vector(what, "local declarations", 2, maxLocals); i < n && b.err == nil; i++ {
		locals += b.u32(what.of("local count"))
		b.valueType(what.of("local"))
		if b.err == nil && locals > maxLocals {
			b.fail(fmt.Errorf("%s declares at least %d locals, parameters included; the limit is %d", what, locals, maxLocals))
		}
	}
	if b.err == nil && len(b.b) == 0 {
		b.fail(fmt.Errorf("%s has no code after its locals", what))
	}
	if b.err != nil {
		s.fail(b.err)
		return
	}
	if c.locals += locals; c.locals > maxModuleLocals {
		s.fail(fmt.Errorf("the functions up to %d declare %d locals together, parameters included; the limit is %d", fn, c.locals, maxModuleLocals))
	}
}

// custom checks a custom section's name and, for the "name" section, which
// wazero decodes, its function and local names.
func (c *checker) custom(s *reader) {
	if string(s.utf8Name(named("custom section name"))) != "name" || s.err != nil {
		s.b = nil // the rest is opaque: wazero keeps it, bounded by its size, or skips it
		return
	}
	for len(s.b) > 0 && s.err == nil {
		id := s.byte()
		size := s.uleb()
		if s.err == nil && size > uint64(len(s.b)) {
			s.fail(fmt.Errorf("name subsection %d declares %d bytes, %d are left", id, size, len(s.b)))
		}
		sub := &reader{b: s.bytes(size)}
		what := entry{"name subsection", uint64(id), ""}
		switch id {
		case 0: // module name
			sub.utf8Name(named("module name"))
		case 1: // function names
			for i, n := uint64(0), sub.vector(entry{}, "function names", 2, maxFunctions); i < n && sub.err == nil; i++ {
				sub.u32(named("function index"))
				sub.utf8Name(named("function name"))
			}
		case 2: // local names
			var total uint64
			for i, n := uint64(0), sub.vector(entry{}, "functions with local names", 2, maxFunctions); i < n && sub.err == nil; i++ {
				sub.u32(named("function index"))
				m := sub.vector(named("a function"), "local names", 2, maxLocals)
				if total += m; sub.err == nil && total > maxModuleLocals {
					sub.fail(fmt.Errorf("more than the limit of %d local names", maxModuleLocals))
				}
				for j := uint64(0); j < m && sub.err == nil; j++ {
					sub.u32(named("local index"))
					sub.utf8Name(named("local name"))
				}
			}
		default: // skipped by wazero
			sub.b = nil
		}
		if sub.err == nil && len(sub.b) > 0 {
			sub.fail(fmt.Errorf("%d bytes after its last entry", len(sub.b)))
		}
		if _, ok := sub.err.(*errDeclares); ok {
			s.fail(fmt.Errorf("%s %w", what, sub.err))
		} else if sub.err != nil {
			s.fail(fmt.Errorf("%s: %w", what, sub.err))
		}
	}
}

// Prepare checks the structure of the whole module binary bin against the
// implementation limits (checkModule) and caps its tables (capTables), for
// a route whose instances may use maxMemory of linear memory, and returns
// the module to compile (bin itself when it has no tables). What
// wazero allocates for each instance outside linear memory, by counts
// the module declares, is bounded to a fraction of maxMemory too
// (measured with wazero 1.12 on 1,000,000 of each):
//
//   - table entries, 8 bytes each: at most maxMemory/64 in all tables
//     (1/8 of maxMemory), by their maxima;
//   - element segment entries, ~41 bytes each in an instance: at most
//     maxMemory/256 (~1/6);
//   - globals, ~88 bytes each in an instance: at most maxMemory/1024
//     (~1/12).
//
// A Go guest has one table of ~6,000 entries, ~2,100 element entries
// and 8 globals.
func Prepare(bin []byte, maxMemory int64) ([]byte, error) {
	c, err := checkModule(bin)
	if err != nil {
		return nil, err
	}
	if limit := uint64(maxMemory) / 256; c.elements > limit {
		return nil, fmt.Errorf("its element segments hold %d entries, more than the %d its maxMemory of %s allows (one per 256 bytes)", c.elements, limit, FormatSize(maxMemory))
	}
	if limit := uint64(maxMemory) / 1024; c.globals > limit {
		return nil, fmt.Errorf("it declares %d globals, more than the %d its maxMemory of %s allows (one per KiB)", c.globals, limit, FormatSize(maxMemory))
	}
	return capTables(bin, maxTableEntries(maxMemory))
}

// capTables returns bin with every table's maximum set so that all its
// tables together never hold more than maxEntries: each of n tables may
// grow to maxEntries/n (table.grow past it returns -1), and a table that
// starts larger than that is an error. A module without tables is
// returned as it is. bin must have passed checkModule.
//
// wazero keeps a table entry in 8 bytes and grows a table without a
// maximum up to 2^32 entries; tables are not linear memory, so its memory
// limit does not count them.
func capTables(bin []byte, maxEntries uint64) ([]byte, error) {
	sections, err := splitSections(bin)
	if err != nil {
		return nil, err
	}
	for i, sec := range sections {
		if sec.id != 4 {
			continue
		}
		s := &reader{b: sec.body}
		n := s.count()
		if n == 0 {
			return bin, s.err
		}
		share := maxEntries / n
		out := binary.AppendUvarint(nil, n)
		for t := uint64(0); t < n && s.err == nil; t++ {
			typ := s.byte()
			min, max, hasMax := s.limitsOf(named("table"), 1)
			if s.err != nil {
				break
			}
			if min > share {
				return nil, fmt.Errorf("table %d starts with %d entries, more than its share of %d (%d in all, for %d tables)", t, min, share, maxEntries, n)
			}
			if !hasMax || max > share {
				max = share
			}
			out = append(out, typ, 1)
			out = binary.AppendUvarint(out, min)
			out = binary.AppendUvarint(out, max)
		}
		if s.err != nil {
			return nil, fmt.Errorf("table section: %w", s.err)
		}
		var b bytes.Buffer
		b.Grow(len(bin) + len(out))
		b.Write(bin[:8])
		for j, sec := range sections {
			if j == i {
				writeSection(&b, 4, out)
			} else {
				writeSection(&b, sec.id, sec.body)
			}
		}
		return b.Bytes(), nil
	}
	return bin, nil
}

// maxTableEntries is how many table entries a module may hold in all under
// a memory limit: an eighth of it, at 8 bytes an entry.
func maxTableEntries(maxMemory int64) uint64 { return uint64(maxMemory) / 64 }

// FormatSize formats a size in bytes in the largest exact unit, for
// messages that name a limit: "64MiB", "1KiB", "1000" (runtime.FormatSize).
func FormatSize(n int64) string {
	for _, u := range []struct {
		unit string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n > 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.unit
		}
	}
	return strconv.FormatInt(n, 10)
}
