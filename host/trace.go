package host

import (
	"net/http"
)

// This file passes W3C Trace Context on: the traceparent (and tracestate)
// of the request a guest serves goes onto the guest's outbound requests,
// unless the guest set its own. See https://www.w3.org/TR/trace-context/.

// maxTracestate bounds the tracestate passed on: the specification's
// 32 members of at most 256 characters fit in far less in practice, and a
// client's header of a megabyte is no trace's state.
const maxTracestate = 512

// ValidTraceparent reports whether v is a traceparent header of version 00
// as W3C Trace Context level 1 defines it: "00-", 32 lowercase hex digits
// of trace-id, "-", 16 of parent-id, "-", 2 of flags, where neither id is
// all zeros. Other versions are not understood, so not valid.
//
// Example: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
func ValidTraceparent(v string) bool {
	if len(v) != 55 || v[0] != '0' || v[1] != '0' || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return false
	}
	return lowerHex(v[3:35]) && lowerHex(v[36:52]) && lowerHex(v[53:55]) &&
		!allZeros(v[3:35]) && !allZeros(v[36:52])
}

// TraceID returns the trace-id of a valid traceparent v.
func TraceID(v string) string { return v[3:35] }

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func allZeros(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// traceparent returns h's traceparent if h holds exactly one, valid.
func traceparent(h http.Header) (string, bool) {
	v := h["Traceparent"]
	if len(v) != 1 || !ValidTraceparent(v[0]) {
		return "", false
	}
	return v[0], true
}

// propagateTrace adds the served request's traceparent and tracestate to
// out, the header of a guest's outbound request, unless the guest set a
// traceparent of its own: its trace, or its own span, wins.
func (e *Exchange) propagateTrace(out http.Header) {
	if e.r == nil {
		return
	}
	if _, ok := out["Traceparent"]; ok {
		return
	}
	tp, ok := traceparent(e.r.Header)
	if !ok {
		return
	}
	out["Traceparent"] = []string{tp}
	delete(out, "Tracestate") // a guest's state of another trace
	if ts := e.r.Header["Tracestate"]; len(ts) == 1 && len(ts[0]) <= maxTracestate {
		out["Tracestate"] = []string{ts[0]}
	}
}
