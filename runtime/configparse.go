package runtime

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxConfigProblems is how many problems of one config file are listed: a
// hostile file of a million unknown keys gets a line saying how many more.
const maxConfigProblems = 20

// jsonFile is a config file's content, for messages that point into it.
// Make one with newJSONFile; it is not safe for concurrent use.
type jsonFile struct {
	name string
	data []byte
	pos  *positions // filled on the first call of at
}

func newJSONFile(name string, data []byte) jsonFile {
	return jsonFile{name: name, data: data, pos: &positions{}}
}

// positions holds the line and column of a file's offset every
// positionStep bytes or so, so that at counts lines and characters from
// the nearest one before it, not from the start of the file: a hostile
// file of a million problems, each placed, is not a million scans of it.
type positions struct {
	marks []position // by offset
}

type position struct {
	off       int64
	line, col int
}

// positionStep is the bytes between two marks: at scans at most that many.
const positionStep = 512

// at is "name:line:column" of the byte offset off (columns count
// characters, as utf8.RuneCount does, from 1).
func (f jsonFile) at(off int64) string {
	off = min(max(off, 0), int64(len(f.data)))
	if f.pos.marks == nil {
		f.pos.marks = marks(f.data)
	}
	i, found := slices.BinarySearchFunc(f.pos.marks, off, func(m position, off int64) int { return cmp.Compare(m.off, off) })
	if !found {
		i-- // the first mark is at offset 0
	}
	p := advance(f.pos.marks[i], f.data[f.pos.marks[i].off:off])
	return fmt.Sprintf("%s:%d:%d", f.name, p.line, p.col)
}

// marks lists the line and column every positionStep bytes of data, and
// at its start. A mark is never inside a UTF-8 sequence, so that counting
// runes from a mark gives what counting them from the start gives.
func marks(data []byte) []position {
	ms := []position{{0, 1, 1}}
	for p := ms[0]; int64(len(data))-p.off > positionStep; {
		next := p.off + positionStep
		// Step back to a byte that begins a character (a sequence is at
		// most utf8.UTFMax bytes); if none of those does, no sequence
		// crosses next either: they are all continuation bytes.
		for back := next; back > next-utf8.UTFMax; back-- {
			if utf8.RuneStart(data[back]) {
				next = back
				break
			}
		}
		p = advance(p, data[p.off:next])
		ms = append(ms, p)
	}
	return ms
}

// advance is the position after b, which starts at p.
func advance(p position, b []byte) position {
	p.off += int64(len(b))
	if n := bytes.Count(b, []byte("\n")); n > 0 {
		p.line += n
		p.col = 1
		b = b[bytes.LastIndexByte(b, '\n')+1:]
	}
	p.col += utf8.RuneCount(b)
	return p
}

// member is one "key": value of a JSON object.
type member struct {
	key   string
	at    int64           // the key's offset in the file
	value json.RawMessage // the file's bytes: read them only
	start int64           // the value's offset in the file
}

// object reads the JSON object at f.data[start:end], which must hold it
// alone (with white space around). The error, if any, is a syntax error
// naming the file, line and column.
//
// The object is checked whole with json.Valid, then cut into members by
// hand: a json.Decoder decoding member after member is several times
// slower, and a hostile file can hold 170,000 members.
func (f jsonFile) object(start, end int64) ([]member, error) {
	b := f.data[start:end]
	i := skipSpace(b, 0)
	valid := len(b) // b[:valid] holds one valid JSON value
	if !json.Valid(b) {
		// The space added makes the end of a cut literal ("nul") a fault
		// past b's end, as the end of b is in any other cut value.
		var se *json.SyntaxError
		if !errors.As(json.Unmarshal(append(b[:len(b):len(b)], ' '), new(json.RawMessage)), &se) {
			return nil, fmt.Errorf("%s: JSON syntax error", f.at(start)) // json.Valid said no
		}
		valid = int(se.Offset) - 1 // the byte at fault
		switch {
		case valid >= len(b):
			return nil, fmt.Errorf("%s: JSON syntax error: unexpected end of file", f.at(end))
		case !strings.HasSuffix(se.Error(), "after top-level value"):
			return nil, fmt.Errorf("%s: JSON syntax error: %s", f.at(start+int64(valid)), se.Error())
		}
	}
	if b[i] != '{' {
		return nil, fmt.Errorf("%s: want a JSON object ({\"key\": value, …}), got %s", f.at(start+int64(i)), describeStart(b[i]))
	}
	// Stray commas and colons after the object are let pass.
	rest := valid
	for rest < len(b) && strings.IndexByte(" \t\r\n,:", b[rest]) >= 0 {
		rest++
	}
	if rest < len(b) {
		return nil, fmt.Errorf("%s: JSON syntax error: more after the object's closing brace", f.at(start+int64(rest)))
	}
	return objectMembers(b[:valid], start), nil
}

// objectMembers cuts the object b, valid JSON, into its members; b is at
// offset start of the file.
func objectMembers(b []byte, start int64) []member {
	var members []member
	i := skipSpace(b, 0) + 1 // past {
	for {
		i = skipSpace(b, i)
		switch b[i] {
		case '}':
			return members
		case ',':
			i = skipSpace(b, i+1)
		}
		key := i
		i = stringEnd(b, key)
		name := string(b[key+1 : i-1])
		if strings.IndexByte(name, '\\') >= 0 || !utf8.ValidString(name) {
			json.Unmarshal(b[key:i], &name) // escapes, and U+FFFD for bad bytes
		}
		i = skipSpace(b, skipSpace(b, i)+1) // past :
		value := i
		i = valueEnd(b, value)
		members = append(members, member{key: name, at: start + int64(key), value: b[value:i], start: start + int64(value)})
	}
}

// skipSpace returns the offset of the first byte from i on that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the offset after the valid JSON string at b[i].
func stringEnd(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// valueEnd returns the offset after the valid JSON value at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) && strings.IndexByte(",}] \t\r\n", b[i]) < 0 {
		i++
	}
	return i
}

// describeStart names the valid JSON value that starts with c.
func describeStart(c byte) string {
	switch c {
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
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
	placed := map[string]bool{} // the problems fileConfig.check finds key by key
	// Past maxConfigProblems a problem is counted, not worded: a hostile
	// file of a million keys costs a million counts.
	more := 0
	full := func() bool { return len(problems) >= maxConfigProblems }
	add := func(at int64, msg string) {
		if full() {
			more++
			return
		}
		problems = append(problems, fmt.Sprintf("%s: %s%s", f.at(at), prefix, msg))
	}
	cv := reflect.ValueOf(&c).Elem()
	for _, m := range members {
		i, ok := fields[m.key]
		switch {
		case !ok:
			msg := "" // the suggestion costs edit distances: only for a listed problem
			if !full() {
				msg = unknownKey(m.key, fields)
			}
			add(m.at, msg)
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
			placed[p] = true
			if !strings.HasPrefix(p, m.key) {
				p = m.key + ": " + p
			}
			add(m.at, p)
		}
	}
	// Problems of keys together, which no key alone has.
	for _, p := range c.check(routeFile) {
		switch {
		case placed[p]:
		case full():
			more++
		default:
			problems = append(problems, fmt.Sprintf("%s: %s%s", f.name, prefix, p))
		}
	}
	if more > 0 {
		problems = append(problems, fmt.Sprintf("%s: %d more problems", f.name, more))
	}
	return c, problems
}

// placedValue is a config value decoded later where it stands in its file,
// such as middlewareBlock: decodeConfig tells it where that is.
type placedValue interface {
	place(f jsonFile, start int64)
}

// configFields maps each config key to its fileConfig field's index. The
// map is shared: read it only.
var configFields = sync.OnceValue(func() map[string]int {
	t := reflect.TypeFor[fileConfig]()
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			fields[name] = i
		}
	}
	return fields
})

// unknownKey says a key is unknown, suggesting the known key it is
// likely a misspelling of.
func unknownKey(key string, fields map[string]int) string {
	// A suggestion within one edit per five characters (or another case):
	// maxDuraton is maxDuration, k9 is not kv. Two words are at least
	// their difference in length apart: most names need no distance.
	lower := strings.ToLower(key)
	best, bestDist := "", len(key)/5+1
	for name := range fields {
		if n := len(lower) - len(name); n > bestDist || -n > bestDist {
			continue
		}
		if d := editDistance(lower, strings.ToLower(name)); d < bestDist || d == bestDist && name < best {
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
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
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
