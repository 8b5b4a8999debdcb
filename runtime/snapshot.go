package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/internal/wasmbin"
)

// snapshot is a module's state right after its initialization: its linear
// memory and its mutable globals. Instances start from it instead of
// running the initialization again (for a Go guest, the linker's tens of
// thousands of data segments and the runtime's start), and an instance in
// request isolation is put back to it after every request.
//
// Anything the initialization computed is shared by every instance made
// from the snapshot — a Go guest's map hash seeds and math/rand's global
// generator included. Randomness asked for later (crypto/rand) is fresh.
type snapshot struct {
	img     *image
	pages   uint32   // the memory's size, in pages
	names   []string // the exports of the mutable globals (wasmbin.Rewritten.Globals)
	globals []uint64 // their values
}

// takeSnapshot instantiates cm, compiled from rw.Bin, lays out its memory
// as its data segments would, runs its start function and _initialize,
// and keeps the state they leave.
func takeSnapshot(ctx context.Context, rt wazero.Runtime, cm wazero.CompiledModule, cfg wazero.ModuleConfig, rw *wasmbin.Rewritten) (*snapshot, error) {
	mem := make([]byte, rw.MinPages*wasmPageSize)
	for i, seg := range rw.Segments {
		if uint64(seg.Offset)+uint64(len(seg.Data)) > uint64(len(mem)) {
			return nil, fmt.Errorf("data segment %d is outside the memory's %d pages", i, rw.MinPages)
		}
		copy(mem[seg.Offset:], seg.Data)
	}
	var lm *sliceMemory
	ctx = experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
		lm = &sliceMemory{buf: mem, max: max}
		return lm
	}))
	var starts []string
	if rw.Start {
		starts = append(starts, wasmbin.StartExport)
	}
	starts = append(starts, abi.ExportInitialize)
	out := &guestOutput{}
	mod, err := rt.InstantiateModule(ctx, cm, cfg.WithStartFunctions(starts...).WithStdout(out).WithStderr(out))
	if err != nil {
		return nil, withOutput(err, out)
	}
	defer mod.Close(context.Background())
	if g, ok := mod.ExportedGlobal(wasmbin.DeepExport).(api.MutableGlobal); ok {
		// However deep the initialization went, its stack went with its
		// call: instances start shallow.
		g.Set(0)
	}
	s := &snapshot{pages: mod.Memory().Size() / wasmPageSize, names: rw.Globals}
	if s.img, err = newImage(lm.buf[:mod.Memory().Size()]); err != nil {
		return nil, err
	}
	for _, name := range rw.Globals {
		g := mod.ExportedGlobal(name)
		if g == nil {
			return nil, fmt.Errorf("no global %s", name)
		}
		s.globals = append(s.globals, g.Get())
	}
	return s, nil
}

// instantiate makes an instance of cm in the snapshot's state. cfg must
// not name start functions: the state is the snapshot's.
func (s *snapshot) instantiate(ctx context.Context, rt wazero.Runtime, cm wazero.CompiledModule, cfg wazero.ModuleConfig, methods methodSet) (*instance, error) {
	inst, err := instantiateFrom(ctx, s.img, rt, cm, cfg.WithStartFunctions(), methods)
	if err != nil {
		return nil, err
	}
	inst.snap = s
	mem := inst.mod.Memory()
	if grow := s.pages - mem.Size()/wasmPageSize; grow > 0 {
		if _, ok := mem.Grow(grow); !ok {
			inst.close()
			return nil, fmt.Errorf("cannot grow memory to the snapshot's %d pages", s.pages)
		}
	}
	inst.globals = make([]api.MutableGlobal, len(s.names))
	for i, name := range s.names {
		g, ok := inst.mod.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			inst.close()
			return nil, fmt.Errorf("global %s is not mutable", name)
		}
		inst.globals[i] = g
		g.Set(s.globals[i])
	}
	return inst, nil
}

// snapshot takes the state of inst, made from a snapshot, as a snapshot of
// its own: the JavaScript engine's base snapshot with a route loaded (js.go).
func (inst *instance) snapshot() (*snapshot, error) {
	if inst.deep != nil {
		if g, ok := inst.deep.(api.MutableGlobal); ok {
			g.Set(0) // as takeSnapshot does
		}
	}
	mem := inst.mod.Memory()
	buf, ok := mem.Read(0, mem.Size())
	if !ok {
		return nil, errors.New("cannot read the memory")
	}
	s := &snapshot{pages: mem.Size() / wasmPageSize, names: inst.snap.names, globals: make([]uint64, len(inst.globals))}
	for i, g := range inst.globals {
		s.globals[i] = g.Get()
	}
	var err error
	if s.img, err = newImage(buf); err != nil {
		return nil, err
	}
	return s, nil
}

// instantiateFrom instantiates cm with its linear memory made from img,
// which on Linux keeps it out of the Go heap, reserved up to its limit so
// that it grows in place (image_linux.go).
func instantiateFrom(ctx context.Context, img *image, rt wazero.Runtime, cm wazero.CompiledModule, cfg wazero.ModuleConfig, methods methodSet) (*instance, error) {
	var lm linearMemory
	ctx = experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
		lm = img.newMemory(max)
		return lm
	}))
	inst, err := instantiate(ctx, rt, cm, cfg, methods)
	if err != nil {
		if lm != nil {
			lm.release()
		}
		return nil, err
	}
	inst.mem = lm
	return inst, nil
}

// emptyImage is the image of a memory that starts empty, for the instances
// of a module without a snapshot: wazero's own memory is a Go slice that
// grows by copying, leaving garbage up to twice the limit for the GC.
var emptyImage = sync.OnceValues(func() (*image, error) { return newImage(nil) })

// reset puts inst back to its snapshot's state. It reports false when it
// cannot (no snapshot, memory grown past it, or a module that changes its
// tables or drops segments, which the snapshot does not hold): inst must go.
func (inst *instance) reset() bool {
	if inst.snap == nil || inst.noReset || !inst.mem.reset() {
		return false
	}
	for i, g := range inst.globals {
		g.Set(inst.snap.globals[i])
	}
	return true
}
