package host

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidTraceparent(t *testing.T) {
	const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{valid, true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true}, // not sampled
		{"", false},
		{valid[:54], false},
		{valid + "-", false}, // version 00 has no more fields
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false}, // a version not understood
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false}, // all-zero trace-id
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false}, // all-zero parent-id
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false}, // upper case
		{"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", false},
		{"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x", false},
	} {
		if got := ValidTraceparent(tc.v); got != tc.want {
			t.Errorf("ValidTraceparent(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// TestPropagateTrace: what goes onto a guest's outbound request, from the
// request it serves and the headers it set.
func TestPropagateTrace(t *testing.T) {
	const (
		in  = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	)
	long := make([]byte, maxTracestate+1)
	for i := range long {
		long[i] = 'a'
	}
	for _, tc := range []struct {
		name          string
		served, guest http.Header
		want          http.Header
	}{
		{"passed on", http.Header{"Traceparent": {in}, "Tracestate": {"a=1"}}, http.Header{}, http.Header{"Traceparent": {in}, "Tracestate": {"a=1"}}},
		{"the guest's own", http.Header{"Traceparent": {in}, "Tracestate": {"a=1"}}, http.Header{"Traceparent": {own}}, http.Header{"Traceparent": {own}}},
		{"the guest's tracestate, of no trace", http.Header{"Traceparent": {in}}, http.Header{"Tracestate": {"g=2"}}, http.Header{"Traceparent": {in}}},
		{"none", http.Header{}, http.Header{}, http.Header{}},
		{"invalid", http.Header{"Traceparent": {in[:54]}, "Tracestate": {"a=1"}}, http.Header{}, http.Header{}},
		{"two", http.Header{"Traceparent": {in, in}}, http.Header{}, http.Header{}},
		{"a tracestate too long", http.Header{"Traceparent": {in}, "Tracestate": {string(long)}}, http.Header{}, http.Header{"Traceparent": {in}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewExchange(nil, &http.Request{Header: tc.served}, nil)
			e.propagateTrace(tc.guest)
			if diff := cmp.Diff(tc.want, tc.guest); diff != "" {
				t.Errorf("outbound header (-want +got):\n%s", diff)
			}
		})
	}
}
