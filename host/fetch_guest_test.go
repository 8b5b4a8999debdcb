package host_test

import (
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/host"
	"github.com/wasmroute/wasmroute/internal/outbound"
)

// TestFetchGuest runs a guest whose GET makes one blocking fetch, as
// ABI.md says a guest does (start, poll, head, poll, read), and answers
// with the body it read.
func TestFetchGuest(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "from upstream")
	}))
	defer upstream.Close()
	p, err := outbound.Parse([]string{"http://127.0.0.1:*"}, "wasmroute.json")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	imports := []string{abi.FuncFetchStart, abi.FuncFetchPoll, abi.FuncFetchHead, abi.FuncFetchBodyRead, abi.FuncFetchClose, abi.FuncBodyWrite}
	const start, poll, head, read, closeFn, bodyWrite = 0, 1, 2, 3, 4, 5
	req := abi.AppendItem(abi.AppendItem(nil, "GET"), upstream.URL+"/")
	handles := int32(len(req)) // the handle list: [1]
	data := string(binary.LittleEndian.AppendUint32(req, 1))
	load := func(addr int32) []byte { return cat(i32(addr), []byte{0x28, 0x02, 0x00}) } // i32.load
	bin := guest(imports, data,
		store(0x100, i32(0), i32(handles), i32(0), i32(0), i32(0), call(start)),
		store(0x104, i32(handles), i32(1), i32(-1), call(poll)),
		store(0x108, i32(1), i32(0x400), i32(0x400), call(head)),
		store(0x10c, i32(handles), i32(1), i32(-1), call(poll)),
		store(0x110, i32(1), i32(0x800), i32(0x100), call(read)),
		store(0x114, i32(0x800), load(0x110), call(bodyWrite)),
		store(0x118, i32(1), call(closeFn)),
	)
	mod, get := instantiate(t, bin)
	rec := httptest.NewRecorder()
	e := host.NewExchange(rec, httptest.NewRequest("GET", "/", nil), nil)
	e.Outbound = &host.Outbound{Client: p.Client(), Allow: p.Allow}
	_, err = get.Call(host.WithExchange(context.Background(), e))
	e.End()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := rec.Body.String(); got != "from upstream" {
		t.Errorf("body %q, want %q", got, "from upstream")
	}
	var results []int32
	for i := range 7 {
		v, _ := mod.Memory().ReadUint32Le(0x100 + 4*uint32(i))
		results = append(results, int32(v))
	}
	if results[0] != 1 || results[1] != 0 || results[2] <= 0 || results[3] != 0 || results[4] != int32(len("from upstream")) || results[5] != 0 || results[6] != 0 {
		t.Errorf("results of fetch_start, poll, head, poll, body_read, body_write, close: %v", results)
	}
}
