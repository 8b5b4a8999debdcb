package host

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// newPoll returns the poll_oneoff that InstantiateWASI registers, a guest
// with real clocks to call it against, and a function reading the guest's
// clocks as it does (with clock_time_get).
func newPoll(t testing.TB) (poll api.GoModuleFunc, mod api.Module, now func(clock uint32) uint64) {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	wasi, err := InstantiateWASI(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	defs := wasi.ExportedFunctionDefinitions()
	poll = defs[wasiPollOneoff].GoFunction().(api.GoModuleFunction).Call
	clockTimeGet := defs[wasiClockTimeGet].GoFunction().(api.GoModuleFunction)
	mod, err = r.InstantiateWithConfig(ctx, memoryModule, wazero.NewModuleConfig().WithSysWalltime().WithSysNanotime())
	if err != nil {
		t.Fatal(err)
	}
	now = func(clock uint32) uint64 {
		stack := []uint64{uint64(clock), 0, memSize - 8}
		clockTimeGet.Call(ctx, mod, stack)
		v, _ := mod.Memory().ReadUint64Le(memSize - 8)
		if stack[0] != errnoSuccess {
			return 0 // an invalid clock
		}
		return v
	}
	return poll, mod, now
}

// sub is a subscription as a test writes it.
type sub struct {
	userdata uint64
	tag      byte
	id       uint32 // clock id or fd
	timeout  int64  // ns; with the abstime flag, relative to the guest's clock
	flags    uint16
}

func clock(userdata uint64, id uint32, timeout time.Duration) sub {
	return sub{userdata: userdata, tag: eventtypeClock, id: id, timeout: int64(timeout)}
}

func clockAt(userdata uint64, id uint32, fromNow time.Duration) sub {
	return sub{userdata: userdata, tag: eventtypeClock, id: id, timeout: int64(fromNow), flags: subclockAbstime}
}

// encode lays subs out as poll_oneoff reads them.
func encode(subs []sub, now func(clock uint32) uint64) []byte {
	var b []byte
	for _, s := range subs {
		e := make([]byte, subscriptionSize)
		binary.LittleEndian.PutUint64(e, s.userdata)
		e[8] = s.tag
		binary.LittleEndian.PutUint32(e[16:], s.id)
		timeout := uint64(s.timeout)
		if s.flags&subclockAbstime != 0 {
			timeout = now(s.id) + uint64(s.timeout)
		}
		binary.LittleEndian.PutUint64(e[24:], timeout)
		binary.LittleEndian.PutUint64(e[32:], 1000) // precision, ignored
		binary.LittleEndian.PutUint16(e[40:], s.flags)
		b = append(b, e...)
	}
	return b
}

// event is an event as a test expects it.
type event struct {
	userdata uint64
	errno    uint16
	tag      byte
}

// encodeEvents lays events out as poll_oneoff writes them to room for n.
func encodeEvents(events []event, n int) []byte {
	b := make([]byte, n*eventSize)
	for i, e := range events {
		binary.LittleEndian.PutUint64(b[i*eventSize:], e.userdata)
		binary.LittleEndian.PutUint16(b[i*eventSize+8:], e.errno)
		b[i*eventSize+10] = e.tag
	}
	return b
}

// Ways to call poll_oneoff.
const (
	withDone    = iota // an Exchange with a Done channel, closed after cancel (else after 5s, to fail rather than hang)
	withoutDone        // an Exchange, Done nil: never cancelled
	noExchange         // no Exchange; ctx has a deadline after cancel
)

func TestPollOneoff(t *testing.T) {
	const (
		in, out, nevents = 0x100, 0x1000, 0x2000
		realtime, mono   = clockRealtime, clockMonotonic
		clockT, readT    = eventtypeClock, eventtypeFdRead
		writeT           = eventtypeFdWrite
		hour             = time.Hour
	)
	tests := []struct {
		name   string
		subs   []sub
		args   []uint32 // in, out, nsubscriptions, result.nevents; default for subs
		how    int
		cancel time.Duration // > 0: after this; < 0: before the call

		errno   uint32
		events  []event       // with errno 0
		minWait time.Duration // lower bound of the call's duration
		exit    uint32        // with cancel: the exit code the call panics with
	}{
		{
			name:    "relative monotonic sleep",
			subs:    []sub{clock(7, mono, 5*time.Millisecond)},
			events:  []event{{7, 0, clockT}},
			minWait: 5 * time.Millisecond,
		},
		{
			name:    "relative realtime sleep, no Done to watch",
			subs:    []sub{clock(7, realtime, 2*time.Millisecond)},
			how:     withoutDone,
			events:  []event{{7, 0, clockT}},
			minWait: 2 * time.Millisecond,
		},
		{
			name:    "relative sleep without an Exchange",
			subs:    []sub{clock(7, mono, 2*time.Millisecond)},
			how:     noExchange,
			events:  []event{{7, 0, clockT}},
			minWait: 2 * time.Millisecond,
		},
		{
			name:   "zero timeout",
			subs:   []sub{clock(7, mono, 0)},
			events: []event{{7, 0, clockT}},
		},
		{
			// As a relative timeout, this would sleep for decades.
			name:   "absolute realtime in the past",
			subs:   []sub{clockAt(7, realtime, -hour)},
			events: []event{{7, 0, clockT}},
		},
		{
			name:   "absolute monotonic in the past",
			subs:   []sub{clockAt(7, mono, -time.Millisecond)},
			events: []event{{7, 0, clockT}},
		},
		{
			name:    "absolute realtime ahead",
			subs:    []sub{clockAt(7, realtime, 5*time.Millisecond)},
			events:  []event{{7, 0, clockT}},
			minWait: 5 * time.Millisecond,
		},
		{
			name:    "absolute monotonic ahead",
			subs:    []sub{clockAt(7, mono, 5*time.Millisecond)},
			events:  []event{{7, 0, clockT}},
			minWait: 5 * time.Millisecond,
		},
		{
			name:    "the earliest clock is reported",
			subs:    []sub{clock(1, mono, hour), clock(2, mono, 5*time.Millisecond), clockAt(3, realtime, hour)},
			events:  []event{{2, 0, clockT}},
			minWait: 5 * time.Millisecond,
		},
		{
			name:   "clocks due together",
			subs:   []sub{clock(1, mono, 0), clock(2, realtime, hour), clockAt(3, realtime, -hour)},
			events: []event{{1, 0, clockT}, {3, 0, clockT}},
		},
		{
			name: "stdio is ready at once, a clock not due is not reported",
			subs: []sub{
				clock(1, mono, hour),
				{userdata: 2, tag: eventtypeFdRead, id: 0},
				{userdata: 3, tag: eventtypeFdWrite, id: 1},
				{userdata: 4, tag: eventtypeFdWrite, id: 2},
			},
			events: []event{{2, 0, readT}, {3, 0, writeT}, {4, 0, writeT}},
		},
		{
			name:   "stdio with a clock due",
			subs:   []sub{{userdata: 1, tag: eventtypeFdWrite, id: 1}, clock(2, mono, 0)},
			events: []event{{1, 0, writeT}, {2, 0, clockT}},
		},
		{
			name: "bad descriptors",
			subs: []sub{
				{userdata: 1, tag: eventtypeFdRead, id: 3},
				{userdata: 2, tag: eventtypeFdWrite, id: 0xFFFFFFFF}, // -1
				clock(3, mono, hour),
			},
			events: []event{{1, errnoBadf, readT}, {2, errnoBadf, writeT}},
		},
		{
			name:   "unknown tag",
			subs:   []sub{{userdata: 1, tag: 3}, {userdata: 2, tag: 0xFF}},
			events: []event{{1, errnoInval, 3}, {2, errnoInval, 0xFF}},
		},
		{
			name: "bad clocks",
			subs: []sub{
				clock(1, 2, 0), // process CPU time
				clockAt(2, 3, 0),
				{userdata: 3, tag: eventtypeClock, id: mono, flags: 2},
				{userdata: 4, tag: eventtypeClock, id: mono, flags: 3},
				clock(5, mono, hour),
			},
			events: []event{{1, errnoInval, clockT}, {2, errnoInval, clockT}, {3, errnoInval, clockT}, {4, errnoInval, clockT}},
		},
		{
			name:  "no subscription",
			args:  []uint32{in, out, 0, nevents},
			errno: errnoInval,
		},
		{
			name:  "in outside memory",
			subs:  []sub{clock(1, mono, 0)},
			args:  []uint32{memSize - subscriptionSize + 1, out, 1, nevents},
			errno: errnoFault,
		},
		{
			name:  "out outside memory",
			subs:  []sub{clock(1, mono, 0), clock(2, mono, 0)},
			args:  []uint32{in, memSize - 2*eventSize + 1, 2, nevents},
			errno: errnoFault,
		},
		{
			name:  "result.nevents outside memory",
			subs:  []sub{clock(1, mono, 0)},
			args:  []uint32{in, out, 1, memSize - 3},
			errno: errnoFault,
		},
		{
			name:  "nsubscriptions*48 overflows 32 bits",
			subs:  []sub{clock(1, mono, 0)},
			args:  []uint32{in, out, 0x5555556, nevents}, // *48 = 0x1_0000_0020
			errno: errnoFault,
		},
		{
			name:  "nsubscriptions max",
			args:  []uint32{0, 0, math.MaxUint32, nevents},
			errno: errnoFault,
		},
		{
			name:   "buffers up to the end of memory",
			subs:   []sub{clock(1, mono, 0)},
			args:   []uint32{memSize - subscriptionSize - eventSize - 4, memSize - eventSize - 4, 1, memSize - 4},
			events: []event{{1, 0, clockT}},
		},
		{
			name:    "cancelled: Done closed during a one-hour sleep",
			subs:    []sub{clock(1, mono, hour), clock(2, mono, 2*hour)},
			cancel:  20 * time.Millisecond,
			minWait: 20 * time.Millisecond,
			exit:    sys.ExitCodeContextCanceled,
		},
		{
			// As a time.Duration, the timeout is -1ns.
			name:    "cancelled: the longest relative sleep",
			subs:    []sub{{userdata: 1, tag: eventtypeClock, id: mono, timeout: -1}},
			cancel:  20 * time.Millisecond,
			minWait: 20 * time.Millisecond,
			exit:    sys.ExitCodeContextCanceled,
		},
		{
			name:    "cancelled: the context's deadline, without an Exchange",
			subs:    []sub{clockAt(1, realtime, hour)},
			how:     noExchange,
			cancel:  20 * time.Millisecond,
			minWait: 20 * time.Millisecond,
			exit:    sys.ExitCodeDeadlineExceeded,
		},
		{
			name:   "cancelled before the call",
			subs:   []sub{clock(1, mono, hour)},
			cancel: -1,
			exit:   sys.ExitCodeContextCanceled,
		},
		{
			name:   "cancelled before the call, nothing to wait for",
			subs:   []sub{clock(1, mono, hour), clock(2, mono, 0)},
			cancel: -1,
			events: []event{{2, 0, clockT}},
		},
	}
	poll, mod, now := newPoll(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args == nil {
				args = []uint32{in, out, uint32(len(tc.subs)), nevents}
			}
			start := time.Now() // before reading the guest's clock for absolute times
			subs := encode(tc.subs, now)
			var regions []region
			if uint64(args[0])+uint64(len(subs)) <= memSize {
				regions = append(regions, region{args[0], subs})
			}
			reset(mod, regions...)

			ctx := context.Background()
			done := make(chan struct{})
			var cancel func()
			switch tc.how {
			case withDone:
				e := NewExchange(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), nil)
				e.Done = done
				ctx, cancel = WithExchange(ctx, e), func() { close(done) }
			case withoutDone:
				ctx = WithExchange(ctx, NewExchange(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), nil))
			case noExchange:
				if tc.cancel != 0 {
					var stop context.CancelFunc
					ctx, stop = context.WithTimeout(ctx, max(tc.cancel, 0))
					defer stop()
				}
			}
			switch {
			case tc.cancel < 0 && cancel != nil:
				cancel()
			case tc.cancel > 0 && cancel != nil:
				defer time.AfterFunc(tc.cancel, cancel).Stop()
			case cancel != nil:
				defer time.AfterFunc(5*time.Second, cancel).Stop()
			}

			got, err := callExit(ctx, poll, mod, args...)
			elapsed := time.Since(start)

			if tc.exit != 0 {
				var exit *sys.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != tc.exit {
					t.Fatalf("returned %d, error %v; want exit code %#x", got, err, tc.exit)
				}
				// out is scratch space until the sleep; nothing else changes.
				checkMemory(t, mod, append(regions, outRegion(mod, args[1], args[2]))...)
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.errno {
					t.Errorf("errno %d, want %d", got, tc.errno)
				}
				if tc.errno == errnoSuccess {
					var n [4]byte
					binary.LittleEndian.PutUint32(n[:], uint32(len(tc.events)))
					regions = append(regions, region{args[1], encodeEvents(tc.events, int(args[2]))}, region{args[3], n[:]})
				}
				checkMemory(t, mod, regions...)
			}
			if elapsed < tc.minWait {
				t.Errorf("returned after %v, want at least %v", elapsed, tc.minWait)
			}
			// Timing with a huge margin: a sleep that should not happen or
			// that should have been cancelled lasts an hour.
			if limit := tc.minWait + time.Second; elapsed > limit {
				t.Errorf("returned after %v, want at most %v", elapsed, limit)
			}
		})
	}
}

// outRegion is the region of room for n events at out as it is now.
func outRegion(mod api.Module, out, n uint32) region {
	b, _ := mod.Memory().Read(out, n*eventSize)
	return region{out, bytes.Clone(b)}
}

// callExit calls the WASI function fn as wazero would, returning its errno,
// or the *sys.ExitError it panicked with. Any other panic fails the test.
func callExit(ctx context.Context, fn api.GoModuleFunc, mod api.Module, args ...uint32) (errno uint32, err error) {
	stack := make([]uint64, max(len(args), 1))
	for i, a := range args {
		stack[i] = api.EncodeU32(a)
	}
	defer func() {
		if r := recover(); r != nil {
			exit, ok := r.(*sys.ExitError)
			if !ok {
				panic(r)
			}
			err = exit
		}
	}()
	fn(ctx, mod, stack)
	return api.DecodeU32(stack[0]), nil
}

// TestPollOneoffClosed closes the module while it sleeps, as a runtime
// stopping the guest would: when the sleep ends, poll_oneoff does not touch
// memory and ends the call.
func TestPollOneoffClosed(t *testing.T) {
	poll, mod, now := newPoll(t)
	subs := encode([]sub{clock(1, clockMonotonic, 30*time.Millisecond)}, now)
	reset(mod, region{0x100, subs})
	time.AfterFunc(10*time.Millisecond, func() { mod.CloseWithExitCode(context.Background(), 99) })
	_, err := callExit(context.Background(), poll, mod, 0x100, 0x1000, 1, 0x2000)
	var exit *sys.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != sys.ExitCodeContextCanceled {
		t.Errorf("got error %v, want exit code %#x", err, sys.ExitCodeContextCanceled)
	}
	checkMemory(t, mod, region{0x100, subs}, outRegion(mod, 0x1000, 1)) // no result.nevents
}

// TestPollOneoffAllocs holds the promise that poll_oneoff allocates nothing:
// not for a poll that does not sleep, nor for a sleep once the Exchange has
// its timer.
func TestPollOneoffAllocs(t *testing.T) {
	poll, mod, now := newPoll(t)
	e := NewExchange(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), nil)
	e.Done = make(chan struct{})
	ctx := WithExchange(context.Background(), e)
	stack := make([]uint64, 4)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		subs []sub
	}{
		{"zero timeout", context.Background(), []sub{clock(1, clockMonotonic, 0)}},
		{"zero timeout, exchange", ctx, []sub{clock(1, clockMonotonic, 0)}},
		{"absolute, past", ctx, []sub{clockAt(1, clockRealtime, -time.Hour)}},
		{"stdio", ctx, []sub{{userdata: 1, tag: eventtypeFdWrite, id: 1}, clock(2, clockMonotonic, time.Hour)}},
		{"1µs sleep, exchange with Done", ctx, []sub{clock(1, clockMonotonic, time.Microsecond)}},
		{"1µs sleep, no Done", context.Background(), []sub{clock(1, clockMonotonic, time.Microsecond)}},
	} {
		reset(mod, region{0x100, encode(tc.subs, now)})
		args := []uint64{0x100, 0x1000, uint64(len(tc.subs)), 0x2000}
		copy(stack, args)
		poll(tc.ctx, mod, stack) // makes the timer
		allocs := testing.AllocsPerRun(100, func() {
			copy(stack, args)
			poll(tc.ctx, mod, stack)
		})
		if allocs != 0 || stack[0] != errnoSuccess {
			t.Errorf("%s: errno %d, %v allocations per call, want 0 and 0", tc.name, stack[0], allocs)
		}
	}
}

// TestInstantiateWASI checks that InstantiateWASI exports what wazero's
// wasi_snapshot_preview1.Instantiate does, in the same order and with the
// same types, and that only poll_oneoff is replaced.
func TestInstantiateWASI(t *testing.T) {
	ctx := context.Background()
	list := func(mod api.Module) []string {
		defs := mod.ExportedFunctionDefinitions()
		names := make([]string, len(defs))
		for name, d := range defs {
			names[d.Index()] = fmt.Sprintf("%s%v%v->%v%v", name, d.ParamNames(), d.ParamTypes(), d.ResultNames(), d.ResultTypes())
		}
		return names
	}
	stock := wazero.NewRuntime(ctx)
	defer stock.Close(ctx)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, stock); err != nil {
		t.Fatal(err)
	}
	want := stock.Module(wasi_snapshot_preview1.ModuleName)
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	got, err := InstantiateWASI(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name() != want.Name() {
		t.Errorf("module name %q, want %q", got.Name(), want.Name())
	}
	if diff := cmp.Diff(list(want), list(got)); diff != "" {
		t.Errorf("exported functions (-want +got):\n%s", diff)
	}
	stockDefs := want.ExportedFunctionDefinitions()
	for name, d := range got.ExportedFunctionDefinitions() {
		// wazero implements most WASI functions with a type of its own.
		same := reflect.TypeOf(d.GoFunction()) == reflect.TypeOf(stockDefs[name].GoFunction())
		if replaced := name == wasiPollOneoff || name == wasiSchedYield; same == replaced {
			t.Errorf("%s: implemented as %T, wazero's as %T", name, d.GoFunction(), stockDefs[name].GoFunction())
		}
	}
	if _, err := InstantiateWASI(ctx, r); err == nil {
		t.Errorf("a second InstantiateWASI in one runtime succeeded")
	}
}

// TestSchedYield checks that sched_yield returns success, and ends the call
// of a request that must stop with the exit code of its context's end.
func TestSchedYield(t *testing.T) {
	call := func(ctx context.Context) (errno uint64, exit *sys.ExitError) {
		defer func() {
			if r := recover(); r != nil {
				exit = r.(*sys.ExitError)
			}
		}()
		stack := []uint64{99}
		schedYield(ctx, nil, stack)
		return stack[0], nil
	}
	if errno, exit := call(context.Background()); errno != 0 || exit != nil {
		t.Errorf("outside a request: errno %d, exit %v; want 0", errno, exit)
	}
	live := &Exchange{Done: make(chan struct{})}
	if errno, exit := call(WithExchange(context.Background(), live)); errno != 0 || exit != nil {
		t.Errorf("live request: errno %d, exit %v; want 0", errno, exit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	stopped := &Exchange{Done: ctx.Done()}
	if _, exit := call(WithExchange(ctx, stopped)); exit == nil || exit.ExitCode() != sys.ExitCodeDeadlineExceeded {
		t.Errorf("request past its deadline: exit %v, want code %d", exit, sys.ExitCodeDeadlineExceeded)
	}
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, exit := call(canceled); exit == nil || exit.ExitCode() != sys.ExitCodeContextCanceled {
		t.Errorf("cancelled context without a request: exit %v, want code %d", exit, sys.ExitCodeContextCanceled)
	}
}
