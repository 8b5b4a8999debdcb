package wasmbin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// A snapshottable module is rewritten so that an instance can be put in the
// state its initialization left, without running it again:
//
//   - its active data segments are taken out (the snapshot's memory image
//     replaces them; with a data count section they become empty passive
//     segments, keeping the indices memory.init uses);
//   - each mutable global is exported as "wasmroute.global.N", so that the
//     host can read it after initialization and set it back later (wazero
//     sets only exported globals);
//   - a start function is exported as "wasmroute.start" instead of running
//     at instantiation, so that only the snapshot's instance runs it.
//
// Code, tables and everything else are kept byte for byte.

// Rewritten is a module rewritten for snapshots.
type Rewritten struct {
	Bin      []byte        // the rewritten module
	Segments []DataSegment // the active data segments taken out
	Globals  []string      // the exports of the mutable globals, in order
	Start    bool          // the module had a start function, now exported as StartExport
	MinPages uint64        // the memory's initial size, in 64 KiB pages
}

// DataSegment is an active data segment: bytes that instantiation copies
// into memory at an offset.
type DataSegment struct {
	Offset uint32
	Data   []byte
}

const (
	// maxSnapshotGlobals bounds the mutable globals a snapshot restores:
	// each is an export of the rewritten module and a value every instance
	// keeps (a Go guest has 2). The module's own exports are checked
	// against maxExports before the rewrite; these must not bring it past.
	maxSnapshotGlobals = 1_000

	globalExportPrefix = "wasmroute.global."
)

// StartExport names the export of a rewritten module's start function
// (Rewritten.Start): the host calls it once, in the instance it snapshots.
const StartExport = "wasmroute.start"

// ErrNoSnapshot wraps why a module cannot be snapshotted; its instances are
// then made the ordinary way.
var ErrNoSnapshot = errors.New("cannot snapshot")

func noSnapshot(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNoSnapshot, fmt.Sprintf(format, args...))
}

// Rewrite rewrites bin, a module Parse accepted, for snapshots (see above).
// A valid module it cannot rewrite so gives an error wrapping
// ErrNoSnapshot; a malformed one, another error.
func Rewrite(bin []byte) (*Rewritten, error) {
	sections, err := splitSections(bin)
	if err != nil {
		return nil, err
	}
	var (
		importGlobals uint64
		memories      int
		rw            = &Rewritten{}
		hasDataCount  bool
		startFunc     uint64
	)
	for _, sec := range sections {
		id := sec.id
		s := &reader{b: sec.body}
		switch id {
		case 2: // import
			for n := s.count(); n > 0 && s.err == nil; n-- {
				s.name()
				s.name()
				switch kind := s.byte(); kind {
				case ExternMemory:
					return nil, noSnapshot("it imports its memory")
				case ExternGlobal:
					importGlobals++
					fallthrough
				default:
					s.importDesc(kind)
				}
			}
		case 5: // memory
			for n := s.count(); n > 0 && s.err == nil; n-- {
				if len(s.b) > 0 && s.b[0]&^1 != 0 {
					return nil, noSnapshot("its memory is shared or 64-bit")
				}
				rw.MinPages = s.limits()
				memories++
			}
		case 6: // global
			for i, n := uint64(0), s.count(); i < n && s.err == nil; i++ {
				t, mut := s.byte(), s.byte()
				s.constExpr()
				if mut == 0 {
					continue
				}
				switch t {
				case 0x7f, 0x7e, 0x7d, 0x7c: // i32, i64, f32, f64
				default:
					return nil, noSnapshot("mutable global %d has type 0x%02x; only numbers can be restored", importGlobals+i, t)
				}
				if len(rw.Globals) == maxSnapshotGlobals {
					return nil, noSnapshot("it has more than %d mutable globals", maxSnapshotGlobals)
				}
				rw.Globals = append(rw.Globals, globalExportPrefix+strconv.FormatUint(importGlobals+i, 10))
			}
		case 8: // start
			startFunc = s.uleb()
			rw.Start = true
		case 12: // data count
			hasDataCount = true
		}
		if s.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, s.err)
		}
	}
	if memories != 1 {
		return nil, noSnapshot("it defines %d memories", memories)
	}

	out := bytes.NewBuffer(make([]byte, 0, len(bin)))
	out.Write(bin[:8])
	exported := false
	writeExports := func(body []byte) error {
		var names map[string]bool
		var n uint64
		var rest []byte
		if body != nil {
			s := &reader{b: body}
			n = s.count()
			start := s.b
			names = make(map[string]bool, n)
			for i := uint64(0); i < n && s.err == nil; i++ {
				names[s.name()] = true
				s.byte()
				s.uleb()
			}
			if s.err != nil {
				return fmt.Errorf("export section: %w", s.err)
			}
			rest = start[:len(start)-len(s.b)]
		}
		var b []byte
		b = binary.AppendUvarint(b, n+uint64(len(rw.Globals))+b2u(rw.Start))
		b = append(b, rest...)
		for _, name := range rw.Globals {
			if names[name] {
				return noSnapshot("it already exports %q", name)
			}
			idx, _ := strconv.ParseUint(name[len(globalExportPrefix):], 10, 32)
			b = appendName(b, name)
			b = append(b, ExternGlobal)
			b = binary.AppendUvarint(b, idx)
		}
		if rw.Start {
			if names[StartExport] {
				return noSnapshot("it already exports %q", StartExport)
			}
			b = appendName(b, StartExport)
			b = append(b, ExternFunc)
			b = binary.AppendUvarint(b, startFunc)
		}
		writeSection(out, 7, b)
		exported = true
		return nil
	}
	for _, sec := range sections {
		// The export section comes after the global section and before the
		// start section; a module without one gets it there.
		if !exported && (sec.id == 8 || sec.id == 9 || sec.id == 12 || sec.id == 10 || sec.id == 11) {
			if err := writeExports(nil); err != nil {
				return nil, err
			}
		}
		switch sec.id {
		case 7:
			if err := writeExports(sec.body); err != nil {
				return nil, err
			}
		case 8: // run by the snapshot, through its export
		case 11:
			body, err := rw.takeData(sec.body, hasDataCount)
			if err != nil {
				return nil, err
			}
			writeSection(out, 11, body)
		default:
			writeSection(out, sec.id, sec.body)
		}
	}
	if !exported {
		if err := writeExports(nil); err != nil {
			return nil, err
		}
	}
	rw.Bin = out.Bytes()
	return rw, nil
}

// takeData records the active segments of a data section and returns the
// section without them.
func (rw *Rewritten) takeData(body []byte, hasDataCount bool) ([]byte, error) {
	s := &reader{b: body}
	n := s.count()
	var kept []byte
	var count uint64
	for i := uint64(0); i < n && s.err == nil; i++ {
		switch flags := s.uleb(); flags {
		case 1: // passive: kept
			data := s.bytes(s.uleb())
			kept = append(kept, 1)
			kept = binary.AppendUvarint(kept, uint64(len(data)))
			kept = append(kept, data...)
			count++
		case 0, 2: // active
			if flags == 2 && s.uleb() != 0 {
				return nil, fmt.Errorf("data segment %d: no memory 1", i)
			}
			if s.byte() != 0x41 { // i32.const
				return nil, noSnapshot("data segment %d's offset is not a constant", i)
			}
			off := s.sleb()
			if s.byte() != 0x0b {
				return nil, noSnapshot("data segment %d's offset is not a constant", i)
			}
			data := s.bytes(s.uleb())
			rw.Segments = append(rw.Segments, DataSegment{Offset: uint32(off), Data: data})
			if hasDataCount {
				kept = append(kept, 1, 0) // an empty passive segment in its place
				count++
			}
		default:
			return nil, fmt.Errorf("data segment %d: unknown kind %d", i, flags)
		}
	}
	if s.err != nil {
		return nil, fmt.Errorf("data section: %w", s.err)
	}
	return append(binary.AppendUvarint(nil, count), kept...), nil
}

// constExpr skips a constant expression, up to and including its end.
func (r *reader) constExpr() {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b: // end
			return
		case 0x41, 0x42: // i32.const, i64.const
			r.sleb()
		case 0x43: // f32.const
			r.bytes(4)
		case 0x44: // f64.const
			r.bytes(8)
		case 0x23, 0xd2: // global.get, ref.func
			r.uleb()
		case 0xd0: // ref.null
			r.byte()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constant arithmetic
		case 0xfd: // v128.const
			if r.uleb() != 12 {
				r.fail(errors.New("unsupported constant expression"))
			}
			r.bytes(16)
		default:
			r.fail(fmt.Errorf("unsupported constant expression opcode 0x%02x", op))
		}
	}
}

// sleb reads a signed LEB128 number of at most 64 bits.
func (r *reader) sleb() int64 {
	var v int64
	for shift := 0; shift < 64; shift += 7 {
		c := r.byte()
		v |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			if shift < 57 && c&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			return v
		}
	}
	r.fail(errors.New("number too long"))
	return 0
}

func writeSection(out *bytes.Buffer, id byte, body []byte) {
	out.WriteByte(id)
	out.Write(binary.AppendUvarint(nil, uint64(len(body))))
	out.Write(body)
}

func appendName(b []byte, name string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(name))), name...)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
