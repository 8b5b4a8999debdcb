package jsbuild

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/evanw/esbuild/pkg/api"
)

// SegmentConfig is a route's segment config: the options Next.js reads from
// a route file's `export const name = <literal>` declarations. A field is
// its zero value (nil for pointers) when the route does not set it.
//
// See https://nextjs.org/docs/app/api-reference/file-conventions/route-segment-config
type SegmentConfig struct {
	MaxDuration     float64  // seconds, > 0
	Dynamic         string   // "auto", "force-dynamic", "error" or "force-static"
	Revalidate      *float64 // seconds ≥ 0; +Inf for `false` (cache for good)
	Runtime         string   // "nodejs", "edge" or "experimental-edge"
	FetchCache      string   // "auto", "default-cache", "only-cache", "force-cache", "force-no-store", "default-no-store" or "only-no-store"
	PreferredRegion []string // "auto", "global", "home" or region names
	DynamicParams   *bool

	// Matcher is a middleware's config.matcher (middleware.ts, proxy.ts):
	// the paths it runs for; nil: every path.
	Matcher []Matcher
}

// Matcher is one entry of a middleware's config.matcher: a path pattern
// (Next.js's syntax, path-to-regexp's) and the conditions a request must
// meet (Has) and must not meet (Missing) for the middleware to run.
type Matcher struct {
	Source  string      `json:"source"`
	Has     []Condition `json:"has,omitempty"`
	Missing []Condition `json:"missing,omitempty"`
}

// Condition is a matcher's has or missing entry: a header, query param or
// cookie (Type) named Key, present, or with a value Value matches (a
// regular expression) when Value is set; or the request's host name (Type
// "host", no Key) matching Value.
type Condition struct {
	Type  string `json:"type"`
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// configNames are the segment config's export names.
var configNames = []string{"maxDuration", "dynamic", "revalidate", "runtime", "fetchCache", "preferredRegion", "dynamicParams"}

// scanRoute reads the route file's segment config as Next.js does: each
// option must be `export const name =` a literal (string, number, boolean
// or an array of them), or it is an error. It strips the types with
// esbuild's transform (no format: the export statements stay as written)
// and reads the result. exports are the route's exports from the bundle's
// metafile; scanRoute returns them with "default" added when the route file
// has a default export (which the bundle's export * leaves out).
func scanRoute(root, file string, exports []string) ([]string, SegmentConfig, []string) {
	names := configNames
	if IsMiddleware(file) {
		names = []string{"config"} // a middleware's only option
	}
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
	if err != nil {
		return nil, SegmentConfig{}, []string{err.Error()}
	}
	loader := api.LoaderJS
	switch path.Ext(file) {
	case ".ts", ".mts", ".cts":
		loader = api.LoaderTS
	case ".tsx":
		loader = api.LoaderTSX
	case ".jsx":
		loader = api.LoaderJSX
	}
	res := api.Transform(string(src), api.TransformOptions{
		Loader:         loader,
		Sourcefile:     file,
		Sourcemap:      api.SourceMapExternal,
		SourcesContent: api.SourcesContentExclude,
		LogLevel:       api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		return nil, SegmentConfig{}, messages(res.Errors)
	}
	c := &configReader{file: file, code: string(res.Code), found: map[string]bool{}, names: names}
	c.lines, _ = decodeSourceMap(res.Map)
	c.scan()
	for _, name := range names {
		if slices.Contains(exports, name) && !c.found[name] {
			c.errs = append(c.errs, fmt.Sprintf("%s: %s must be declared as `export const %s = <literal>` (Next.js reads it statically)", file, name, name))
		}
	}
	if c.hasDefault {
		exports = append(slices.Clone(exports), "default")
	}
	return exports, c.config, c.errs
}

// configReader finds a route's top-level export declarations in esbuild's
// output and reads the segment config's literals.
type configReader struct {
	file       string
	code       string
	lex        lexer
	tok        token
	config     SegmentConfig
	found      map[string]bool // the config options seen
	names      []string        // the config options' names: configNames, or a middleware's
	depth      int             // literal's nesting
	hasDefault bool
	errs       []string
	lines      [][]mapping // the source map's
}

func (c *configReader) next() { c.tok = c.lex.next() }

func (c *configReader) errorf(pos int, format string, args ...any) {
	c.errs = append(c.errs, c.position(pos)+": "+fmt.Sprintf(format, args...))
}

// scan walks the top-level statements: `export const|let|var a = …, b = …`
// and `export { a as b }`.
func (c *configReader) scan() {
	c.lex = lexer{src: c.code}
	c.next()
	prev := token{}
	for c.tok.kind != tEOF {
		if c.tok.is("export") && c.lex.depth == 0 && !prev.is(".") {
			c.next()
			switch {
			case c.tok.is("const"), c.tok.is("let"), c.tok.is("var"):
				c.declarations(c.tok.text)
			case c.tok.is("{"):
				c.clause()
			case c.tok.is("default"):
				c.hasDefault = true
			}
		}
		prev = c.tok
		c.next()
	}
}

// declarations reads `name = value, …;` after export const|let|var.
func (c *configReader) declarations(kw string) {
	for {
		c.next()
		name := c.tok
		c.next()
		if name.kind == tIdent && c.tok.is("=") && c.isConfig(name.text) {
			c.found[name.text] = true
			c.next()
			start := c.tok.pos
			v, ok := c.literal()
			switch {
			case kw != "const":
				c.errorf(name.pos, "%s must be declared with `export const`, not `export %s`", name.text, kw)
			case !ok || !(c.tok.is(",") || c.tok.is(";") || c.tok.kind == tEOF):
				c.errorf(start, "%s must be a literal (Next.js reads it statically), not an expression", name.text)
			default:
				c.set(name, v)
			}
		}
		// Skip to the end of this declarator.
		for !(c.lex.depth == 0 && (c.tok.is(",") || c.tok.is(";"))) && c.tok.kind != tEOF {
			c.next()
		}
		if !c.tok.is(",") {
			return
		}
	}
}

// clause reads `{ a, b as c }` after export: a config option must not be
// exported this way.
func (c *configReader) clause() {
	for c.next(); !c.tok.is("}") && c.tok.kind != tEOF; c.next() {
		name := c.tok
		c.next()
		if c.tok.is("as") {
			c.next()
			name = c.tok
			c.next()
		}
		n := name.text
		if name.kind == tString {
			n, _ = unquote(n)
		}
		if n == "default" {
			c.hasDefault = true
		}
		if c.isConfig(n) {
			c.found[n] = true
			c.errorf(name.pos, "%s must be declared as `export const %s = <literal>` (Next.js reads it statically)", n, n)
		}
		if !c.tok.is(",") {
			return
		}
	}
}

// maxLiteralDepth bounds the nesting of a config literal: a matcher's is 3.
const maxLiteralDepth = 8

// literal reads a string, number, boolean, or an array or object (with
// identifier or string keys) of them, leaving the token after it in c.tok.
func (c *configReader) literal() (any, bool) {
	t := c.tok
	c.next()
	if t.is("[") || t.is("{") {
		if c.depth++; c.depth > maxLiteralDepth {
			return nil, false
		}
		defer func() { c.depth-- }()
	}
	switch {
	case t.kind == tString:
		s, ok := unquote(t.text)
		return s, ok
	case t.kind == tNumber:
		if f, err := strconv.ParseFloat(t.text, 64); err == nil {
			return f, true
		}
		i, err := strconv.ParseInt(t.text, 0, 64) // 0x1f, 1_000
		return float64(i), err == nil
	case t.is("-") && c.tok.kind == tNumber:
		v, ok := c.literal()
		f, _ := v.(float64)
		return -f, ok
	case t.is("true"), t.is("false"):
		return t.text == "true", true
	case t.is("["):
		var arr []any
		for !c.tok.is("]") {
			v, ok := c.literal()
			if !ok {
				return nil, false
			}
			arr = append(arr, v)
			if c.tok.is(",") {
				c.next()
			} else if !c.tok.is("]") {
				return nil, false
			}
		}
		c.next()
		return arr, true
	case t.is("{"):
		obj := map[string]any{}
		for !c.tok.is("}") {
			key, ok := c.tok.text, c.tok.kind == tIdent
			if c.tok.kind == tString {
				key, ok = unquote(key)
			}
			if c.next(); !ok || !c.tok.is(":") {
				return nil, false
			}
			c.next()
			v, ok := c.literal()
			if !ok {
				return nil, false
			}
			obj[key] = v
			if c.tok.is(",") {
				c.next()
			} else if !c.tok.is("}") {
				return nil, false
			}
		}
		c.next()
		return obj, true
	}
	return nil, false
}

// set checks an option's value and stores it.
func (c *configReader) set(name token, v any) {
	bad := func(want string) {
		c.errorf(name.pos, "%s must be %s, not %s", name.text, want, jsString(v))
	}
	oneOf := func(dst *string, allowed ...string) {
		if s, ok := v.(string); ok && slices.Contains(allowed, s) {
			*dst = s
			return
		}
		bad(strings.Join(quoteAll(allowed), ", "))
	}
	switch name.text {
	case "maxDuration":
		if f, ok := v.(float64); ok && f > 0 {
			c.config.MaxDuration = f
		} else {
			bad("a number of seconds > 0")
		}
	case "dynamic":
		oneOf(&c.config.Dynamic, "auto", "force-dynamic", "error", "force-static")
	case "revalidate":
		switch f := v.(type) {
		case float64:
			if f >= 0 {
				c.config.Revalidate = &f
				return
			}
		case bool:
			if !f {
				inf := math.Inf(1)
				c.config.Revalidate = &inf
				return
			}
		}
		bad("false or a number of seconds ≥ 0")
	case "runtime":
		oneOf(&c.config.Runtime, "nodejs", "edge", "experimental-edge")
	case "fetchCache":
		oneOf(&c.config.FetchCache, "auto", "default-cache", "only-cache", "force-cache", "force-no-store", "default-no-store", "only-no-store")
	case "preferredRegion":
		switch r := v.(type) {
		case string:
			c.config.PreferredRegion = []string{r}
			return
		case []any:
			regions := []string{}
			for _, x := range r {
				s, ok := x.(string)
				if !ok {
					bad("a string or an array of strings")
					return
				}
				regions = append(regions, s)
			}
			c.config.PreferredRegion = regions
			return
		}
		bad("a string or an array of strings")
	case "dynamicParams":
		if b, ok := v.(bool); ok {
			c.config.DynamicParams = &b
		} else {
			bad("true or false")
		}
	case "config":
		m, err := ReadMatchers(v)
		if err != nil {
			c.errorf(name.pos, "config: %v", err)
		}
		c.config.Matcher = m
	}
}

// ReadMatchers reads a middleware's config literal: { matcher: M }, M a
// string, an object { source, has, missing } or an array of them.
func ReadMatchers(v any) ([]Matcher, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be an object, { matcher: … }, not %s", jsString(v))
	}
	for k := range obj {
		if k != "matcher" {
			return nil, fmt.Errorf("%q is not a middleware option (wasmroute reads matcher)", k)
		}
	}
	list, ok := obj["matcher"].([]any)
	if !ok {
		if obj["matcher"] == nil {
			return nil, nil
		}
		list = []any{obj["matcher"]}
	}
	out := []Matcher{}
	for _, e := range list {
		var m Matcher
		switch e := e.(type) {
		case string:
			m.Source = e
		case map[string]any:
			b, _ := json.Marshal(e)
			dec := json.NewDecoder(strings.NewReader(string(b)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&m); err != nil {
				return nil, fmt.Errorf("matcher %s: %v (wasmroute reads source, has and missing)", b, err)
			}
		default:
			return nil, fmt.Errorf("matcher must be a string, an object or an array of them, not %s", jsString(e))
		}
		if !strings.HasPrefix(m.Source, "/") {
			return nil, fmt.Errorf("matcher %q must start with /", m.Source)
		}
		for _, c := range append(slices.Clone(m.Has), m.Missing...) {
			if c.Type == "host" && c.Value == "" {
				return nil, fmt.Errorf("matcher %q: a host entry needs a value", m.Source)
			}
			if !slices.Contains([]string{"header", "query", "cookie"}, c.Type) && c.Type != "host" || c.Key == "" && c.Type != "host" {
				return nil, fmt.Errorf("matcher %q: a has or missing entry needs a type (header, query or cookie) and a key, or the type host and a value", m.Source)
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// position maps an offset in the scanned code to "file:line:col" in the
// route file through the source map.
func (c *configReader) position(pos int) string {
	line := strings.Count(c.code[:pos], "\n")
	col := pos - strings.LastIndexByte(c.code[:pos], '\n') - 1
	if line < len(c.lines) {
		var best *mapping
		for i, m := range c.lines[line] {
			if m.genCol <= col {
				best = &c.lines[line][i]
			}
		}
		if best != nil {
			return fmt.Sprintf("%s:%d:%d", c.file, best.line+1, best.col+1)
		}
	}
	return c.file
}

func (c *configReader) isConfig(name string) bool { return slices.Contains(c.names, name) }

func jsString(v any) string {
	switch v := v.(type) {
	case nil:
		return "an expression"
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// unquote decodes a JavaScript string literal ('…', "…" or a template
// without substitutions).
func unquote(lit string) (string, bool) {
	if len(lit) < 2 {
		return "", false
	}
	s := lit[1 : len(lit)-1]
	var units []uint16
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r != '\\' || i == len(s) {
			units = utf16.AppendRune(units, r)
			continue
		}
		e := s[i]
		i++
		switch e {
		case 'n':
			units = append(units, '\n')
		case 't':
			units = append(units, '\t')
		case 'r':
			units = append(units, '\r')
		case 'b':
			units = append(units, '\b')
		case 'f':
			units = append(units, '\f')
		case 'v':
			units = append(units, '\v')
		case '0':
			units = append(units, 0)
		case '\n':
		case 'x', 'u':
			var hex string
			switch {
			case e == 'x' && i+2 <= len(s):
				hex, i = s[i:i+2], i+2
			case e == 'u' && i < len(s) && s[i] == '{':
				end := strings.IndexByte(s[i:], '}')
				if end < 0 {
					return "", false
				}
				hex, i = s[i+1:i+end], i+end+1
			case e == 'u' && i+4 <= len(s):
				hex, i = s[i:i+4], i+4
			}
			v, err := strconv.ParseUint(hex, 16, 32)
			if err != nil {
				return "", false
			}
			if e == 'u' && v <= 0xFFFF {
				units = append(units, uint16(v)) // may be half of a surrogate pair
			} else {
				units = append(units, utf16.Encode([]rune{rune(v)})...)
			}
		default:
			units = append(units, uint16(e))
		}
	}
	return string(utf16.Decode(units)), true
}
