package host

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// InstantiateWASI instantiates wasi_snapshot_preview1 in r: wazero's
// implementation (wasi_snapshot_preview1.NewFunctionExporter) for every
// function but poll_oneoff, which is replaced by one whose sleep ends when the
// calling request is cancelled, and sched_yield, which ends the call of a
// cancelled request. Call it once per wazero.Runtime, instead
// of wasi_snapshot_preview1.Instantiate, before instantiating route modules;
// a second call fails. The functions it registers are safe for concurrent use
// by different instances.
//
// # poll_oneoff
//
// A sleep (a clock subscription) ends early when Exchange.Done of the
// Exchange in the call's context is closed, or when the context's Done()
// channel is (the one way to cancel a call outside a request, e.g. during
// "_initialize"). poll_oneoff then does not return to the guest: it ends the
// call, as proc_exit does, which returns a *sys.ExitError with code
// sys.ExitCodeContextCanceled, or sys.ExitCodeDeadlineExceeded when the
// context's deadline woke it (errors.Is matches context.Canceled and
// context.DeadlineExceeded), as wazero's WithCloseOnContextDone does. A
// cancelled request's guest thus runs no more code, and none against a
// module that the runtime is closing meanwhile.
//
// Otherwise it behaves as WASI specifies: relative and absolute clock
// subscriptions on the realtime and monotonic clocks (an absolute time is
// compared with the guest's own clock, as clock_time_get reads it), fd_read
// and fd_write subscriptions on stdin, stdout and stderr ready at once (no
// other descriptor exists: EBADF), errors of one subscription reported in
// its event, and, as wazero does, EINVAL for no subscription and EFAULT for
// buffers outside memory. It sleeps on the host's timers, whatever
// ModuleConfig.WithNanosleep says.
func InstantiateWASI(ctx context.Context, r wazero.Runtime) (api.Module, error) {
	p := new(poller)
	b := r.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	// A later export of a name replaces the earlier one.
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(p.pollOneoff), i32s(4), i32s(1)).
		WithParameterNames("in", "out", "nsubscriptions", "result.nevents").
		WithResultNames("errno").
		Export(wasiPollOneoff)
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(schedYield), nil, i32s(1)).
		WithResultNames("errno").
		Export(wasiSchedYield)
	compiled, err := b.Compile(ctx)
	if err != nil {
		return nil, fmt.Errorf("compiling host module %s: %w", wasi_snapshot_preview1.ModuleName, err)
	}
	// poll_oneoff reads the guest's clocks with wazero's clock_time_get,
	// taken from the compiled module so that it is set before any guest can
	// call poll_oneoff.
	if def := compiled.ExportedFunctions()[wasiClockTimeGet]; def != nil {
		p.clockTimeGet, _ = def.GoFunction().(api.GoModuleFunction)
	}
	if p.clockTimeGet == nil {
		compiled.Close(ctx)
		return nil, fmt.Errorf("host module %s: wazero's %s is not a Go function", wasi_snapshot_preview1.ModuleName, wasiClockTimeGet)
	}
	mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig())
	if err != nil {
		compiled.Close(ctx)
		return nil, fmt.Errorf("instantiating host module %s: %w", wasi_snapshot_preview1.ModuleName, err)
	}
	return mod, nil
}

// schedYield implements WASI sched_yield: it returns success at once, unless
// the calling request is cancelled (Exchange.Done or ctx.Done() closed): then
// it ends the call as poll_oneoff does. Being Go code, it is also where the Go
// scheduler can preempt a guest that runs long. package runtime makes the
// loops of guests that import it call it every few thousand iterations.
func schedYield(ctx context.Context, _ api.Module, stack []uint64) {
	e, _ := ctx.Value(exchangeKey{}).(*Exchange)
	stopIfDone(ctx, e)
	stack[0] = errnoSuccess
}

// WASI preview1 names and values poll_oneoff uses.
// See https://github.com/WebAssembly/WASI/blob/snapshot-01/phases/snapshot/docs.md
const (
	wasiPollOneoff   = "poll_oneoff"
	wasiSchedYield   = "sched_yield"
	wasiClockTimeGet = "clock_time_get"

	errnoSuccess = 0
	errnoBadf    = 8
	errnoFault   = 21
	errnoInval   = 28

	eventtypeClock   = 0
	eventtypeFdRead  = 1
	eventtypeFdWrite = 2

	clockRealtime  = 0
	clockMonotonic = 1

	subclockAbstime = 1 // the only subclockflags bit

	subscriptionSize = 48
	eventSize        = 32
)

// poller implements poll_oneoff for one runtime.
type poller struct {
	// clockTimeGet is wazero's clock_time_get, which reads the calling
	// module's clocks as configured (ModuleConfig.WithSysWalltime...): an
	// absolute deadline is compared with the time the guest sees.
	clockTimeGet api.GoModuleFunction
}

// pollOneoff implements WASI poll_oneoff: it waits until at least one of the
// subscriptions in `in` has an event, writes the events to `out` and their
// count to result.nevents. It differs from wazero's in that a sleep ends when
// the request is cancelled.
//
// # Parameters
//
//   - in: offset of nsubscriptions subscriptions, 48 bytes each
//   - out: offset of room for nsubscriptions events, 32 bytes each
//   - nsubscriptions: how many; 0 returns EINVAL
//   - result.nevents: offset of a u32 that receives how many events were
//     written
//
// Result (errno): 0 (ESUCCESS), also when a subscription is in error: its
// event carries the errno; EINVAL for no subscription; EFAULT, writing
// nothing, when in, out or result.nevents is not inside memory (as wazero:
// a WASI function reports bad memory, it does not trap).
//
// A subscription and the event it produces, little endian (? is ignored):
//
//	subscription (48 bytes)
//	0          8     9     16     20     24        32          40      42   48
//	+----------+-----+-----+------+------+---------+-----------+-------+----+
//	| userdata | tag |  ?  | id   |  ?   | timeout | precision | flags |  ? |  tag 0: clock
//	| userdata | tag |  ?  | fd   |                    ?                    |  tag 1, 2: fd_read, fd_write
//
//	event (32 bytes)
//	0          8       10     11  16         24        26  32
//	+----------+-------+------+---+----------+---------+---+
//	| userdata | errno | type | 0 | nbytes 0 | flags 0 | 0 |
//
// Clock subscriptions: id is 0 (realtime) or 1 (monotonic), else the event
// has EINVAL; flags is 0 (timeout is relative, in nanoseconds, as Go's
// time.Sleep uses it) or 1 (timeout is an absolute time on that clock, as the
// guest reads it with clock_time_get), else EINVAL. precision is ignored.
//
// fd_read and fd_write subscriptions on 0, 1 and 2 (stdin, stdout and stderr:
// a route module has no other descriptor) are ready at once, nbytes 0: there
// is no stdin to wait for, and writes to stdout and stderr do not block. Any
// other descriptor gives EBADF in the event. An unknown tag gives EINVAL in an
// event of that type.
//
// Events are written without gaps, in subscription order. When some
// subscription is ready at once (or in error), pollOneoff does not wait, and
// reports with it only the clocks already due. Otherwise it sleeps until the
// earliest clock is due and reports the clocks due then.
//
// # Cancellation
//
// The sleep ends early when Exchange.Done (of the Exchange in ctx, see
// WithExchange) or ctx.Done() is closed, or when the sleep ends and the
// module is closed: pollOneoff then panics with a *sys.ExitError (see
// InstantiateWASI for its code), which ends the guest's call as proc_exit
// does. It neither returns success (the guest would run on, and its next
// WASI call would find the resources of a module the runtime closed in the
// meantime released: wazero's clock_time_get then panics on a nil pointer,
// and with experimental.WithMemoryAllocator the memory may be unmapped) nor
// an errno (Go's runtime aborts on one, or, for EINTR, polls again). A poll
// that does not sleep is not a cancellation point.
//
// # Notes
//
//   - The sleep uses the host's timers, not ModuleConfig.WithNanosleep.
//   - in and out must not overlap.
//   - A module without memory traps, as with wazero's WASI functions.
//   - See https://github.com/WebAssembly/WASI/blob/snapshot-01/phases/snapshot/docs.md#-poll_oneoffin-constpointersubscription-out-pointerevent-nsubscriptions-size---errno-size
func (p *poller) pollOneoff(ctx context.Context, mod api.Module, stack []uint64) {
	stack[0] = uint64(p.poll(ctx, mod, stack))
}

func (p *poller) poll(ctx context.Context, mod api.Module, stack []uint64) uint32 {
	in, out := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	n, neventsAt := api.DecodeU32(stack[2]), api.DecodeU32(stack[3])
	if n == 0 {
		return errnoInval
	}
	mem := mod.Memory()
	if uint64(n)*subscriptionSize > math.MaxUint32 {
		return errnoFault
	}
	subs, okIn := mem.Read(in, n*subscriptionSize)
	events, okOut := mem.Read(out, n*eventSize)
	_, okN := mem.Read(neventsAt, 4)
	if !okIn || !okOut || !okN {
		return errnoFault
	}

	// Write each subscription's event in its own slot. A clock's event that
	// is not yet due has errno 0 and its wait in nanoseconds in nbytes.
	ready, earliest := false, int64(math.MaxInt64)
	for i := range n {
		sub, ev := subs[i*subscriptionSize:][:subscriptionSize], events[i*eventSize:][:eventSize]
		userdata, tag := binary.LittleEndian.Uint64(sub), sub[8]
		errno, wait := uint16(errnoSuccess), int64(0)
		switch tag {
		case eventtypeClock:
			// ev is scratch space for clock_time_get.
			wait, errno = p.clockWait(ctx, mod, stack, sub, out+i*eventSize)
		case eventtypeFdRead, eventtypeFdWrite:
			if fd := binary.LittleEndian.Uint32(sub[16:]); fd > 2 {
				errno = errnoBadf
			}
		default:
			errno = errnoInval
		}
		clear(ev)
		binary.LittleEndian.PutUint64(ev, userdata)
		binary.LittleEndian.PutUint16(ev[8:], errno)
		ev[10] = tag
		if tag == eventtypeClock && errno == errnoSuccess {
			binary.LittleEndian.PutUint64(ev[16:], uint64(wait))
			earliest = min(earliest, wait)
		} else {
			ready = true
		}
	}

	// Report clocks due within due: none to wait for when something is
	// ready, else the earliest.
	due := int64(0)
	if !ready {
		due = earliest
		if due > 0 && (!sleep(ctx, time.Duration(due)) || mod.IsClosed()) {
			exitStopped(ctx)
		}
	}
	nevents := uint32(0)
	for i := range n {
		ev := events[i*eventSize:][:eventSize]
		if ev[10] == eventtypeClock && binary.LittleEndian.Uint16(ev[8:]) == errnoSuccess {
			if int64(binary.LittleEndian.Uint64(ev[16:])) > due {
				continue
			}
			clear(ev[16:24])
		}
		copy(events[nevents*eventSize:], ev)
		nevents++
	}
	clear(events[nevents*eventSize:])
	mem.WriteUint32Le(neventsAt, nevents)
	return errnoSuccess
}

// clockWait returns how long the clock subscription sub has to wait, in
// nanoseconds, or the errno for its event. An absolute deadline is compared
// with the guest's clock, read with wazero's clock_time_get into guest memory
// at scratch (8 bytes), using stack (4 slots, no longer needed) for the call.
func (p *poller) clockWait(ctx context.Context, mod api.Module, stack []uint64, sub []byte, scratch uint32) (int64, uint16) {
	id := binary.LittleEndian.Uint32(sub[16:])
	timeout := binary.LittleEndian.Uint64(sub[24:])
	flags := binary.LittleEndian.Uint16(sub[40:])
	if id != clockRealtime && id != clockMonotonic || flags&^subclockAbstime != 0 {
		return 0, errnoInval
	}
	if flags&subclockAbstime != 0 {
		stack[0], stack[1], stack[2] = uint64(id), 0, uint64(scratch)
		p.clockTimeGet.Call(ctx, mod, stack)
		if errno := uint16(stack[0]); errno != errnoSuccess {
			return 0, errno
		}
		now, _ := mod.Memory().ReadUint64Le(scratch)
		if timeout <= now {
			return 0, errnoSuccess
		}
		timeout -= now
	}
	return int64(min(timeout, math.MaxInt64)), errnoSuccess
}

// sleep waits for d and returns true, or returns false as soon as the
// request in ctx is cancelled: when Exchange.Done or ctx.Done() is closed.
func sleep(ctx context.Context, d time.Duration) bool {
	e, _ := ctx.Value(exchangeKey{}).(*Exchange)
	var done <-chan struct{}
	if e != nil {
		done = e.Done
	}
	ctxDone := ctx.Done()
	if done == nil && ctxDone == nil {
		time.Sleep(d)
		return true
	}
	var t *time.Timer
	switch {
	case e == nil:
		t = time.NewTimer(d)
	case e.timer == nil:
		e.timer = time.NewTimer(d)
		t = e.timer
	default:
		t = e.timer
		t.Reset(d)
	}
	defer t.Stop() // since Go 1.23, t.C then holds no stale value for the next Reset
	select {
	case <-t.C:
		return true
	case <-done:
	case <-ctxDone:
	}
	return false
}
