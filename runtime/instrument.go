package runtime

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// A guest that never returns must still be stoppable at its deadline, and
// preemptible by the Go scheduler while it runs (compiled WebAssembly has no
// Go safe points). wazero's WithCloseOnContextDone does both by calling into
// Go at every loop back-edge, ~26 ns each, plus a watcher goroutine per call:
// a tight loop runs ~28× slower, a Go guest's request ~3× (BENCHMARKS.md).
//
// instrument gets the same guarantees for ~1 ns a back-edge. It inserts, at
// the head of every loop, a countdown in a new global; every yieldEvery
// iterations it calls the module's own WASI sched_yield import, whose host
// side (package host) ends the call of a stopped request and, being Go code,
// is where the Go scheduler preempts a long-running guest. The countdown
// starts over after each call, so a loop reaches Go every ~10 µs at most.
//
// Only modules that import wasi_snapshot_preview1.sched_yield — every Go
// guest does — can be instrumented without renumbering their functions;
// the others, and any module using an instruction instrument does not know,
// run with wazero's checks instead.

// yieldEvery is how many loop iterations run between two calls of
// sched_yield: ~10 µs of a tight loop, against ~0.1 µs a call.
const yieldEvery = 10_000

// errNoInstrument wraps why a module cannot be instrumented.
var errNoInstrument = errors.New("cannot instrument")

func noInstrument(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errNoInstrument, fmt.Sprintf(format, args...))
}

// sectionOrder is the position of each known section id in a module.
var sectionOrder = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

// instrument returns bin with its loops instrumented, and how many loops it
// instrumented.
func instrument(bin []byte) ([]byte, int, error) {
	sections, err := splitSections(bin)
	if err != nil {
		return nil, 0, err
	}
	var (
		types   []funcType
		yield   = -1 // function index of sched_yield
		funcs   int  // imported functions
		globals uint64
	)
	for _, sec := range sections {
		id := sec.id
		s := &reader{b: sec.body}
		switch id {
		case 1: // type
			for n := s.count(); n > 0 && s.err == nil; n-- {
				if s.byte() != 0x60 {
					return nil, 0, noInstrument("a type is not a function type")
				}
				types = append(types, funcType{s.valueTypes(), s.valueTypes()})
			}
		case 2: // import
			for n := s.count(); n > 0 && s.err == nil; n-- {
				module, name, kind := s.name(), s.name(), s.byte()
				switch t := s.importDesc(kind); kind {
				case externFunc:
					if module == wasiModule && name == "sched_yield" && yield < 0 && t < uint64(len(types)) &&
						len(types[t].params) == 0 && bytes.Equal(types[t].results, []byte{0x7f}) {
						yield = funcs
					}
					funcs++
				case externGlobal:
					globals++
				}
			}
		case 6: // global
			globals += s.count()
		}
		if s.err != nil {
			return nil, 0, fmt.Errorf("section %d: %w", id, s.err)
		}
	}
	if yield < 0 {
		return nil, 0, noInstrument("it does not import %s.sched_yield", wasiModule)
	}

	// The check, inserted after each loop's block type:
	//
	//	global.get $countdown  i32.eqz
	//	if  call $sched_yield  drop  i32.const yieldEvery  global.set $countdown  end
	//	global.get $countdown  i32.const 1  i32.sub  global.set $countdown
	var check []byte
	getCountdown := binary.AppendUvarint([]byte{0x23}, globals)
	setCountdown := binary.AppendUvarint([]byte{0x24}, globals)
	check = append(check, getCountdown...)
	check = append(check, 0x45, 0x04, 0x40, 0x10)
	check = binary.AppendUvarint(check, uint64(yield))
	check = append(check, 0x1a, 0x41)
	check = binary.AppendVarint(check, yieldEvery)
	check = append(check, setCountdown...)
	check = append(check, 0x0b)
	check = append(check, getCountdown...)
	check = append(check, 0x41, 0x01, 0x6b)
	check = append(check, setCountdown...)

	// The countdown global: mutable i32, starting at yieldEvery.
	countdown := []byte{0x7f, 0x01, 0x41}
	countdown = binary.AppendVarint(countdown, yieldEvery)
	countdown = append(countdown, 0x0b)

	out := bytes.NewBuffer(make([]byte, 0, len(bin)+len(bin)/16))
	out.Write(bin[:8])
	loops := 0
	addedGlobal := false
	writeGlobals := func(body []byte) {
		var n uint64
		var rest []byte
		if body != nil {
			s := &reader{b: body}
			n = s.uleb()
			rest = s.b
		}
		b := binary.AppendUvarint(nil, n+1)
		b = append(b, rest...)
		b = append(b, countdown...)
		writeSection(out, 6, b)
		addedGlobal = true
	}
	for _, sec := range sections {
		if !addedGlobal && sec.id != 0 && sectionOrder[sec.id] > sectionOrder[6] {
			writeGlobals(nil)
		}
		switch sec.id {
		case 6:
			writeGlobals(sec.body)
		case 10:
			body, n, err := instrumentCode(sec.body, check)
			if err != nil {
				return nil, 0, err
			}
			loops += n
			writeSection(out, 10, body)
		default:
			writeSection(out, sec.id, sec.body)
		}
	}
	if !addedGlobal {
		writeGlobals(nil)
	}
	return out.Bytes(), loops, nil
}

// instrumentCode inserts check after the block type of every loop of a code
// section.
func instrumentCode(section, check []byte) ([]byte, int, error) {
	s := &reader{b: section}
	n := s.count()
	out := binary.AppendUvarint(make([]byte, 0, len(section)+len(section)/16), n)
	loops := 0
	var body []byte
	for i := uint64(0); i < n && s.err == nil; i++ {
		code := s.bytes(s.uleb())
		var err error
		var k int
		if body, k, err = instrumentBody(body[:0], code, check); err != nil {
			return nil, 0, fmt.Errorf("function body %d: %w", i, err)
		}
		loops += k
		out = binary.AppendUvarint(out, uint64(len(body)))
		out = append(out, body...)
	}
	if s.err != nil {
		return nil, 0, fmt.Errorf("code section: %w", s.err)
	}
	return out, loops, nil
}

// instrumentBody appends code, a function body, to out with check after
// every loop's block type. It runs once per compile over every instruction
// of a module (a Go guest has ~2 MB of code), hence the index arithmetic
// rather than a reader.
func instrumentBody(out, code, check []byte) ([]byte, int, error) {
	fail := func(format string, args ...any) ([]byte, int, error) {
		return nil, 0, noInstrument(format, args...)
	}
	n, i := uleb(code, 0)
	for ; n > 0 && i >= 0; n-- { // locals: a count and a type
		if i = skipLEB(code, i); i < 0 || i >= len(code) || !isValueType(code[i]) {
			return fail("a local of a type it does not know")
		}
		i++
	}
	loops, last := 0, 0
	for i >= 0 && i < len(code) {
		op := code[i]
		i++
		switch immediates[op] {
		case immNone:
		case immLEB:
			i = skipLEB(code, i)
		case immLEB2:
			i = skipLEB(code, skipLEB(code, i))
		case immMemarg:
			i = skipMemarg(code, i)
		case immBlock:
			if i = skipBlockType(code, i); op == 0x03 && i > 0 { // loop
				out = append(out, code[last:i]...)
				out = append(out, check...)
				last = i
				loops++
			}
		case imm4:
			i += 4
		case imm8:
			i += 8
		case immBrTable:
			var k uint64
			for k, i = uleb(code, i); k > 0 && i >= 0; k-- {
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
			case sub == 9 || sub == 11 || sub == 13 || sub >= 15 && sub <= 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
				i = skipLEB(code, i)
			case sub == 8 || sub == 10 || sub == 12 || sub == 14: // memory.init, memory.copy, table.init, table.copy
				i = skipLEB(code, skipLEB(code, i))
			default:
				return fail("opcode 0xfc %d", sub)
			}
		case immSIMD:
			var sub uint64
			sub, i = uleb(code, i)
			switch {
			case sub <= 11 || sub == 92 || sub == 93: // loads and stores
				i = skipMemarg(code, i)
			case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
				i += 16
			case sub >= 21 && sub <= 34: // extract_lane, replace_lane
				i++
			case sub >= 84 && sub <= 91: // load_lane, store_lane
				if i = skipMemarg(code, i); i >= 0 {
					i++
				}
			case sub <= 0x113:
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
				i = skipMemarg(code, i)
			default:
				return fail("opcode 0xfe %d", sub)
			}
		default:
			return fail("opcode 0x%02x", op)
		}
	}
	if i != len(code) || len(code) == 0 || code[len(code)-1] != 0x0b {
		return nil, 0, errors.New("malformed function body")
	}
	return append(out, code[last:]...), loops, nil
}

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

// skipBlockType skips a block type: empty, a value type or a type index;
// -1 for a reference type it does not know.
func skipBlockType(b []byte, i int) int {
	switch {
	case i < 0 || i >= len(b):
		return -1
	case b[i] == 0x40 || isValueType(b[i]):
		return i + 1
	case b[i] == 0x63 || b[i] == 0x64:
		return -1
	}
	return skipLEB(b, i) // a type index, as a signed 33-bit number
}

func isValueType(t byte) bool {
	switch t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		return true
	}
	return false
}
