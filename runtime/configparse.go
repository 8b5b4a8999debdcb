package runtime

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxConfigProblems is how many problems of one config file are listed: a
// hostile file of a million unknown keys gets a line saying how many more.
const maxConfigProblems = 20

// jsonFile is a config file's content, for messages that point into it.
type jsonFile struct {
	name string
	data []byte
}

// at is "name:line:column" of the byte offset off (columns count
// characters, from 1).
func (f jsonFile) at(off int64) string {
	off = min(max(off, 0), int64(len(f.data)))
	before := f.data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return fmt.Sprintf("%s:%d:%d", f.name, line, col)
}

// member is one "key": value of a JSON object.
type member struct {
	key   string
	at    int64 // the key's offset in the file
	value json.RawMessage
	start int64 // the value's offset in the file
}

// object reads the JSON object at f.data[start:end], which must hold it
// alone (with white space around). The error, if any, is a syntax error
// naming the file, line and column.
func (f jsonFile) object(start, end int64) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(f.data[start:end]))
	fail := func(err error) error {
		off := start + dec.InputOffset()
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			off = start + max(se.Offset, dec.InputOffset())
			return fmt.Errorf("%s: JSON syntax error: %s", f.at(off), se.Error())
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("%s: JSON syntax error: unexpected end of file", f.at(end))
		}
		return fmt.Errorf("%s: %v", f.at(off), err)
	}
	// skip returns the offset of the next token after dec's position.
	skip := func() int64 {
		off := start + dec.InputOffset()
		for off < end && strings.IndexByte(" \t\r\n,:", f.data[off]) >= 0 {
			off++
		}
		return off
	}
	at := skip()
	if tok, err := dec.Token(); err != nil {
		return nil, fail(err)
	} else if tok != json.Delim('{') {
		return nil, fmt.Errorf("%s: want a JSON object ({\"key\": value, …}), got %v", f.at(at), describeToken(tok))
	}
	var members []member
	for dec.More() {
		at := skip()
		tok, err := dec.Token()
		if err != nil {
			return nil, fail(err)
		}
		key, _ := tok.(string) // the decoder allows nothing else here
		var value json.RawMessage
		vstart := skip()
		if err := dec.Decode(&value); err != nil {
			return nil, fail(err)
		}
		members = append(members, member{key: key, at: at, value: value, start: vstart})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fail(err)
	}
	if at := skip(); at < end {
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("%s: JSON syntax error: more after the object's closing brace", f.at(at))
		}
	}
	return members, nil
}

func describeToken(tok json.Token) string {
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '[' {
			return "a list"
		}
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	}
	return "a number"
}

// decodeConfig decodes the config object at f.data[start:end] into c and
// returns every problem found, each "file:line:column: message", the line
// that of the key at fault. Keys are fileConfig's fields by their json
// tags, so a field added there is read here; its checks belong in
// fileConfig.check, whose problems are placed at the key they concern.
// prefix starts every message (e.g. `tenant "acme": `).
func decodeConfig(f jsonFile, start, end int64, prefix string, routeFile bool) (c fileConfig, problems []string) {
	members, err := f.object(start, end)
	if err != nil {
		return c, []string{err.Error()}
	}
	return decodeMembers(f, members, prefix, routeFile)
}

// decodeMembers is decodeConfig of an object's members, read by f.object.
func decodeMembers(f jsonFile, members []member, prefix string, routeFile bool) (c fileConfig, problems []string) {
	fields := configFields()
	seen := map[string]bool{}
	var placed []string // the problems fileConfig.check finds key by key
	add := func(at int64, msg string) {
		problems = append(problems, fmt.Sprintf("%s: %s%s", f.at(at), prefix, msg))
	}
	cv := reflect.ValueOf(&c).Elem()
	for _, m := range members {
		i, ok := fields[m.key]
		switch {
		case !ok:
			add(m.at, unknownKey(m.key, fields))
			continue
		case seen[m.key]:
			add(m.at, fmt.Sprintf("%s: set twice", m.key))
			continue
		}
		seen[m.key] = true
		dec := json.NewDecoder(bytes.NewReader(m.value))
		dec.DisallowUnknownFields() // in nested objects too, such as cors
		if err := dec.Decode(cv.Field(i).Addr().Interface()); err != nil {
			add(m.at, fmt.Sprintf("%s: %s", m.key, valueError(err)))
			cv.Field(i).SetZero() // not half a list for later checks to trip on
			continue
		}
		if p, ok := cv.Field(i).Addr().Interface().(placedValue); ok {
			p.place(f, m.start)
		}
		// The key alone: what fileConfig.check finds is this key's.
		var one fileConfig
		reflect.ValueOf(&one).Elem().Field(i).Set(cv.Field(i))
		for _, p := range one.check(routeFile) {
			placed = append(placed, p)
			if !strings.HasPrefix(p, m.key) {
				p = m.key + ": " + p
			}
			add(m.at, p)
		}
	}
	// Problems of keys together, which no key alone has.
	for _, p := range c.check(routeFile) {
		if !slices.Contains(placed, p) {
			problems = append(problems, fmt.Sprintf("%s: %s%s", f.name, prefix, p))
		}
	}
	if n := len(problems); n > maxConfigProblems {
		problems = append(problems[:maxConfigProblems], fmt.Sprintf("%s: %d more problems", f.name, n-maxConfigProblems))
	}
	return c, problems
}

// placedValue is a config value decoded later where it stands in its file,
// such as middlewareBlock: decodeConfig tells it where that is.
type placedValue interface {
	place(f jsonFile, start int64)
}

// configFields maps each config key to its fileConfig field's index.
func configFields() map[string]int {
	t := reflect.TypeFor[fileConfig]()
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			fields[name] = i
		}
	}
	return fields
}

// unknownKey says a key is unknown, suggesting the known key it is
// likely a misspelling of.
func unknownKey(key string, fields map[string]int) string {
	// A suggestion within one edit per five characters (or another case):
	// maxDuraton is maxDuration, k9 is not kv.
	best, bestDist := "", len(key)/5+1
	for name := range fields {
		if d := editDistance(strings.ToLower(key), strings.ToLower(name)); d < bestDist || d == bestDist && name < best {
			best, bestDist = name, d
		}
	}
	if len(key) > 100 {
		key = key[:100] + "…"
	}
	if best != "" {
		return fmt.Sprintf("unknown key %q (did you mean %q?)", key, best)
	}
	return fmt.Sprintf("unknown key %q", key)
}

// editDistance is the Levenshtein distance of a and b, bytewise; past 64
// bytes it is only "far".
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// valueError words a value's decoding error for a config file's author.
func valueError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("want %s, got %s", describeType(te.Type), article(te.Value))
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(describeType(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

func article(jsonKind string) string {
	switch jsonKind {
	case "object", "array":
		return "an " + jsonKind
	case "bool":
		return "a boolean"
	}
	if strings.HasPrefix(jsonKind, "number") {
		return "a number"
	}
	return "a " + jsonKind
}

// sortProblems orders load problems by file, then line and column as
// numbers (line 10 after line 9), then text.
func sortProblems(problems []string) {
	type key struct {
		file      string
		line, col int
	}
	parse := func(p string) key {
		head, _, _ := strings.Cut(p, ": ")
		k := key{head, math.MaxInt, 0} // a file's problems without a place last
		if rest, c, ok := cutLastNumber(head); ok {
			if file, l, ok := cutLastNumber(rest); ok {
				k = key{file, l, c}
			}
		}
		return k
	}
	slices.SortStableFunc(problems, func(a, b string) int {
		ka, kb := parse(a), parse(b)
		return cmp.Or(strings.Compare(ka.file, kb.file), cmp.Compare(ka.line, kb.line), cmp.Compare(ka.col, kb.col), strings.Compare(a, b))
	})
}

// cutLastNumber splits "x:12" into "x" and 12.
func cutLastNumber(s string) (string, int, bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	return s[:i], n, err == nil
}
