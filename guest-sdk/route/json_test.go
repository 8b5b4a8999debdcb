package route

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// encodingJSON is what JSON wrote before appendJSON: encoding/json without
// HTML escaping or the trailing newline.
func encodingJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), err
}

func checkAppendJSON(t *testing.T, v any) {
	t.Helper()
	got, ok := appendJSON(nil, v)
	want, err := encodingJSON(v)
	switch {
	case !ok && err == nil:
		t.Errorf("appendJSON(%#v) declined; encoding/json gives %s", v, want)
	case ok && err != nil:
		t.Errorf("appendJSON(%#v) = %s; encoding/json fails: %v", v, got, err)
	case ok && !bytes.Equal(got, want):
		t.Errorf("appendJSON(%#v) = %s, want %s", v, got, want)
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, v := range []any{
		nil, true, false, "", "hello", "<&> \"quoted\" back\\slash", "\x00\x01\b\f\n\r\t\x1f\x7f",
		"\u2028\u2029 é 日本 🎉", "bad \xff utf-8 \xe2\x82", "\ufffd",
		0, -1, math.MaxInt64, math.MinInt64, int8(-8), int16(16), int32(-32), uint(1), uint8(8), uint16(16), uint32(32), uint64(math.MaxUint64),
		0.0, math.Copysign(0, -1), 1.5, -123.456, 1e-6, 1e-7, 9.99e-7, 1e20, 1e21, 1.23e-100, 5e-324, math.MaxFloat64,
		float32(0.1), float32(1e-7), float32(1e21), float32(math.MaxFloat32), float32(3.4e-45),
		map[string]string{"message": "hello", "b": "2", "a": "1", "\n": "key escaped"},
		map[string]string{}, map[string]string(nil),
		map[string]any{"n": 1, "list": []any{1, "two", 3.5, nil, true, map[string]any{}}, "nested": map[string]any{"z": []string{"x"}}},
		map[string]any(nil), []any(nil), []any{}, []string(nil), []string{"a", "b"},
	} {
		checkAppendJSON(t, v)
	}
	// Types it leaves to encoding/json, alone or nested.
	for _, v := range []any{
		struct{ A int }{1}, map[string]int{"a": 1}, []int{1}, map[string]any{"f": func() {}}, []any{math.NaN()},
		math.Inf(1), float32(math.Inf(-1)), json.Number("1"), &struct{}{},
	} {
		if got, ok := appendJSON(nil, v); ok {
			t.Errorf("appendJSON(%#v) = %s, want it left to encoding/json", v, got)
		}
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("hello", 1.5, int64(7))
	f.Add("\u2028\xff\x00\"\\", 1e-7, int64(-1))
	f.Fuzz(func(t *testing.T, s string, x float64, n int64) {
		checkAppendJSON(t, s)
		checkAppendJSON(t, x)
		checkAppendJSON(t, float32(x))
		checkAppendJSON(t, map[string]any{s: []any{s, x, n, nil}, "k": map[string]string{s: s}})
	})
}
