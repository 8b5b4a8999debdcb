package abi

import (
	"fmt"
	"strings"
	"testing"
)

func TestValidHeader(t *testing.T) {
	names := map[string]bool{
		"content-type": true, "X-Demo": true, "a!#$%&'*+-.^_`|~9": true,
		"": false, "bad name": false, "a:b": false, "é": false, "a\x00": false, "(x)": false,
	}
	for name, want := range names {
		if got := ValidHeaderName(name); got != want {
			t.Errorf("ValidHeaderName(%q) = %v, want %v", name, got, want)
		}
		if got := ValidHeaderName([]byte(name)); got != want {
			t.Errorf("ValidHeaderName([]byte(%q)) = %v, want %v", name, got, want)
		}
	}
	values := map[string]bool{
		"": true, "text/html; charset=utf-8": true, "a\tb": true, "café": true,
		"a\rb": false, "a\nb": false, "a\x00b": false, "a\x7fb": false, "\x1f": false,
	}
	for value, want := range values {
		if got := ValidHeaderValue(value); got != want {
			t.Errorf("ValidHeaderValue(%q) = %v, want %v", value, got, want)
		}
	}
}

func TestList(t *testing.T) {
	items := []string{"", "a", "text/html", string(make([]byte, 300))}
	var list []byte
	for _, it := range items {
		list = AppendItem(list, it)
	}
	var got []string
	for rest := list; len(rest) > 0; {
		item, r, ok := NextItem(rest)
		if !ok {
			t.Fatalf("NextItem failed on %q", rest)
		}
		got, rest = append(got, string(item)), r
	}
	if fmt.Sprint(got) != fmt.Sprint(items) {
		t.Errorf("round trip = %q, want %q", got, items)
	}
	for _, bad := range [][]byte{{1, 0, 0}, {5, 0, 0, 0, 'a'}, {0xff, 0xff, 0xff, 0xff}} {
		if _, _, ok := NextItem(bad); ok {
			t.Errorf("NextItem(%v) ok, want malformed", bad)
		}
	}
}

func ExampleAppendItem() {
	list := AppendItem(nil, "text/html")
	list = AppendItem(list, "*/*")
	fmt.Printf("% x\n", list)
	// Output: 09 00 00 00 74 65 78 74 2f 68 74 6d 6c 03 00 00 00 2a 2f 2a
}

func TestIsExtraMethod(t *testing.T) {
	for name, want := range map[string]bool{
		"QUERY": true, "PROPFIND": true, "MKCOL": true, "M-SEARCH": true, "BASELINE-CONTROL": true, "X1": true,
		"GET": false, "POST": false, // standard: not extra
		"CONNECT": false, "TRACE": false, "TRACK": false, // never served
		"query": false, "Query": false, "get": false, "default": false, "_initialize": false, "_START": false,
		"1X": false, "": false, "MK COL": false, "MK/COL": false, "wasmroute.deep": false,
		strings.Repeat("A", MaxMethodLen): true, strings.Repeat("A", MaxMethodLen+1): false,
	} {
		if got := IsExtraMethod(name); got != want {
			t.Errorf("IsExtraMethod(%q) = %v, want %v", name, got, want)
		}
	}
}
