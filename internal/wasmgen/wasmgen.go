// Package wasmgen writes WebAssembly binary modules for tests: a small
// builder (types, function imports, functions, tables, memories, globals,
// exports, start, element and data segments, custom sections), instruction
// helpers, a seeded generator of adversarial route guests, one class per
// attack on the sandbox (see Classes), and mutators that damage real modules
// (byte flips, inflated counts, duplicated, dropped or cut sections).
//
// Everything is deterministic: a class and a seed always give the same bytes.
// It is test support, not a validator: a template meant to be valid is
// checked by this package's tests against wazero.CompileModule, and the
// malformed ones are malformed on purpose.
//
// Nothing here is safe for concurrent use of one value; distinct values are
// independent.
package wasmgen

import "encoding/binary"

// ValType is a value type's encoding.
type ValType byte

// The value types.
const (
	I32       ValType = 0x7f
	I64       ValType = 0x7e
	F32       ValType = 0x7d
	F64       ValType = 0x7c
	V128      ValType = 0x7b
	FuncRef   ValType = 0x70
	ExternRef ValType = 0x6f
)

// Export kinds.
const (
	KindFunc   byte = 0
	KindTable  byte = 1
	KindMemory byte = 2
	KindGlobal byte = 3
)

// Section ids, in the order a module must have them (custom sections aside).
const (
	SecCustom    byte = 0
	SecType      byte = 1
	SecImport    byte = 2
	SecFunction  byte = 3
	SecTable     byte = 4
	SecMemory    byte = 5
	SecGlobal    byte = 6
	SecExport    byte = 7
	SecStart     byte = 8
	SecElement   byte = 9
	SecCode      byte = 10
	SecData      byte = 11
	SecDataCount byte = 12
)

// FuncType is a function signature.
type FuncType struct{ Params, Results []ValType }

// Import is a function import.
type Import struct {
	Module, Name string
	Type         uint32
}

// Local declares Count locals of one type.
type Local struct {
	Count uint32
	Type  ValType
}

// Func is a function defined by the module. Body is its instructions without
// the final end, which Encode adds.
type Func struct {
	Type   uint32
	Locals []Local
	Body   []byte
}

// Limits are a table's or memory's limits.
type Limits struct {
	Min    uint32
	Max    uint32
	HasMax bool
}

// Table is a table of references.
type Table struct {
	Type ValType
	Limits
}

// Global is a global; Init is its constant expression without the final end.
type Global struct {
	Type    ValType
	Mutable bool
	Init    []byte
}

// Export exports one item.
type Export struct {
	Name  string
	Kind  byte
	Index uint32
}

// Elem is an active element segment of table 0 at a constant offset.
type Elem struct {
	Offset int32
	Funcs  []uint32
}

// Data is an active data segment of memory 0 at a constant offset.
type Data struct {
	Offset int32
	Bytes  []byte
}

// Custom is a custom section, written after every other section.
type Custom struct {
	Name    string
	Payload []byte
}

// Module is a module under construction. Add imports before functions: a
// function's index counts the imports before it.
type Module struct {
	Types    []FuncType
	Imports  []Import
	Funcs    []Func
	Tables   []Table
	Memories []Limits
	Globals  []Global
	Exports  []Export
	Start    *uint32
	Elems    []Elem
	Datas    []Data
	Customs  []Custom
	// DataCount writes a data count section (needed by memory.init).
	DataCount bool
}

// Type returns the index of a signature, adding it if new.
func (m *Module) Type(params, results []ValType) uint32 {
	for i, t := range m.Types {
		if string(valBytes(t.Params)) == string(valBytes(params)) && string(valBytes(t.Results)) == string(valBytes(results)) {
			return uint32(i)
		}
	}
	m.Types = append(m.Types, FuncType{params, results})
	return uint32(len(m.Types) - 1)
}

// Import adds a function import and returns its function index.
func (m *Module) Import(module, name string, params, results []ValType) uint32 {
	if len(m.Funcs) > 0 {
		panic("wasmgen: import added after a function")
	}
	m.Imports = append(m.Imports, Import{module, name, m.Type(params, results)})
	return uint32(len(m.Imports) - 1)
}

// Func adds a function and returns its function index.
func (m *Module) Func(params, results []ValType, locals []Local, body ...[]byte) uint32 {
	m.Funcs = append(m.Funcs, Func{Type: m.Type(params, results), Locals: locals, Body: Cat(body...)})
	return uint32(len(m.Imports) + len(m.Funcs) - 1)
}

// Export adds an export.
func (m *Module) Export(name string, kind byte, index uint32) {
	m.Exports = append(m.Exports, Export{name, kind, index})
}

// Encode returns the module's binary.
func (m *Module) Encode() []byte {
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	section := func(id byte, n int, item func(i int, b []byte) []byte) {
		if n == 0 {
			return
		}
		body := U32(uint32(n))
		for i := range n {
			body = item(i, body)
		}
		out = AppendSection(out, id, body)
	}
	section(SecType, len(m.Types), func(i int, b []byte) []byte {
		t := m.Types[i]
		b = append(b, 0x60)
		b = append(append(b, U32(uint32(len(t.Params)))...), valBytes(t.Params)...)
		return append(append(b, U32(uint32(len(t.Results)))...), valBytes(t.Results)...)
	})
	section(SecImport, len(m.Imports), func(i int, b []byte) []byte {
		im := m.Imports[i]
		b = Name(Name(b, im.Module), im.Name)
		return append(append(b, KindFunc), U32(im.Type)...)
	})
	section(SecFunction, len(m.Funcs), func(i int, b []byte) []byte { return append(b, U32(m.Funcs[i].Type)...) })
	section(SecTable, len(m.Tables), func(i int, b []byte) []byte {
		return appendLimits(append(b, byte(m.Tables[i].Type)), m.Tables[i].Limits)
	})
	section(SecMemory, len(m.Memories), func(i int, b []byte) []byte { return appendLimits(b, m.Memories[i]) })
	section(SecGlobal, len(m.Globals), func(i int, b []byte) []byte {
		g := m.Globals[i]
		mut := byte(0)
		if g.Mutable {
			mut = 1
		}
		return append(append(append(b, byte(g.Type), mut), g.Init...), End)
	})
	section(SecExport, len(m.Exports), func(i int, b []byte) []byte {
		e := m.Exports[i]
		return append(append(Name(b, e.Name), e.Kind), U32(e.Index)...)
	})
	if m.Start != nil {
		out = AppendSection(out, SecStart, U32(*m.Start))
	}
	section(SecElement, len(m.Elems), func(i int, b []byte) []byte {
		e := m.Elems[i]
		b = append(append(append(b, 0, OpI32Const), S32(e.Offset)...), End)
		b = append(b, U32(uint32(len(e.Funcs)))...)
		for _, f := range e.Funcs {
			b = append(b, U32(f)...)
		}
		return b
	})
	if m.DataCount {
		out = AppendSection(out, SecDataCount, U32(uint32(len(m.Datas))))
	}
	section(SecCode, len(m.Funcs), func(i int, b []byte) []byte {
		f := m.Funcs[i]
		body := U32(uint32(len(f.Locals)))
		for _, l := range f.Locals {
			body = append(append(body, U32(l.Count)...), byte(l.Type))
		}
		body = append(append(body, f.Body...), End)
		return append(append(b, U32(uint32(len(body)))...), body...)
	})
	section(SecData, len(m.Datas), func(i int, b []byte) []byte {
		d := m.Datas[i]
		b = append(append(append(b, 0, OpI32Const), S32(d.Offset)...), End)
		return append(append(b, U32(uint32(len(d.Bytes)))...), d.Bytes...)
	})
	for _, c := range m.Customs {
		out = AppendSection(out, SecCustom, append(Name(nil, c.Name), c.Payload...))
	}
	return out
}

// AppendSection appends a section with its id and size.
func AppendSection(b []byte, id byte, body []byte) []byte {
	return append(append(append(b, id), U32(uint32(len(body)))...), body...)
}

// NameSection returns the payload of a "name" custom section naming each
// function (subsection 1) and its first local (subsection 2).
func NameSection(funcs int) []byte {
	var names, locals []byte
	names = U32(uint32(funcs))
	locals = U32(uint32(funcs))
	for i := range funcs {
		names = append(names, U32(uint32(i))...)
		names = Name(names, "f"+itoa(i))
		locals = append(append(locals, U32(uint32(i))...), U32(1)...)
		locals = append(locals, U32(0)...)
		locals = Name(locals, "x")
	}
	out := append([]byte{1}, U32(uint32(len(names)))...)
	out = append(out, names...)
	out = append(append(out, 2), U32(uint32(len(locals)))...)
	return append(out, locals...)
}

func appendLimits(b []byte, l Limits) []byte {
	if l.HasMax {
		return append(append(append(b, 1), U32(l.Min)...), U32(l.Max)...)
	}
	return append(append(b, 0), U32(l.Min)...)
}

func valBytes(ts []ValType) []byte {
	b := make([]byte, len(ts))
	for i, t := range ts {
		b[i] = byte(t)
	}
	return b
}

// Name appends a length-prefixed UTF-8 name.
func Name(b []byte, s string) []byte { return append(append(b, U32(uint32(len(s)))...), s...) }

// U32 is v as an unsigned LEB128.
func U32(v uint32) []byte { return binary.AppendUvarint(nil, uint64(v)) }

// S32 is v as a signed LEB128.
func S32(v int32) []byte { return S64(int64(v)) }

// S64 is v as a signed LEB128.
func S64(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// Overlong is v as an unsigned LEB128 padded to n bytes (n ≥ 1): a valid
// encoding up to 5 bytes for a 32-bit value, malformed past it.
func Overlong(v uint32, n int) []byte {
	b := make([]byte, n)
	x := uint64(v)
	for i := range n {
		b[i] = byte(x&0x7f) | 0x80
		x >>= 7
	}
	b[n-1] &^= 0x80
	return b
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
