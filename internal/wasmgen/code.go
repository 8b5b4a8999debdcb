package wasmgen

// Opcodes used by the templates. See
// https://webassembly.github.io/spec/core/binary/instructions.html
const (
	OpUnreachable  byte = 0x00
	OpNop          byte = 0x01
	OpBlock        byte = 0x02
	OpLoop         byte = 0x03
	OpIf           byte = 0x04
	OpElse         byte = 0x05
	End            byte = 0x0b
	OpBr           byte = 0x0c
	OpBrIf         byte = 0x0d
	OpBrTable      byte = 0x0e
	OpReturn       byte = 0x0f
	OpCall         byte = 0x10
	OpCallIndirect byte = 0x11
	OpDrop         byte = 0x1a
	OpLocalGet     byte = 0x20
	OpLocalSet     byte = 0x21
	OpLocalTee     byte = 0x22
	OpGlobalGet    byte = 0x23
	OpGlobalSet    byte = 0x24
	OpI32Load      byte = 0x28
	OpI32Store     byte = 0x36
	OpMemorySize   byte = 0x3f
	OpMemoryGrow   byte = 0x40
	OpI32Const     byte = 0x41
	OpI64Const     byte = 0x42
	OpI32Eqz       byte = 0x45
	OpI32Ne        byte = 0x47
	OpI32Add       byte = 0x6a
	OpI32Sub       byte = 0x6b
	OpI64Add       byte = 0x7c
	OpRefNull      byte = 0xd0
	OpRefFunc      byte = 0xd2
	OpPrefixFC     byte = 0xfc
)

// Cat concatenates instruction sequences.
func Cat(parts ...[]byte) []byte {
	var n int
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Op is a sequence of immediate-free opcodes.
func Op(ops ...byte) []byte { return ops }

// I32Const pushes v.
func I32Const(v int32) []byte { return append([]byte{OpI32Const}, S32(v)...) }

// I64Const pushes v.
func I64Const(v int64) []byte { return append([]byte{OpI64Const}, S64(v)...) }

// LocalGet, LocalSet, LocalTee, GlobalGet and GlobalSet access variable i.
func LocalGet(i uint32) []byte  { return append([]byte{OpLocalGet}, U32(i)...) }
func LocalSet(i uint32) []byte  { return append([]byte{OpLocalSet}, U32(i)...) }
func LocalTee(i uint32) []byte  { return append([]byte{OpLocalTee}, U32(i)...) }
func GlobalGet(i uint32) []byte { return append([]byte{OpGlobalGet}, U32(i)...) }
func GlobalSet(i uint32) []byte { return append([]byte{OpGlobalSet}, U32(i)...) }

// Call calls function f.
func Call(f uint32) []byte { return append([]byte{OpCall}, U32(f)...) }

// CallIndirect calls through table 0 with signature typ.
func CallIndirect(typ uint32) []byte { return append(append([]byte{OpCallIndirect}, U32(typ)...), 0) }

// Block, Loop and If wrap body in a structured instruction with no result.
func Block(body ...[]byte) []byte { return wrap(OpBlock, body) }
func Loop(body ...[]byte) []byte  { return wrap(OpLoop, body) }
func If(body ...[]byte) []byte    { return wrap(OpIf, body) }

func wrap(op byte, body [][]byte) []byte {
	return append(append([]byte{op, 0x40}, Cat(body...)...), End)
}

// Br and BrIf branch to label l.
func Br(l uint32) []byte   { return append([]byte{OpBr}, U32(l)...) }
func BrIf(l uint32) []byte { return append([]byte{OpBrIf}, U32(l)...) }

// BrTable branches to targets[i], or def when i is out of range.
func BrTable(targets []uint32, def uint32) []byte {
	b := append([]byte{OpBrTable}, U32(uint32(len(targets)))...)
	for _, t := range targets {
		b = append(b, U32(t)...)
	}
	return append(b, U32(def)...)
}

// Load and Store access i32 memory at the address on the stack.
func Load() []byte  { return []byte{OpI32Load, 2, 0} }
func Store() []byte { return []byte{OpI32Store, 2, 0} }

// MemoryGrow grows memory 0 by the i32 on the stack and pushes the old size or -1.
func MemoryGrow() []byte { return []byte{OpMemoryGrow, 0} }

// RefNull pushes a null reference of type t.
func RefNull(t ValType) []byte { return []byte{OpRefNull, byte(t)} }

// TableGrow grows table 0 by n entries of init (ref, n on the stack) and
// pushes the old size or -1; TableSize pushes its size.
func TableGrow() []byte { return []byte{OpPrefixFC, 15, 0} }
func TableSize() []byte { return []byte{OpPrefixFC, 16, 0} }
