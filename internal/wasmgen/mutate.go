package wasmgen

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
)

// Section is one section of a binary module.
type Section struct {
	ID   byte
	Body []byte
}

// Sections splits a binary into its sections, after the 8-byte header. It
// stops at the first section it cannot read and reports ok false then.
func Sections(bin []byte) (secs []Section, ok bool) {
	if len(bin) < 8 {
		return nil, false
	}
	for i := 8; i < len(bin); {
		id := bin[i]
		size, n := binary.Uvarint(bin[i+1:])
		if n <= 0 || size > uint64(len(bin)-i-1-n) {
			return secs, false
		}
		start := i + 1 + n
		secs = append(secs, Section{id, bin[start : start+int(size)]})
		i = start + int(size)
	}
	return secs, true
}

// Join writes sections back into a module binary.
func Join(secs []Section) []byte {
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	for _, s := range secs {
		out = AppendSection(out, s.ID, s.Body)
	}
	return out
}

// A Mutator damages a module binary in one way, drawing its choices from
// rng, and describes what it did.
type Mutator func(rng *rand.Rand, bin []byte) (out []byte, what string)

// Mutators are the mutations of real modules, by name.
var Mutators = map[string]Mutator{
	"flip":      FlipBytes,
	"inflate":   InflateCount,
	"duplicate": DuplicateSection,
	"truncate":  Truncate,
	"drop":      DropSection,
	"swap":      SwapSections,
}

// MutatorNames are the keys of Mutators, in a fixed order.
var MutatorNames = []string{"flip", "inflate", "duplicate", "truncate", "drop", "swap"}

// FlipBytes changes 1 to 8 random bytes, mostly after the header.
func FlipBytes(rng *rand.Rand, bin []byte) ([]byte, string) {
	out := clone(bin)
	k := 1 + rng.IntN(8)
	what := "flip"
	for range k {
		lo := 8
		if rng.IntN(20) == 0 || len(out) <= 8 {
			lo = 0
		}
		i := lo + rng.IntN(len(out)-lo)
		var v byte
		switch rng.IntN(4) {
		case 0:
			v = 0xff
		case 1:
			v = 0x80 // turns a LEB's last byte into a continuation
		default:
			v = byte(rng.IntN(256))
		}
		out[i] = v
		what += " @" + itoa(i) + "=" + hex(v)
	}
	return out, what
}

// InflateCount replaces the first LEB of a section (a vector's count for
// every non-custom section but start) with a larger count: 2³²−1, or the
// count shifted left, or plus a small number.
func InflateCount(rng *rand.Rand, bin []byte) ([]byte, string) {
	secs, _ := Sections(bin)
	idx := pick(rng, secs, func(s Section) bool { return s.ID != SecCustom && len(s.Body) > 0 })
	if idx < 0 {
		return FlipBytes(rng, bin)
	}
	s := &secs[idx]
	count, n := binary.Uvarint(s.Body)
	if n <= 0 {
		return FlipBytes(rng, bin)
	}
	var c uint64
	switch rng.IntN(3) {
	case 0:
		c = 0xffffffff
	case 1:
		c = min(count<<(1+rng.IntN(24)), 0xffffffff)
	default:
		c = min(count+1+uint64(rng.IntN(1000)), 0xffffffff)
	}
	s.Body = append(U32(uint32(c)), s.Body[n:]...)
	return Join(secs), "inflate section " + itoa(int(s.ID)) + " count " + itoa(int(count)) + "→" + itoa(int(c))
}

// DuplicateSection writes one section twice in a row.
func DuplicateSection(rng *rand.Rand, bin []byte) ([]byte, string) {
	secs, _ := Sections(bin)
	if len(secs) == 0 {
		return FlipBytes(rng, bin)
	}
	i := rng.IntN(len(secs))
	secs = append(secs[:i+1], append([]Section{secs[i]}, secs[i+1:]...)...)
	return Join(secs), "duplicate section " + itoa(int(secs[i].ID))
}

// Truncate cuts the module at a random offset, or cuts one section's body
// while its header keeps the old size.
func Truncate(rng *rand.Rand, bin []byte) ([]byte, string) {
	secs, _ := Sections(bin)
	secs = slices.DeleteFunc(secs, func(s Section) bool { return len(s.Body) == 0 })
	if len(secs) == 0 || rng.IntN(2) == 0 {
		n := 8 + rng.IntN(max(1, len(bin)-8))
		return clone(bin[:n]), "truncate at " + itoa(n)
	}
	i := rng.IntN(len(secs))
	var out []byte = []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	for j, s := range secs {
		if j == i {
			keep := rng.IntN(len(s.Body))
			out = append(append(append(out, s.ID), U32(uint32(len(s.Body)))...), s.Body[:keep]...)
			continue
		}
		out = AppendSection(out, s.ID, s.Body)
	}
	return out, "cut section " + itoa(int(secs[i].ID)) + " body"
}

// DropSection leaves one section out.
func DropSection(rng *rand.Rand, bin []byte) ([]byte, string) {
	secs, _ := Sections(bin)
	if len(secs) == 0 {
		return FlipBytes(rng, bin)
	}
	i := rng.IntN(len(secs))
	id := secs[i].ID
	return Join(append(secs[:i:i], secs[i+1:]...)), "drop section " + itoa(int(id))
}

// SwapSections exchanges two sections.
func SwapSections(rng *rand.Rand, bin []byte) ([]byte, string) {
	secs, _ := Sections(bin)
	if len(secs) < 2 {
		return FlipBytes(rng, bin)
	}
	i, j := rng.IntN(len(secs)), rng.IntN(len(secs))
	secs[i], secs[j] = secs[j], secs[i]
	return Join(secs), "swap sections " + itoa(int(secs[j].ID)) + " and " + itoa(int(secs[i].ID))
}

// ReplaceBody returns bin with the body of its first section id replaced.
func ReplaceBody(bin []byte, id byte, body []byte) ([]byte, bool) {
	secs, _ := Sections(bin)
	for i := range secs {
		if secs[i].ID == id {
			secs[i].Body = body
			return Join(secs), true
		}
	}
	return bin, false
}

func pick(rng *rand.Rand, secs []Section, ok func(Section) bool) int {
	var idx []int
	for i, s := range secs {
		if ok(s) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return -1
	}
	return idx[rng.IntN(len(idx))]
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func hex(v byte) string {
	const digits = "0123456789abcdef"
	return "0x" + string(digits[v>>4]) + string(digits[v&15])
}
