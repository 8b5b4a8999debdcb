package route

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// appendJSON appends v as encoding/json encodes it with HTML escaping off,
// for the types handlers pass most (maps of strings or of any, slices,
// strings, numbers, booleans, nil), without reflection. For any other type,
// anywhere in v, it reports false and JSON falls back to encoding/json.
//
// The point is speed where it is scarce: compiled to WebAssembly,
// encoding/json takes ~18 µs for a one-key map, and on a fresh instance
// (request isolation) it first builds its encoder for the type, ~140 µs.
func appendJSON(b []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendJSONString(b, v), true
	case bool:
		return strconv.AppendBool(b, v), true
	case int:
		return strconv.AppendInt(b, int64(v), 10), true
	case int8:
		return strconv.AppendInt(b, int64(v), 10), true
	case int16:
		return strconv.AppendInt(b, int64(v), 10), true
	case int32:
		return strconv.AppendInt(b, int64(v), 10), true
	case int64:
		return strconv.AppendInt(b, v, 10), true
	case uint:
		return strconv.AppendUint(b, uint64(v), 10), true
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10), true
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10), true
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10), true
	case uint64:
		return strconv.AppendUint(b, v, 10), true
	case float64:
		return appendJSONFloat(b, v, 64)
	case float32:
		return appendJSONFloat(b, float64(v), 32)
	case map[string]string:
		if v == nil {
			return append(b, "null"...), true
		}
		return appendJSONStringMap(b, v), true
	case map[string]any:
		if v == nil {
			return append(b, "null"...), true
		}
		return appendJSONMap(b, v, appendJSON)
	case []string:
		if v == nil {
			return append(b, "null"...), true
		}
		return appendJSONSlice(b, v, func(b []byte, s string) ([]byte, bool) { return appendJSONString(b, s), true })
	case []any:
		if v == nil {
			return append(b, "null"...), true
		}
		return appendJSONSlice(b, v, appendJSON)
	}
	return b, false
}

func appendJSONMap[V any](b []byte, m map[string]V, value func([]byte, V) ([]byte, bool)) ([]byte, bool) {
	// The entries are taken in one pass and sorted by key, rather than the
	// keys sorted and each value looked up again: a lookup hashes its key,
	// which compiled to WebAssembly is a good part of a small map's cost.
	var small [16]jsonEntry[V] // most maps a handler answers are small: no allocation
	entries := small[:0]
	for k, v := range m {
		entries = append(entries, jsonEntry[V]{k, v})
	}
	if len(entries) > 1 {
		slices.SortFunc(entries, func(a, b jsonEntry[V]) int { return strings.Compare(a.key, b.key) })
	}
	b = append(b, '{')
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendJSONString(b, e.key), ':')
		var ok bool
		if b, ok = value(b, e.value); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendJSONStringMap is appendJSONMap for the map handlers answer most,
// without its indirect call per value.
func appendJSONStringMap(b []byte, m map[string]string) []byte {
	var small [8]jsonEntry[string]
	entries := small[:0]
	for k, v := range m {
		entries = append(entries, jsonEntry[string]{k, v})
	}
	if len(entries) > 1 {
		slices.SortFunc(entries, func(a, b jsonEntry[string]) int { return strings.Compare(a.key, b.key) })
	}
	b = append(b, '{')
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(append(appendJSONString(b, e.key), ':'), e.value)
	}
	return append(b, '}')
}

// jsonEntry is one entry of a map being encoded.
type jsonEntry[V any] struct {
	key   string
	value V
}

func appendJSONSlice[V any](b []byte, s []V, value func([]byte, V) ([]byte, bool)) ([]byte, bool) {
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = value(b, v); !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}

// appendJSONFloat formats f like encoding/json: as ECMAScript does, with no
// exponent between 1e-6 and 1e21. NaN and infinities are not JSON: false,
// so that encoding/json reports them.
func appendJSONFloat(b []byte, f float64, bits int) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1] // e-07 → e-7
		b = b[:n-1]
	}
	return b, true
}

// appendJSONString quotes s like encoding/json without HTML escaping:
// control characters, quote and backslash escaped, invalid UTF-8 as
// U+FFFD, and U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(b, s[start:]...), '"')
}
