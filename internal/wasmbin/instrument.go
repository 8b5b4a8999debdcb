package wasmbin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// A guest that never returns must still be stoppable at its deadline, and
// preemptible by the Go scheduler while it runs (compiled WebAssembly has no
// Go safe points). wazero's WithCloseOnContextDone checks only at loop
// back-edges, ~26 ns each, plus a watcher goroutine per call; a function
// that calls itself twice runs for ever without a loop, and its stack,
// wazero's to grow up to ~160 MB, is outside the memory limit.
//
// Instrument rewrites every module before it is compiled:
//
//   - at the head of every loop, and at the entry of every function that
//     contains a call, a countdown in a new global; every yieldEvery counts
//     it calls the module's WASI sched_yield, whose host side (package host)
//     ends the call of a stopped request and, being Go code, is where the
//     Go scheduler preempts a long-running guest. Code without loops or
//     calls runs in a time bounded by its size, so every unbounded path
//     meets a check. A module that does not import sched_yield gets the
//     import, its functions renumbered.
//   - a second new global counts the stack bytes the module's frames use,
//     estimated per function (frameCost): a function with calls adds its
//     frame at entry and traps past the budget, and takes it off at each
//     exit (return, tail call, or its end, which a block around its body
//     makes every branch to the function's label reach). A function
//     without calls is a leaf: one frame past the budget at most. A trap
//     discards the instance, so nothing needs to unwind the count.
//
// It refuses a module with an instruction it does not know: such a module
// cannot be served, as nothing would bound it.

// yieldEvery is how many checks (loop iterations, function entries) run
// between two calls of sched_yield: ~10 µs of a tight loop, against ~0.1 µs
// a call.
const yieldEvery = 10_000

// wasiModule is the WASI preview 1 module, which sched_yield is imported
// from.
const wasiModule = "wasi_snapshot_preview1"

// Frame cost estimate: localBytes per parameter and local (a v128 counts
// twice), valueBytes per slot of the operand stack's greatest height (any
// type: v128 included), plus frameOverhead for the return address, the
// frame's size and alignment. TestFrameCost measures it against wazero's
// real stack use: 2 to 7 times as much, wazevo keeping much of the
// operand stack in registers.
const (
	localBytes    = 8
	valueBytes    = 16
	frameOverhead = 48
)

// errNoInstrument wraps why a module cannot be instrumented.
var errNoInstrument = errors.New("cannot instrument")

func noInstrument(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errNoInstrument, fmt.Sprintf(format, args...))
}

// sectionOrder is the position of each known section id in a module.
var sectionOrder = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

// Instrumented is a module as Instrument rewrote it.
type Instrumented struct {
	Bin   []byte // the instrumented module
	Loops int    // loops given a countdown check
	Calls int    // functions given an entry check and a stack count
	// MutatesTables: some instruction changes a table or drops a segment
	// (table.set, table.grow, table.fill, table.copy, table.init,
	// elem.drop, data.drop), state a snapshot does not restore.
	MutatesTables bool
	AddedYield    bool // sched_yield was not imported: Instrument added it
}

// Instrument returns bin instrumented (see above), its frames bounded to
// stackBudget bytes of estimated stack: a countdown that calls WASI
// sched_yield every yieldEvery loop iterations and function entries (the
// import added if bin lacks it), a stack count that traps past the budget,
// and the deep flag (DeepExport). A module with an instruction it does not
// know is refused: its error says "cannot instrument".
func Instrument(bin []byte, stackBudget uint32) (*Instrumented, error) {
	stackBudget = min(stackBudget, 1<<30)
	sections, err := splitSections(bin)
	if err != nil {
		return nil, err
	}
	var (
		types     []FuncType
		funcTypes []uint32 // type index of each function, imported first
		imports   int      // imported functions
		yield     = -1     // function index of sched_yield
		globals   uint64
	)
	for _, sec := range sections {
		id := sec.id
		s := &reader{b: sec.body}
		switch id {
		case 1: // type
			for n := s.count(); n > 0 && s.err == nil; n-- {
				if s.byte() != 0x60 {
					return nil, noInstrument("a type is not a function type")
				}
				t := FuncType{s.valueTypes(), s.valueTypes()}
				for _, v := range append(t.Params[:len(t.Params):len(t.Params)], t.Results...) {
					if !isValueType(v) {
						return nil, noInstrument("a type with a value type it does not know (0x%02x)", v)
					}
				}
				types = append(types, t)
			}
		case 2: // import
			for n := s.count(); n > 0 && s.err == nil; n-- {
				module, name, kind := s.name(), s.name(), s.byte()
				switch t := s.importDesc(kind); kind {
				case ExternFunc:
					if t >= uint64(len(types)) {
						return nil, fmt.Errorf("import %s.%s: no type %d", module, name, t)
					}
					if module == wasiModule && name == "sched_yield" && yield < 0 && isYieldType(types[t]) {
						yield = imports
					}
					funcTypes = append(funcTypes, uint32(t))
					imports++
				case ExternGlobal:
					globals++
				}
			}
		case 3: // function
			for n := s.count(); n > 0 && s.err == nil; n-- {
				t := s.uleb()
				if t >= uint64(len(types)) {
					return nil, fmt.Errorf("function section: no type %d", t)
				}
				funcTypes = append(funcTypes, uint32(t))
			}
		case 6: // global
			globals += s.count()
		}
		if s.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, s.err)
		}
	}

	// The added globals, after the module's own: the countdown, the stack
	// count and the deep flag (DeepExport).
	ins := &Instrumented{}
	countdown, stack, deep := uint32(globals), uint32(globals+1), uint32(globals+2)
	newTypes := types // types, with those Instrument adds at the end
	typeIndex := func(t FuncType) uint32 {
		for i, u := range newTypes {
			if bytes.Equal(u.Params, t.Params) && bytes.Equal(u.Results, t.Results) {
				return uint32(i)
			}
		}
		newTypes = append(newTypes, t)
		return uint32(len(newTypes) - 1)
	}
	var yieldType uint32
	if yield < 0 {
		// Import it after the other imports: the defined functions move up
		// by one.
		ins.AddedYield = true
		yield = imports
		yieldType = typeIndex(FuncType{nil, []byte{0x7f}})
		funcTypes = append(funcTypes[:imports:imports], append([]uint32{yieldType}, funcTypes[imports:]...)...)
	}
	shift := func(f uint64) uint64 {
		if ins.AddedYield && f >= uint64(imports) {
			return f + 1
		}
		return f
	}

	ci := &codeInstrumenter{
		types:     types,
		funcTypes: funcTypes,
		defined:   imports + int(b2u(ins.AddedYield)),
		shift:     shift,
		budget:    stackBudget,
		typeIndex: typeIndex,
		countdown: countdown,
		stack:     stack,
		deep:      deep,
		yield:     uint32(yield),
	}

	// The countdown global (mutable i32 at yieldEvery), the stack count and
	// the deep flag (mutable i32s at 0).
	newGlobals := []byte{0x7f, 0x01, 0x41}
	newGlobals = appendSLEB(newGlobals, yieldEvery)
	newGlobals = append(newGlobals, 0x0b, 0x7f, 0x01, 0x41, 0x00, 0x0b, 0x7f, 0x01, 0x41, 0x00, 0x0b)

	// Rewrite the sections that change, the code first: it may add types.
	bodies := map[byte][]byte{}
	for _, sec := range sections {
		var body []byte
		var err error
		switch sec.id {
		case 2:
			body, err = appendYieldImport(sec.body, ins.AddedYield, yieldType)
		case 6:
			body, err = rewriteGlobals(sec.body, shift, newGlobals)
		case 7:
			body, err = shiftExports(sec.body, shift, deep)
		case 8:
			s := &reader{b: sec.body}
			body = binary.AppendUvarint(nil, shift(s.uleb()))
			err = s.err
		case 9:
			body, err = shiftElements(sec.body, ins.AddedYield, shift)
		case 10:
			body, err = ci.section(sec.body)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		bodies[sec.id] = body
	}
	if _, ok := bodies[2]; !ok && ins.AddedYield {
		bodies[2], _ = appendYieldImport(nil, true, yieldType)
	}
	if _, ok := bodies[6]; !ok {
		bodies[6], _ = rewriteGlobals(nil, shift, newGlobals)
	}
	if len(newTypes) > len(types) {
		// The types as they were, and those added.
		var b []byte
		b = binary.AppendUvarint(b, uint64(len(newTypes)))
		for _, sec := range sections {
			if sec.id == 1 {
				s := &reader{b: sec.body}
				s.uleb()
				b = append(b, s.b...)
			}
		}
		for _, t := range newTypes[len(types):] {
			b = append(b, 0x60)
			b = binary.AppendUvarint(b, uint64(len(t.Params)))
			b = append(b, t.Params...)
			b = binary.AppendUvarint(b, uint64(len(t.Results)))
			b = append(b, t.Results...)
		}
		bodies[1] = b
	}
	ins.Loops, ins.Calls, ins.MutatesTables = ci.loops, ci.calls, ci.mutatesTables

	out := bytes.NewBuffer(make([]byte, 0, len(bin)+len(bin)/8))
	out.Write(bin[:8])
	written := map[byte]bool{}
	// writeMissing writes the new sections that come before position pos.
	writeMissing := func(pos int) {
		for _, id := range []byte{1, 2, 6} {
			if b, ok := bodies[id]; ok && !written[id] && sectionOrder[id] < pos {
				writeSection(out, id, b)
				written[id] = true
			}
		}
	}
	for _, sec := range sections {
		if sec.id != 0 {
			writeMissing(sectionOrder[sec.id])
		}
		switch b, ok := bodies[sec.id]; {
		case sec.id == 0 && ins.AddedYield:
			if body, ok := shiftNames(sec.body, shift); ok {
				writeSection(out, 0, body)
			}
		case ok:
			writeSection(out, sec.id, b)
			written[sec.id] = true
		default:
			writeSection(out, sec.id, sec.body)
		}
	}
	writeMissing(len(sectionOrder) + 1)
	ins.Bin = out.Bytes()
	return ins, nil
}

func isYieldType(t FuncType) bool {
	return len(t.Params) == 0 && bytes.Equal(t.Results, []byte{0x7f})
}

// appendYieldImport appends wasi_snapshot_preview1.sched_yield to an import
// section when add is set.
func appendYieldImport(body []byte, add bool, typ uint32) ([]byte, error) {
	if !add {
		return body, nil
	}
	var n uint64
	var rest []byte
	if body != nil {
		s := &reader{b: body}
		n = s.uleb()
		if s.err != nil {
			return nil, fmt.Errorf("import section: %w", s.err)
		}
		rest = s.b
	}
	b := binary.AppendUvarint(nil, n+1)
	b = append(b, rest...)
	b = appendName(b, wasiModule)
	b = appendName(b, "sched_yield")
	b = append(b, ExternFunc)
	return binary.AppendUvarint(b, uint64(typ)), nil
}

// rewriteGlobals renumbers the functions of a global section's
// initializers and appends extra, encoded globals (three of them).
func rewriteGlobals(body []byte, shift func(uint64) uint64, extra []byte) ([]byte, error) {
	s := &reader{b: body}
	var n uint64
	if body != nil {
		n = s.count()
	}
	b := binary.AppendUvarint(nil, n+3)
	for i := uint64(0); i < n && s.err == nil; i++ {
		b = append(b, s.bytes(2)...) // type, mutability
		b = s.shiftConstExpr(b, shift)
	}
	if s.err != nil {
		return nil, fmt.Errorf("global section: %w", s.err)
	}
	return append(b, extra...), nil
}

// shiftExports renumbers the exported functions.
func shiftExports(body []byte, shift func(uint64) uint64, deep uint32) ([]byte, error) {
	s := &reader{b: body}
	n := s.count()
	b := binary.AppendUvarint(nil, n+1)
	b = append(appendName(b, DeepExport), ExternGlobal)
	b = binary.AppendUvarint(b, uint64(deep))
	for i := uint64(0); i < n && s.err == nil; i++ {
		b = appendName(b, s.name())
		kind := s.byte()
		idx := s.uleb()
		if kind == ExternFunc {
			idx = shift(idx)
		}
		b = append(b, kind)
		b = binary.AppendUvarint(b, idx)
	}
	if s.err != nil {
		return nil, fmt.Errorf("export section: %w", s.err)
	}
	return b, nil
}

// shiftElements renumbers the functions of an element section.
func shiftElements(body []byte, renumber bool, shift func(uint64) uint64) ([]byte, error) {
	if !renumber {
		return body, nil
	}
	s := &reader{b: body}
	n := s.count()
	b := binary.AppendUvarint(nil, n)
	for i := uint64(0); i < n && s.err == nil; i++ {
		flags := s.uleb()
		b = binary.AppendUvarint(b, flags)
		if flags > 7 {
			return nil, fmt.Errorf("element segment %d: unknown kind %d", i, flags)
		}
		if flags&3 == 2 { // explicit table index
			b = binary.AppendUvarint(b, s.uleb())
		}
		if flags&1 == 0 { // active: an offset
			b = s.shiftConstExpr(b, shift)
		}
		if flags&3 != 0 { // element kind or reference type
			b = append(b, s.byte())
		}
		k := s.count()
		b = binary.AppendUvarint(b, k)
		for ; k > 0 && s.err == nil; k-- {
			if flags&4 == 0 {
				b = binary.AppendUvarint(b, shift(s.uleb()))
			} else {
				b = s.shiftConstExpr(b, shift)
			}
		}
	}
	if s.err != nil {
		return nil, fmt.Errorf("element section: %w", s.err)
	}
	return b, nil
}

// shiftConstExpr appends the constant expression at r, up to and including
// its end, to b with its ref.func renumbered.
func (r *reader) shiftConstExpr(b []byte, shift func(uint64) uint64) []byte {
	for r.err == nil {
		op := r.byte()
		b = append(b, op)
		switch op {
		case 0x0b: // end
			return b
		case 0x41, 0x42: // i32.const, i64.const
			start := r.b
			r.sleb()
			b = append(b, start[:len(start)-len(r.b)]...)
		case 0x43: // f32.const
			b = append(b, r.bytes(4)...)
		case 0x44: // f64.const
			b = append(b, r.bytes(8)...)
		case 0x23: // global.get
			b = binary.AppendUvarint(b, r.uleb())
		case 0xd2: // ref.func
			b = binary.AppendUvarint(b, shift(r.uleb()))
		case 0xd0: // ref.null
			b = append(b, r.byte())
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constant arithmetic
		case 0xfd: // v128.const
			if r.uleb() != 12 {
				r.fail(errors.New("unsupported constant expression"))
			}
			b = append(append(b, 12), r.bytes(16)...)
		default:
			r.fail(fmt.Errorf("unsupported constant expression opcode 0x%02x", op))
		}
	}
	return b
}

// shiftNames renumbers the functions of a "name" custom section (function,
// local and label names); other custom sections come back unchanged. It
// reports false for a malformed name section, which wazero would ignore:
// it is dropped.
func shiftNames(body []byte, shift func(uint64) uint64) ([]byte, bool) {
	s := &reader{b: body}
	if s.name() != "name" || s.err != nil {
		return body, true
	}
	b := append([]byte(nil), body[:len(body)-len(s.b)]...)
	for len(s.b) > 0 && s.err == nil {
		id := s.byte()
		sub := &reader{b: s.bytes(s.uleb())}
		var nb []byte
		switch id {
		case 1: // function names: a name map
			n := sub.count()
			nb = binary.AppendUvarint(nb, n)
			for ; n > 0 && sub.err == nil; n-- {
				nb = binary.AppendUvarint(nb, shift(sub.uleb()))
				nb = appendName(nb, sub.name())
			}
		case 2, 3: // local and label names: function index, name map
			n := sub.count()
			nb = binary.AppendUvarint(nb, n)
			for ; n > 0 && sub.err == nil; n-- {
				nb = binary.AppendUvarint(nb, shift(sub.uleb()))
				start := sub.b
				for k := sub.count(); k > 0 && sub.err == nil; k-- {
					sub.uleb()
					sub.name()
				}
				nb = append(nb, start[:len(start)-len(sub.b)]...)
			}
		default:
			nb = sub.b
			sub.b = nil
		}
		if sub.err != nil || len(sub.b) != 0 {
			return nil, false
		}
		b = append(b, id)
		b = binary.AppendUvarint(b, uint64(len(nb)))
		b = append(b, nb...)
	}
	return b, s.err == nil
}

// appendSLEB appends v as a signed LEB128 number (binary.AppendVarint
// zig-zag encodes, which WebAssembly does not).
func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// codeInstrumenter instruments the functions of a code section.
type codeInstrumenter struct {
	types     []FuncType
	funcTypes []uint32 // every function's type index (with the added import)
	defined   int      // index of the first defined function
	shift     func(uint64) uint64
	budget    uint32
	typeIndex func(FuncType) uint32 // finds or adds a type

	countdown, stack, deep, yield uint32 // globals and sched_yield

	loops, calls  int
	mutatesTables bool

	edits []edit // of the current body
	ctl   []ctlFrame
}

// DeepExport names the instrumented module's deep flag, a global set to 1
// once its stack count passes budget/deepFraction. wazero keeps the stack
// each exported function grew for as long as the instance lives, so the
// runtime discards an instance whose flag is set after its request: a kept
// instance holds at most about 2 × budget/deepFraction of stack a method.
const (
	DeepExport   = "wasmroute.deep"
	deepFraction = 8
)

// Bounds on a function body's structure, which wazero's compiler spends
// time and memory on: a br_table's targets (the JS API's implementation
// limit) and the nesting of blocks, loops and ifs, whose compile time
// grows with the square of the depth (measured: 10,000 nested loops
// 21 s, ifs 1.7 s, blocks 0.4 s; 2,000 blocks 23 ms, 100 loops a few ms).
// A Go guest nests ~550 blocks deep (one per resume point of its largest
// function) inside a single loop; compilers nest loops as the source does.
const (
	maxBrTable     = 65_520
	maxNesting     = 2_000
	maxLoopNesting = 100
)

// edit is a change to a function body, at pos.
type edit struct {
	pos, end int32 // end: after a function index to replace
	kind     uint8
}

const (
	editLoop     = iota // the countdown after a loop's block type
	editExit            // take the frame off the stack count, before return or a tail call
	editRenumber        // code[pos:end] is a function index to renumber
)

// ctlFrame is an open block, loop or if, for the operand-stack height.
type ctlFrame struct {
	base, params, results int
	loop                  bool
}

func (ci *codeInstrumenter) section(section []byte) ([]byte, error) {
	s := &reader{b: section}
	n := s.count()
	if uint64(ci.defined)+n != uint64(len(ci.funcTypes)) {
		return nil, fmt.Errorf("code section: %d bodies for %d functions", n, len(ci.funcTypes)-ci.defined)
	}
	out := binary.AppendUvarint(make([]byte, 0, len(section)+len(section)/4), n)
	var body []byte
	for i := uint64(0); i < n && s.err == nil; i++ {
		code := s.bytes(s.uleb())
		var err error
		if body, err = ci.body(body[:0], code, ci.types[ci.funcTypes[ci.defined+int(i)]]); err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, err)
		}
		out = binary.AppendUvarint(out, uint64(len(body)))
		out = append(out, body...)
	}
	if s.err != nil {
		return nil, fmt.Errorf("code section: %w", s.err)
	}
	return out, nil
}

// body appends code, the body of a function of type ft, instrumented to
// out. It runs once per compile over every instruction of a module (a Go
// guest has ~2 MB of code), hence the index arithmetic rather than a
// reader: a first pass finds the loops, calls, exits and the operand
// stack's greatest height, a second copies the code with the checks.
func (ci *codeInstrumenter) body(out, code []byte, ft FuncType) ([]byte, error) {
	fail := func(format string, args ...any) ([]byte, error) {
		return nil, noInstrument(format, args...)
	}
	n, i := uleb(code, 0)
	var locals uint64 // in units of localBytes
	for _, t := range ft.Params {
		locals += 1 + b2u(t == 0x7b)
	}
	for ; n > 0 && i >= 0; n-- { // locals: a count and a type
		var k uint64
		if k, i = uleb(code, i); i < 0 || i >= len(code) || !isValueType(code[i]) {
			return fail("a local of a type it does not know")
		}
		locals += min(k, 1<<32) * (1 + b2u(code[i] == 0x7b))
		i++
	}
	if i < 0 {
		return nil, errors.New("malformed function body")
	}
	bodyStart := i
	ci.edits, ci.ctl = ci.edits[:0], ci.ctl[:0]
	hasCalls := false
	h, maxH := 0, 0
	base := 0  // the current block's base height
	loops := 0 // loops open
	pop := func(k int) {
		if h -= k; h < base {
			h = base // unreachable code: unknown pops count as 0
		}
	}
	push := func(k int) {
		if h += k; h > maxH {
			maxH = h
		}
	}
	for i >= 0 && i < len(code) {
		at := i
		op := code[i]
		i++
		if e := &effects[op]; e.pop|e.push != 0 {
			pop(int(e.pop))
			push(int(e.push))
		}
		switch immediates[op] {
		case immNone:
			switch op {
			case 0x0f: // return
				ci.edits = append(ci.edits, edit{pos: int32(at), kind: editExit})
			case 0x05: // else
				if len(ci.ctl) > 0 {
					f := ci.ctl[len(ci.ctl)-1]
					h = f.base + f.params
				}
			case 0x0b: // end
				if len(ci.ctl) > 0 {
					f := ci.ctl[len(ci.ctl)-1]
					ci.ctl = ci.ctl[:len(ci.ctl)-1]
					if f.loop {
						loops--
					}
					base = 0
					if len(ci.ctl) > 0 {
						base = ci.ctl[len(ci.ctl)-1].base
					}
					h = f.base
					push(f.results)
				}
			}
		case immLEB:
			switch op {
			case 0x10, 0x12, 0xd2: // call, return_call, ref.func
				var f uint64
				start := i
				if f, i = uleb(code, i); i < 0 {
					break
				}
				if op == 0xd2 {
					ci.editRenumber(start, i, f)
					break
				}
				hasCalls = true
				// f counts the functions before the added import, if any.
				t, ok := ci.callType(f)
				if !ok {
					return fail("call of function %d, which does not exist", f)
				}
				pop(len(t.Params))
				push(len(t.Results))
				if op == 0x12 { // (edits in order: the exit comes first)
					ci.edits = append(ci.edits, edit{pos: int32(at), kind: editExit})
				}
				ci.editRenumber(start, i, f)
			case 0x26: // table.set
				i = skipLEB(code, i)
				ci.mutatesTables = true
			default:
				i = skipLEB(code, i)
			}
		case immLEB2:
			// call_indirect, return_call_indirect: a type, a table.
			var t uint64
			t, i = uleb(code, i)
			i = skipLEB(code, i)
			if t >= uint64(len(ci.types)) {
				return fail("call_indirect of type %d, which does not exist", t)
			}
			hasCalls = true
			pop(1 + len(ci.types[t].Params))
			push(len(ci.types[t].Results))
			if op == 0x13 {
				ci.edits = append(ci.edits, edit{pos: int32(at), kind: editExit})
			}
		case immMemarg:
			i = skipMemarg(code, i)
		case immBlock:
			var params, results int
			if i, params, results = ci.blockType(code, i); i < 0 {
				return fail("a block type it does not know")
			}
			if op == 0x04 { // if: its condition
				pop(1)
			}
			if len(ci.ctl) >= maxNesting {
				return nil, fmt.Errorf("blocks nested more than %d deep", maxNesting)
			}
			if op == 0x03 {
				if loops++; loops > maxLoopNesting {
					return nil, fmt.Errorf("loops nested more than %d deep", maxLoopNesting)
				}
			}
			f := ctlFrame{base: max(h-params, base), params: params, results: results, loop: op == 0x03}
			ci.ctl = append(ci.ctl, f)
			base = f.base
			if op == 0x03 { // loop
				ci.edits = append(ci.edits, edit{pos: int32(i), kind: editLoop})
			}
		case imm4:
			i += 4
		case imm8:
			i += 8
		case immBrTable:
			var k uint64
			if k, i = uleb(code, i); k > maxBrTable {
				return nil, fmt.Errorf("a br_table of %d targets, more than %d", k, maxBrTable)
			}
			for ; k > 0 && i >= 0; k-- {
				i = skipLEB(code, i)
			}
			i = skipLEB(code, i)
		case immSelect:
			var k uint64
			for k, i = uleb(code, i); k > 0 && i >= 0 && i < len(code); k-- {
				if !isValueType(code[i]) {
					return fail("select of a type it does not know")
				}
				i++
			}
		case immRefType:
			if i < len(code) && code[i] != 0x70 && code[i] != 0x6f {
				return fail("ref.null of a type it does not know")
			}
			i++
		case immFC:
			var sub uint64
			sub, i = uleb(code, i)
			switch {
			case sub <= 7: // trunc_sat
				pop(1)
				push(1)
			case sub == 9 || sub == 13: // data.drop, elem.drop
				i = skipLEB(code, i)
				ci.mutatesTables = true
			case sub == 11: // memory.fill
				i = skipLEB(code, i)
				pop(3)
			case sub == 15: // table.grow
				i = skipLEB(code, i)
				pop(2)
				push(1)
				ci.mutatesTables = true
			case sub == 16: // table.size
				i = skipLEB(code, i)
				push(1)
			case sub == 17: // table.fill
				i = skipLEB(code, i)
				pop(3)
				ci.mutatesTables = true
			case sub == 8 || sub == 10: // memory.init, memory.copy
				i = skipLEB(code, skipLEB(code, i))
				pop(3)
			case sub == 12 || sub == 14: // table.init, table.copy
				i = skipLEB(code, skipLEB(code, i))
				pop(3)
				ci.mutatesTables = true
			default:
				return fail("opcode 0xfc %d", sub)
			}
		case immSIMD:
			var sub uint64
			sub, i = uleb(code, i)
			switch {
			case sub <= 10 || sub == 92 || sub == 93: // loads
				i = skipMemarg(code, i)
				pop(1)
				push(1)
			case sub == 11: // v128.store
				i = skipMemarg(code, i)
				pop(2)
			case sub == 12: // v128.const
				i += 16
				push(1)
			case sub == 13: // i8x16.shuffle
				i += 16
				pop(2)
				push(1)
			case sub >= 21 && sub <= 34: // extract_lane, replace_lane
				i++
				pop(1)
				push(1)
			case sub >= 84 && sub <= 91: // load_lane, store_lane
				if i = skipMemarg(code, i); i >= 0 {
					i++
				}
				pop(2)
				push(1)
			case sub <= 0x113:
				// Every other SIMD instruction pops at least one value and
				// pushes one.
				pop(1)
				push(1)
			default:
				return fail("opcode 0xfd %d", sub)
			}
		case immAtomic:
			var sub uint64
			sub, i = uleb(code, i)
			switch {
			case sub == 3: // atomic.fence
				i++
			case sub <= 0x4e:
				// Each pops at least one value and pushes at most one.
				i = skipMemarg(code, i)
				pop(1)
				push(1)
			default:
				return fail("opcode 0xfe %d", sub)
			}
		default:
			return fail("opcode 0x%02x", op)
		}
	}
	if i != len(code) || len(code) == 0 || code[len(code)-1] != 0x0b || bodyStart >= len(code) {
		return nil, errors.New("malformed function body")
	}

	// The second pass.
	var cost uint32
	if hasCalls {
		ci.calls++
		c := locals*localBytes + uint64(maxH)*valueBytes + frameOverhead
		cost = uint32(min(c, uint64(ci.budget)+1))
	}
	last := 0
	if hasCalls {
		out = append(out, code[:bodyStart]...)
		last = bodyStart
		out = ci.appendCountdown(out)
		// stack += cost
		// if stack > budget/8 { if stack > budget { unreachable }; deep = 1 }
		// (the fast path compares once, as a check against the budget would)
		out = ci.appendStack(out, cost, 0x6a)
		out = binary.AppendUvarint(append(out, 0x23), uint64(ci.stack))
		out = appendSLEB(append(out, 0x41), int64(ci.budget/deepFraction))
		out = append(out, 0x4b, 0x04, 0x40) // i32.gt_u if
		out = binary.AppendUvarint(append(out, 0x23), uint64(ci.stack))
		out = appendSLEB(append(out, 0x41), int64(ci.budget))
		out = append(out, 0x4b, 0x04, 0x40, 0x00, 0x0b) // i32.gt_u if unreachable end
		out = binary.AppendUvarint(append(out, 0x41, 0x01, 0x24), uint64(ci.deep))
		out = append(out, 0x0b)
		out = append(out, 0x02)
		out = ci.appendBlockType(out, ft.Results)
	}
	for _, e := range ci.edits {
		switch e.kind {
		case editLoop:
			out = append(out, code[last:e.pos]...)
			last = int(e.pos)
			out = ci.appendCountdown(out)
			ci.loops++
		case editExit:
			if hasCalls {
				out = append(out, code[last:e.pos]...)
				last = int(e.pos)
				out = ci.appendStack(out, cost, 0x6b)
			}
		case editRenumber:
			if f, _ := uleb(code, int(e.pos)); ci.shift(f) != f {
				out = append(out, code[last:e.pos]...)
				out = binary.AppendUvarint(out, ci.shift(f))
				last = int(e.end)
			}
		}
	}
	if hasCalls {
		out = append(out, code[last:len(code)-1]...)
		out = append(out, 0x0b) // the block around the body
		out = ci.appendStack(out, cost, 0x6b)
		last = len(code) - 1
	}
	return append(out, code[last:]...), nil
}

func (ci *codeInstrumenter) editRenumber(start, end int, f uint64) {
	if ci.shift(f) != f {
		ci.edits = append(ci.edits, edit{pos: int32(start), end: int32(end), kind: editRenumber})
	}
}

// callType returns the type of function f, numbered as in the module
// before instrumentation.
func (ci *codeInstrumenter) callType(f uint64) (FuncType, bool) {
	g := ci.shift(f)
	if g >= uint64(len(ci.funcTypes)) {
		return FuncType{}, false
	}
	return ci.types[ci.funcTypes[g]], true
}

// blockType reads a block type at code[i:] and returns the index after it
// and the block's parameter and result counts; -1 for a reference type it
// does not know or a type that does not exist.
func (ci *codeInstrumenter) blockType(code []byte, i int) (int, int, int) {
	switch {
	case i < 0 || i >= len(code):
		return -1, 0, 0
	case code[i] == 0x40:
		return i + 1, 0, 0
	case isValueType(code[i]):
		return i + 1, 0, 1
	case code[i] == 0x63 || code[i] == 0x64:
		return -1, 0, 0
	}
	t, j := uleb(code, i) // a type index, as a signed 33-bit number
	if j < 0 || t >= uint64(len(ci.types)) {
		return -1, 0, 0
	}
	return j, len(ci.types[t].Params), len(ci.types[t].Results)
}

// appendBlockType appends the type of a block without parameters and with
// the given results.
func (ci *codeInstrumenter) appendBlockType(out, results []byte) []byte {
	switch len(results) {
	case 0:
		return append(out, 0x40)
	case 1:
		return append(out, results[0])
	}
	return appendSLEB(out, int64(ci.typeIndex(FuncType{nil, results})))
}

// appendCountdown appends the countdown:
//
//	global.get $countdown  i32.eqz
//	if  call $sched_yield  drop  i32.const yieldEvery  global.set $countdown  end
//	global.get $countdown  i32.const 1  i32.sub  global.set $countdown
func (ci *codeInstrumenter) appendCountdown(out []byte) []byte {
	out = binary.AppendUvarint(append(out, 0x23), uint64(ci.countdown))
	out = append(out, 0x45, 0x04, 0x40, 0x10)
	out = binary.AppendUvarint(out, uint64(ci.yield))
	out = appendSLEB(append(out, 0x1a, 0x41), yieldEvery)
	out = binary.AppendUvarint(append(out, 0x24), uint64(ci.countdown))
	out = append(out, 0x0b)
	out = binary.AppendUvarint(append(out, 0x23), uint64(ci.countdown))
	out = append(out, 0x41, 0x01, 0x6b)
	return binary.AppendUvarint(append(out, 0x24), uint64(ci.countdown))
}

// appendStack appends global.get $stack  i32.const cost  op  global.set
// $stack, op being i32.add or i32.sub.
func (ci *codeInstrumenter) appendStack(out []byte, cost uint32, op byte) []byte {
	out = binary.AppendUvarint(append(out, 0x23), uint64(ci.stack))
	out = appendSLEB(append(out, 0x41), int64(cost))
	out = append(out, op, 0x24)
	return binary.AppendUvarint(out, uint64(ci.stack))
}

// effects is what each one-byte opcode pops and pushes on the operand
// stack, where it does not depend on immediates (calls and blocks are
// counted apart). It serves an upper bound of the stack's height: exact
// where known, and a push never undercounted.
var effects = func() (t [256]struct{ pop, push int8 }) {
	set := func(pop, push int8, ops ...int) {
		for _, op := range ops {
			t[op] = struct{ pop, push int8 }{pop, push}
		}
	}
	span := func(from, to int) (ops []int) {
		for op := from; op <= to; op++ {
			ops = append(ops, op)
		}
		return ops
	}
	set(1, 0, 0x0d, 0x0e, 0x1a, 0x21, 0x24) // br_if, br_table, drop, local.set, global.set
	set(3, 1, 0x1b, 0x1c)                   // select
	set(0, 1, 0x20, 0x23, 0x3f, 0x41, 0x42, 0x43, 0x44, 0xd0, 0xd2)
	set(1, 1, 0x22, 0x25, 0x40, 0xd1) // local.tee, table.get, memory.grow, ref.is_null
	set(2, 0, 0x26)                   // table.set
	set(1, 1, span(0x28, 0x35)...)    // loads
	set(2, 0, span(0x36, 0x3e)...)    // stores
	set(1, 1, 0x45, 0x50)             // eqz
	set(2, 1, span(0x46, 0x4f)...)
	set(2, 1, span(0x51, 0x66)...)
	set(1, 1, span(0x67, 0x69)...)
	set(2, 1, span(0x6a, 0x78)...)
	set(1, 1, span(0x79, 0x7b)...)
	set(2, 1, span(0x7c, 0x8a)...)
	set(1, 1, span(0x8b, 0x91)...)
	set(2, 1, span(0x92, 0x98)...)
	set(1, 1, span(0x99, 0x9f)...)
	set(2, 1, span(0xa0, 0xa6)...)
	set(1, 1, span(0xa7, 0xc4)...) // conversions, sign extensions
	return t
}()

// The immediates that follow an opcode, by opcode.
const (
	immUnknown = iota
	immNone
	immLEB    // one LEB128 number
	immLEB2   // two
	immMemarg // alignment (and memory index when its bit 6 is set), offset
	immBlock  // a block type
	imm4      // 4 bytes
	imm8      // 8 bytes
	immBrTable
	immSelect  // a vector of value types
	immRefType // a reference type
	immFC      // 0xFC: saturating truncation, bulk memory, tables
	immSIMD    // 0xFD
	immAtomic  // 0xFE
)

var immediates = func() (t [256]uint8) {
	set := func(kind uint8, ops ...byte) {
		for _, op := range ops {
			t[op] = kind
		}
	}
	set(immNone, 0x00, 0x01, 0x05, 0x0b, 0x0f, 0x1a, 0x1b, 0xd1)
	for op := 0x45; op <= 0xc4; op++ {
		t[op] = immNone
	}
	set(immBlock, 0x02, 0x03, 0x04)
	set(immLEB, 0x0c, 0x0d, 0x10, 0x12, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x3f, 0x40, 0x41, 0x42, 0xd2)
	set(immLEB2, 0x11, 0x13)
	for op := 0x28; op <= 0x3e; op++ {
		t[op] = immMemarg
	}
	set(imm4, 0x43)
	set(imm8, 0x44)
	set(immBrTable, 0x0e)
	set(immSelect, 0x1c)
	set(immRefType, 0xd0)
	set(immFC, 0xfc)
	set(immSIMD, 0xfd)
	set(immAtomic, 0xfe)
	return t
}()

// skipLEB returns the index after the LEB128 number at b[i:], or -1.
func skipLEB(b []byte, i int) int {
	for end := min(len(b), i+10); i >= 0 && i < end; i++ {
		if b[i]&0x80 == 0 {
			return i + 1
		}
	}
	return -1
}

// uleb reads the unsigned LEB128 number at b[i:] and returns it with the
// index after it, or -1.
func uleb(b []byte, i int) (uint64, int) {
	var v uint64
	for shift := 0; i >= 0 && i < len(b) && shift < 64; shift += 7 {
		c := b[i]
		i++
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, i
		}
	}
	return 0, -1
}

func skipMemarg(b []byte, i int) int {
	align, i := uleb(b, i)
	if align&0x40 != 0 {
		i = skipLEB(b, i)
	}
	return skipLEB(b, i)
}

func isValueType(t byte) bool {
	switch t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		return true
	}
	return false
}
