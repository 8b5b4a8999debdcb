package wasmgen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Guest is a generated route module.
type Guest struct {
	Class string // one of Classes
	What  string // the variant, e.g. "calltree depth param in GET, sched_yield imported"
	Seed  uint64 // Generator.Guest(Class, Seed) gives it again
	Bin   []byte
	// Valid reports that the template is meant to be a valid route module
	// (wazero compiles it; it passes wasmroute's load checks); the module
	// may still attack at run time. Malformed guests leave it false.
	Valid bool
	// Methods are the method exports of a valid guest.
	Methods []string
	// Heavy marks a valid guest that takes wazero's compiler seconds to
	// minutes of CPU (deep nesting, huge br_tables): an attack on
	// compilation itself.
	Heavy bool
}

// Class is a family of attacks.
type Class struct {
	Name, Doc string
	gen       func(g *Generator, rng *rand.Rand) Guest
}

// Classes are the attack classes, in a fixed order.
var Classes = []Class{
	{"calltree", "binary call tree of 2^60 calls with a depth counter (param or global), no loop", genCallTree},
	{"mutual", "mutual recursion of 2–5 functions in a call tree, no loop", genMutual},
	{"indirect", "call tree through call_indirect, no loop", genIndirect},
	{"loop", "infinite loops: plain, nested, calling, touching memory, behind br_if", genLoop},
	{"overflow", "unbounded recursion to stack overflow, few or many locals, tall operand stacks", genOverflow},
	{"table", "big tables: minimum 50,000,000, table.grow by 0xFFFFFFF0, grow loops", genTable},
	{"memory", "memory.grow past the limit, grow loops, touching every page", genMemory},
	{"globals", "10,000 to 1,000,000 globals", genGlobals},
	{"nesting", "blocks, loops or ifs nested 1,000 to 500,000 deep", genNesting},
	{"brtable", "br_table of 1,000 to 4,000,000 targets, in a loop", genBrTable},
	{"hostcall", "host-call floods: header_add, header_set, body_write, flush, set_status, fd_write to stdout/stderr", genHostCall},
	{"hugecount", "vector counts of 2^32-1 with few bytes left, in every section, locals, names, segments", genHugeCount},
	{"leb", "truncated and overlong LEB128s", genLEB},
	{"mutate", "real modules with bytes flipped, counts inflated, sections duplicated, dropped, swapped or cut", genMutate},
}

// ClassNames lists Classes' names.
func ClassNames() []string {
	var names []string
	for _, c := range Classes {
		names = append(names, c.Name)
	}
	return names
}

// Base is a real module for the mutate class.
type Base struct {
	Name string
	Bin  []byte
	// Weight is how often it is picked relative to the others (0 counts as 1).
	Weight int
}

// Generator makes guests. Its zero value mutates only generated modules.
type Generator struct {
	Bases []Base
}

// Guest returns the guest of class with seed. It panics on an unknown class.
func (g *Generator) Guest(class string, seed uint64) Guest {
	i := slices.IndexFunc(Classes, func(c Class) bool { return c.Name == class })
	if i < 0 {
		panic("wasmgen: unknown class " + class)
	}
	rng := rand.New(rand.NewPCG(seed, uint64(i)+0x9e3779b97f4a7c15))
	guest := Classes[i].gen(g, rng)
	guest.Class, guest.Seed = class, seed
	return guest
}

// Generate returns n guests of the given classes (all if none), round-robin,
// each seeded from seed and its index.
func (g *Generator) Generate(seed uint64, n int, classes ...string) []Guest {
	if len(classes) == 0 {
		classes = ClassNames()
	}
	out := make([]Guest, n)
	for i := range out {
		out[i] = g.Guest(classes[i%len(classes)], seed*1_000_003+uint64(i))
	}
	return out
}

// ABI imports used by the templates.
const (
	wasi  = "wasi_snapshot_preview1"
	abiV1 = "wasmroute_v1"
)

var (
	none = []ValType{}
	i32  = []ValType{I32}
)

// builder is a module and what a template has decided so far.
type builder struct {
	m     *Module
	rng   *rand.Rand
	what  []string
	yield bool
}

// newBuilder starts a route module: sched_yield imported or not (the two
// ways wasmroute interrupts a guest), then the given imports; memory is
// added by finish.
func newBuilder(rng *rand.Rand, imports ...func(m *Module)) *builder {
	b := &builder{m: &Module{}, rng: rng, yield: rng.IntN(2) == 0}
	if b.yield {
		b.m.Import(wasi, "sched_yield", none, i32)
		b.what = append(b.what, "sched_yield")
	} else {
		b.what = append(b.what, "no sched_yield")
	}
	for _, im := range imports {
		im(b.m)
	}
	return b
}

// locals returns random extra locals: none, a few or many, of mixed types.
func (b *builder) locals() []Local {
	n := []uint32{0, 0, 1, 3, 8, 100, 1000}[b.rng.IntN(7)]
	if n == 0 {
		return nil
	}
	types := []ValType{I32, I64, F64, V128}
	return []Local{{n, types[b.rng.IntN(len(types))]}}
}

// place makes attack (a () -> () function) run: as one or two method
// exports, as the start function, or as _initialize; a module whose attack
// runs at initialization exports a harmless GET.
func (b *builder) place(attack uint32, initOK bool) []string {
	where := 0
	if initOK {
		where = b.rng.IntN(4) // methods twice as often
	}
	switch where {
	case 2:
		b.m.Start = &attack
		b.what = append(b.what, "in start")
	case 3:
		b.m.Export("_initialize", KindFunc, attack)
		b.what = append(b.what, "in _initialize")
	default:
		methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
		b.rng.Shuffle(len(methods), func(i, j int) { methods[i], methods[j] = methods[j], methods[i] })
		methods = methods[:1+b.rng.IntN(2)]
		slices.Sort(methods)
		for _, name := range methods {
			b.m.Export(name, KindFunc, attack)
		}
		b.what = append(b.what, "in "+strings.Join(methods, ","))
		return methods
	}
	b.m.Export("GET", KindFunc, b.m.Func(none, none, nil))
	return []string{"GET"}
}

// finish adds memory (1 page unless set) and returns the guest.
func (b *builder) finish(methods []string) Guest {
	if len(b.m.Memories) == 0 {
		b.m.Memories = []Limits{{Min: 1}}
	}
	b.m.Export("memory", KindMemory, 0)
	return Guest{What: strings.Join(b.what, ", "), Bin: b.m.Encode(), Valid: true, Methods: methods}
}

// tree returns the body of a function (param i32 depth) that calls call
// twice with depth-1, and returns at depth 0.
func tree(call func(arg []byte) []byte) []byte {
	dec := Cat(LocalGet(0), I32Const(1), Op(OpI32Sub))
	return Cat(LocalGet(0), Op(OpI32Eqz), If(Op(OpReturn)), call(dec), call(dec))
}

func genCallTree(_ *Generator, rng *rand.Rand) Guest {
	b := newBuilder(rng)
	var t uint32
	if rng.IntN(2) == 0 {
		b.what = append(b.what, "depth param")
		next := uint32(len(b.m.Imports) + len(b.m.Funcs))
		t = b.m.Func(i32, none, b.locals(), tree(func(arg []byte) []byte { return Cat(arg, Call(next)) }))
	} else {
		// The depth counter is a global, decremented before and restored
		// after each pair of calls.
		b.what = append(b.what, "depth global")
		b.m.Globals = append(b.m.Globals, Global{I32, true, I32Const(60)})
		next := uint32(len(b.m.Imports) + len(b.m.Funcs))
		t = b.m.Func(i32, none, b.locals(), Cat(
			GlobalGet(0), Op(OpI32Eqz), If(Op(OpReturn)),
			GlobalGet(0), I32Const(1), Op(OpI32Sub), GlobalSet(0),
			I32Const(0), Call(next), I32Const(0), Call(next),
			GlobalGet(0), I32Const(1), Op(OpI32Add), GlobalSet(0)))
	}
	attack := b.m.Func(none, none, nil, I32Const(60), Call(t))
	return b.finish(b.place(attack, true))
}

func genMutual(_ *Generator, rng *rand.Rand) Guest {
	b := newBuilder(rng)
	k := 2 + rng.IntN(4)
	b.what = append(b.what, fmt.Sprintf("%d functions", k))
	first := uint32(len(b.m.Imports))
	for i := range k {
		next := first + uint32((i+1)%k)
		b.m.Func(i32, none, b.locals(), tree(func(arg []byte) []byte { return Cat(arg, Call(next)) }))
	}
	attack := b.m.Func(none, none, nil, I32Const(60), Call(first))
	return b.finish(b.place(attack, true))
}

func genIndirect(_ *Generator, rng *rand.Rand) Guest {
	b := newBuilder(rng)
	size := uint32(1 + rng.IntN(64))
	b.what = append(b.what, fmt.Sprintf("table of %d", size))
	typ := b.m.Type(i32, none)
	// Every table slot holds the tree function; each call picks slot depth%size.
	slot := func(arg []byte) []byte {
		return Cat(arg, LocalGet(0), I32Const(int32(size)), Op(0x70 /* i32.rem_u */), CallIndirect(typ))
	}
	t := b.m.Func(i32, none, b.locals(), tree(slot))
	b.m.Tables = []Table{{FuncRef, Limits{Min: size}}}
	b.m.Elems = []Elem{{0, slices.Repeat([]uint32{t}, int(size))}}
	attack := b.m.Func(none, none, nil, I32Const(60), Call(t))
	return b.finish(b.place(attack, true))
}

func genLoop(_ *Generator, rng *rand.Rand) Guest {
	b := newBuilder(rng)
	var body []byte
	switch rng.IntN(5) {
	case 0:
		b.what = append(b.what, "plain")
		body = Loop(Br(0))
	case 1:
		depth := 2 + rng.IntN(5)
		n := []int32{1, 1000, 1_000_000}[rng.IntN(3)]
		b.what = append(b.what, fmt.Sprintf("nested %d, inner count %d", depth, n))
		l := uint32(0) // the counter local
		body = Loop(LocalGet(l), I32Const(1), Op(OpI32Sub), LocalTee(l), BrIf(0))
		for range depth - 1 {
			body = Loop(I32Const(n), LocalSet(l), body, Br(0))
		}
	case 2:
		b.what = append(b.what, "calling a leaf")
		leaf := b.m.Func(none, none, b.locals(), I32Const(0), Load(), Op(OpDrop))
		body = Loop(Call(leaf), Br(0))
	case 3:
		b.what = append(b.what, "touching memory")
		body = Loop(I32Const(0), I32Const(0), Load(), I32Const(1), Op(OpI32Add), Store(), Br(0))
	default:
		b.what = append(b.what, "br_if never taken")
		body = Block(Loop(I32Const(0), BrIf(1), Br(0)))
	}
	attack := b.m.Func(none, none, []Local{{1, I32}}, body)
	return b.finish(b.place(attack, true))
}

func genOverflow(_ *Generator, rng *rand.Rand) Guest {
	b := newBuilder(rng)
	nlocals := []uint32{0, 1, 8, 100, 1000, 10_000, 50_000}[rng.IntN(7)]
	tall := []int{0, 1, 16, 256, 4096}[rng.IntN(5)]
	types := []ValType{I32, I64, V128}
	lt := types[rng.IntN(3)]
	b.what = append(b.what, fmt.Sprintf("%d locals, %d values on the operand stack", nlocals, tall))
	var locals []Local
	if nlocals > 0 {
		locals = []Local{{nlocals, lt}}
	}
	self := uint32(len(b.m.Imports) + len(b.m.Funcs))
	var push, pop []byte
	for range tall {
		push = append(push, I64Const(-1)...)
		pop = append(pop, OpDrop)
	}
	f := b.m.Func(none, none, locals, push, Call(self), pop)
	return b.finish(b.place(f, true))
}

func genTable(_ *Generator, rng *rand.Rand) Guest {
	b := newBuilder(rng)
	types := []ValType{FuncRef, ExternRef}
	tt := types[rng.IntN(2)]
	var body []byte
	switch rng.IntN(4) {
	case 0:
		n := 1 + rng.IntN(4)
		b.what = append(b.what, fmt.Sprintf("%d tables of minimum 50,000,000", n))
		for range n {
			b.m.Tables = append(b.m.Tables, Table{tt, Limits{Min: 50_000_000}})
		}
		body = Cat(TableSize(), Op(OpDrop))
	case 1:
		b.what = append(b.what, "table.grow by 0xFFFFFFF0")
		b.m.Tables = []Table{{tt, Limits{Min: 1}}}
		body = Cat(RefNull(tt), I32Const(-16), TableGrow(), Op(OpDrop))
	case 2:
		step := []int32{1, 1000, 1_000_000, 10_000_000}[rng.IntN(4)]
		b.what = append(b.what, fmt.Sprintf("table.grow by %d until it fails", step))
		b.m.Tables = []Table{{tt, Limits{Min: 0}}}
		body = Loop(RefNull(tt), I32Const(step), TableGrow(), I32Const(-1), Op(OpI32Ne), BrIf(0))
	default:
		b.what = append(b.what, "minimum 50,000,000, maximum 0xFFFFFFFF, grown by 50,000,000")
		b.m.Tables = []Table{{tt, Limits{Min: 50_000_000, Max: 0xffffffff, HasMax: true}}}
		body = Cat(RefNull(tt), I32Const(50_000_000), TableGrow(), Op(OpDrop))
	}
	b.what = append(b.what, map[ValType]string{FuncRef: "funcref", ExternRef: "externref"}[tt])
	attack := b.m.Func(none, none, nil, body)
	return b.finish(b.place(attack, true))
}

func genMemory(_ *Generator, rng *rand.Rand) Guest {
	b := newBuilder(rng)
	var body []byte
	p := uint32(0) // a local: the address
	switch rng.IntN(4) {
	case 0:
		b.what = append(b.what, "memory.grow 65536 pages")
		body = Cat(I32Const(65536), MemoryGrow(), Op(OpDrop))
	case 1:
		step := []int32{1, 16, 1000}[rng.IntN(3)]
		b.what = append(b.what, fmt.Sprintf("memory.grow %d until it fails", step))
		body = Loop(I32Const(step), MemoryGrow(), I32Const(-1), Op(OpI32Ne), BrIf(0))
	case 2:
		b.what = append(b.what, "grow to the limit, touch every page, grow again")
		body = Cat(
			Loop(I32Const(1), MemoryGrow(), I32Const(-1), Op(OpI32Ne), BrIf(0)),
			Block(Loop(
				LocalGet(p), I32Const(1), Store(),
				LocalGet(p), I32Const(4096), Op(OpI32Add), LocalTee(p),
				Op(OpMemorySize, 0), I32Const(16), Op(0x74 /* i32.shl */), Op(0x49 /* i32.lt_u */), BrIf(0))),
			I32Const(1), MemoryGrow(), Op(OpDrop))
	default:
		b.what = append(b.what, "maximum 65536 pages declared, grown by 0xFFFF")
		b.m.Memories = []Limits{{Min: 1, Max: 65536, HasMax: true}}
		body = Cat(I32Const(0xffff), MemoryGrow(), Op(OpDrop))
	}
	attack := b.m.Func(none, none, []Local{{1, I32}}, body)
	return b.finish(b.place(attack, true))
}

func genGlobals(_ *Generator, rng *rand.Rand) Guest {
	b := newBuilder(rng)
	n := []int{10_000, 100_000, 1_000_000}[rng.IntN(3)]
	mutable := rng.IntN(3) // 0: none, 1: every other, 2: all
	b.what = append(b.what, fmt.Sprintf("%d globals, mutable %s", n, []string{"none", "half", "all"}[mutable]))
	for i := range n {
		mut := mutable == 2 || (mutable == 1 && i%2 == 0)
		if i%3 == 0 {
			b.m.Globals = append(b.m.Globals, Global{I64, mut, I64Const(int64(i))})
		} else {
			b.m.Globals = append(b.m.Globals, Global{I32, mut, I32Const(int32(i))})
		}
	}
	last := uint32(n - 1)
	body := Cat(GlobalGet(last), Op(OpDrop))
	if b.m.Globals[last].Mutable {
		body = Cat(GlobalGet(last), I32Const(1), Op(OpI32Add), GlobalSet(last))
		if b.m.Globals[last].Type == I64 {
			body = Cat(GlobalGet(last), I64Const(1), Op(OpI64Add), GlobalSet(last))
		}
	}
	attack := b.m.Func(none, none, nil, body)
	return b.finish(b.place(attack, true))
}

func genNesting(_ *Generator, rng *rand.Rand) Guest {
	b := newBuilder(rng)
	depth := []int{1000, 1000, 10_000, 100_000, 500_000}[rng.IntN(5)]
	kind := rng.IntN(3)
	b.what = append(b.what, fmt.Sprintf("%s nested %d deep", []string{"block", "loop", "if"}[kind], depth))
	var open []byte
	switch kind {
	case 0:
		open = []byte{OpBlock, 0x40}
	case 1:
		open = []byte{OpLoop, 0x40}
	default:
		open = Cat(I32Const(1), []byte{OpIf, 0x40})
	}
	inner := Op(OpNop)
	if kind == 1 {
		inner = Br(uint32(rng.IntN(depth))) // loop back to some level, forever
	}
	body := Cat(slices.Repeat(open, depth), inner, slices.Repeat([]byte{End}, depth))
	attack := b.m.Func(none, none, nil, body)
	g := b.finish(b.place(attack, true))
	g.Heavy = depth > 1000
	return g
}

func genBrTable(_ *Generator, rng *rand.Rand) Guest {
	b := newBuilder(rng)
	n := []int{1000, 10_000, 100_000, 1_000_000, 4_000_000}[rng.IntN(5)]
	targets := make([]uint32, n) // 0: the loop, again; 1: out
	exit := rng.IntN(2) == 0
	if exit {
		targets[n-1] = 1 // the counter reaches the last slot after n iterations
	}
	b.what = append(b.what, fmt.Sprintf("br_table of %d targets, exit at the last %v", n, exit))
	i := uint32(0)
	body := Block(Loop(
		LocalGet(i), I32Const(1), Op(OpI32Add), LocalTee(i), I32Const(int32(n)), Op(0x70 /* i32.rem_u */),
		BrTable(targets, 0)))
	attack := b.m.Func(none, none, []Local{{1, I32}}, body)
	g := b.finish(b.place(attack, true))
	g.Heavy = n > 10_000
	return g
}

func genHostCall(_ *Generator, rng *rand.Rand) Guest {
	var headerAdd, headerSet, bodyWrite, flush, setStatus, fdWrite uint32
	b := newBuilder(rng, func(m *Module) {
		headerAdd = m.Import(abiV1, "header_add", []ValType{I32, I32, I32, I32}, i32)
		headerSet = m.Import(abiV1, "header_set", []ValType{I32, I32, I32, I32}, i32)
		bodyWrite = m.Import(abiV1, "body_write", []ValType{I32, I32}, i32)
		flush = m.Import(abiV1, "flush", none, i32)
		setStatus = m.Import(abiV1, "set_status", i32, i32)
		fdWrite = m.Import(wasi, "fd_write", []ValType{I32, I32, I32, I32}, i32)
	})
	// Memory: "x-flood" at 0, a value at 16, an iovec (2048, 4096) at 1024
	// and 4 KiB of "v" at 2048.
	b.m.Datas = []Data{{0, []byte("x-flood")}, {16, []byte(strings.Repeat("v", 64))},
		{1024, []byte{0, 8, 0, 0, 0, 16, 0, 0}}, {2048, []byte(strings.Repeat("v", 4096))}}
	var call []byte
	initOK := false
	switch rng.IntN(8) {
	case 0:
		b.what = append(b.what, "header_add forever")
		call = Cat(I32Const(0), I32Const(7), I32Const(16), I32Const(64), Call(headerAdd))
	case 1:
		b.what = append(b.what, "header_set of a 4 KiB value forever")
		call = Cat(I32Const(0), I32Const(7), I32Const(2048), I32Const(4096), Call(headerSet))
	case 2:
		b.what = append(b.what, "body_write 64 KiB forever")
		call = Cat(I32Const(0), I32Const(65536), Call(bodyWrite))
	case 3:
		b.what = append(b.what, "body_write 0 bytes forever")
		call = Cat(I32Const(0), I32Const(0), Call(bodyWrite))
	case 4:
		b.what = append(b.what, "flush forever")
		call = Call(flush)
	case 5:
		b.what = append(b.what, "set_status forever")
		call = Cat(I32Const(200+int32(rng.IntN(700))), Call(setStatus))
	default:
		fd := int32(1 + rng.IntN(2))
		b.what = append(b.what, fmt.Sprintf("fd_write 4 KiB to fd %d forever", fd))
		call = Cat(I32Const(fd), I32Const(1024), I32Const(1), I32Const(1040), Call(fdWrite))
		initOK = true
	}
	if rng.IntN(8) == 0 {
		initOK = true // the ABI's calls outside a request, too
	}
	attack := b.m.Func(none, none, nil, Loop(call, Op(OpDrop), Br(0)))
	return b.finish(b.place(attack, initOK))
}

// full is a valid module with every kind of section, for the binary classes
// to damage: sched_yield imported, 3 functions, a table and its element
// segment, memory, 2 globals, exports, a data count, data, and names.
func full(rng *rand.Rand) []byte {
	m := &Module{DataCount: true}
	m.Import(wasi, "sched_yield", none, i32)
	leaf := m.Func(i32, i32, []Local{{2, I32}}, LocalGet(0), I32Const(1), Op(OpI32Add))
	get := m.Func(none, none, nil, I32Const(int32(rng.IntN(100))), Call(leaf), Op(OpDrop),
		Block(I32Const(0), BrTable([]uint32{0, 0, 0}, 0)))
	post := m.Func(none, none, nil, Loop(I32Const(0), BrIf(0)))
	m.Tables = []Table{{FuncRef, Limits{Min: 3}}}
	m.Memories = []Limits{{Min: 1, Max: 16, HasMax: true}}
	m.Globals = []Global{{I32, true, I32Const(7)}, {I64, false, I64Const(-1)}}
	m.Export("memory", KindMemory, 0)
	m.Export("GET", KindFunc, get)
	m.Export("POST", KindFunc, post)
	m.Elems = []Elem{{0, []uint32{leaf, get, post}}}
	m.Datas = []Data{{0, []byte("hello")}}
	m.Customs = []Custom{{"name", NameSection(4)}}
	return m.Encode()
}

func genHugeCount(_ *Generator, rng *rand.Rand) Guest {
	bin := full(rng)
	huge := U32(0xffffffff)
	junk := make([]byte, rng.IntN(9))
	for i := range junk {
		junk[i] = byte(rng.IntN(256))
	}
	targets := []string{"type", "import", "function", "table", "memory", "global", "export", "element", "code",
		"data", "datacount", "locals", "locals-sum", "name-funcs", "name-locals", "br_table", "section-size",
		"body-size", "data-size", "name-length", "elem-funcs"}
	target := targets[rng.IntN(len(targets))]
	ids := map[string]byte{"type": SecType, "import": SecImport, "function": SecFunction, "table": SecTable,
		"memory": SecMemory, "global": SecGlobal, "export": SecExport, "element": SecElement, "code": SecCode,
		"data": SecData, "datacount": SecDataCount}
	body := func(parts ...[]byte) []byte { return Cat(append(parts, junk)...) }
	code := func(fn []byte) []byte { return Cat(U32(3), U32(uint32(len(fn))), fn, []byte{2, 0, End, 2, 0, End}) }
	var out []byte
	switch target {
	case "locals":
		out, _ = ReplaceBody(bin, SecCode, code(body(huge, []byte{End})))
	case "locals-sum":
		fn := Cat(U32(2), U32(0x80000000), []byte{byte(I32)}, U32(0x80000000), []byte{byte(I64)}, []byte{End})
		out, _ = ReplaceBody(bin, SecCode, code(fn))
	case "name-funcs":
		out, _ = ReplaceBody(bin, SecCustom, Cat(Name(nil, "name"), []byte{1}, U32(uint32(5+len(junk))), body(huge)))
	case "name-locals":
		out, _ = ReplaceBody(bin, SecCustom, Cat(Name(nil, "name"), []byte{2}, U32(uint32(10+len(junk))), body(U32(1), U32(0), huge)))
	case "br_table":
		fn := Cat([]byte{0}, Block(I32Const(0), []byte{OpBrTable}, huge, []byte{0, 0}))
		out, _ = ReplaceBody(bin, SecCode, code(fn))
	case "section-size":
		out = Cat(bin[:8], []byte{SecType}, huge, []byte{1, 0x60, 0, 0})
	case "body-size":
		out, _ = ReplaceBody(bin, SecCode, body(U32(3), huge, []byte{0, End}))
	case "data-size":
		out, _ = ReplaceBody(bin, SecData, body(U32(1), []byte{0}, I32Const(0), []byte{End}, huge))
	case "name-length":
		out, _ = ReplaceBody(bin, SecExport, body(U32(1), huge, []byte("GET")))
	case "elem-funcs":
		out, _ = ReplaceBody(bin, SecElement, body(U32(1), []byte{0}, I32Const(0), []byte{End}, huge, []byte{0}))
	default:
		out, _ = ReplaceBody(bin, ids[target], body(huge))
	}
	return Guest{What: fmt.Sprintf("2^32-1 %s, %d bytes after", target, len(junk)), Bin: out}
}

func genLEB(_ *Generator, rng *rand.Rand) Guest {
	bin := full(rng)
	secs, _ := Sections(bin)
	i := pick(rng, secs, func(s Section) bool { return s.ID != SecCustom && s.ID != SecStart })
	s := secs[i]
	count, n := uvarint(s.Body)
	var out []byte
	var what string
	switch rng.IntN(5) {
	case 0: // the file ends inside a LEB
		cut := 1 + rng.IntN(4)
		out = Cat(bin, []byte{SecCustom}, slices.Repeat([]byte{0x80}, cut))
		what = fmt.Sprintf("file ends after %d continuation bytes of a section size", cut)
	case 1: // a section's count, padded
		w := []int{5, 6, 10, 11, 16}[rng.IntN(5)]
		secs[i].Body = Cat(Overlong(uint32(count), w), s.Body[n:])
		out, what = Join(secs), fmt.Sprintf("section %d count in %d bytes", s.ID, w)
	case 2: // a section's size, padded
		w := []int{5, 6, 10}[rng.IntN(3)]
		out = bin[:8:8]
		for j, t := range secs {
			if j == i {
				out = Cat(out, []byte{t.ID}, Overlong(uint32(len(t.Body)), w), t.Body)
			} else {
				out = AppendSection(out, t.ID, t.Body)
			}
		}
		what = fmt.Sprintf("section %d size in %d bytes", s.ID, w)
	case 3: // a count whose fifth byte sets bits past 32
		secs[i].Body = Cat([]byte{0xff, 0xff, 0xff, 0xff, 0x7f}, s.Body[n:])
		out, what = Join(secs), fmt.Sprintf("section %d count with bits past 32", s.ID)
	default: // a section cut inside its count
		secs[i].Body = Overlong(uint32(count), 5)[:1+rng.IntN(4)]
		out, what = Join(secs[:i+1]), fmt.Sprintf("module ends inside section %d's count", s.ID)
	}
	return Guest{What: what, Bin: out}
}

func genMutate(g *Generator, rng *rand.Rand) Guest {
	name, bin := "generated", full(rng)
	if g != nil && len(g.Bases) > 0 {
		total := 0
		for _, b := range g.Bases {
			total += max(b.Weight, 1)
		}
		r := rng.IntN(total)
		for _, b := range g.Bases {
			if r -= max(b.Weight, 1); r < 0 {
				name, bin = b.Name, b.Bin
				break
			}
		}
	}
	what := []string{name}
	for range 1 + rng.IntN(3) {
		var w string
		bin, w = Mutators[MutatorNames[rng.IntN(len(MutatorNames))]](rng, bin)
		what = append(what, w)
	}
	return Guest{What: strings.Join(what, ": "), Bin: bin}
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i, c := range b {
		if i == 10 {
			return 0, 0
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}
