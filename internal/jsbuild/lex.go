package jsbuild

import (
	"encoding/json"
	"strings"
)

// A lexer splits JavaScript, as esbuild prints it, into the tokens the
// segment config reader needs: it knows strings, templates, comments,
// regular expressions and bracket depth, and nothing of the grammar.
type lexer struct {
	src   string
	pos   int
	depth int   // open ( [ {
	tmpl  []int // depths at which a template's ${ opened
	prev  token
}

type tokenKind uint8

const (
	tEOF tokenKind = iota
	tIdent
	tNumber
	tString   // '…', "…" or a template without substitutions
	tTemplate // a template with substitutions (up to its first ${)
	tRegExp
	tPunct
)

type token struct {
	kind tokenKind
	text string
	pos  int // byte offset in src
}

func (t token) is(s string) bool { return (t.kind == tIdent || t.kind == tPunct) && t.text == s }

// next returns the next token, tEOF at the end.
func (l *lexer) next() token {
	t := l.scan()
	l.prev = t
	return t
}

func (l *lexer) scan() token {
	src := l.src
	for l.pos < len(src) {
		switch c := src[l.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			l.pos++
		case strings.HasPrefix(src[l.pos:], "//"):
			l.skipTo("\n", 0)
		case strings.HasPrefix(src[l.pos:], "/*"):
			l.skipTo("*/", 2)
		default:
			return l.token()
		}
	}
	return token{kind: tEOF, pos: len(src)}
}

func (l *lexer) skipTo(end string, n int) {
	if i := strings.Index(l.src[l.pos+n:], end); i >= 0 {
		l.pos += n + i + len(end)
	} else {
		l.pos = len(l.src)
	}
}

func (l *lexer) token() token {
	src, start := l.src, l.pos
	c := src[start]
	tok := func(k tokenKind) token { return token{kind: k, text: src[start:l.pos], pos: start} }
	switch {
	case isIdent(c):
		for l.pos < len(src) && (isIdent(src[l.pos]) || isDigit(src[l.pos])) {
			l.pos++
		}
		return tok(tIdent)
	case isDigit(c) || c == '.' && start+1 < len(src) && isDigit(src[start+1]):
		for l.pos < len(src) {
			d := src[l.pos]
			if isIdent(d) || isDigit(d) || d == '.' ||
				(d == '+' || d == '-') && (src[l.pos-1] == 'e' || src[l.pos-1] == 'E') && !strings.HasPrefix(src[start:], "0x") {
				l.pos++
			} else {
				break
			}
		}
		return tok(tNumber)
	case c == '"' || c == '\'':
		l.pos++
		for l.pos < len(src) && src[l.pos] != c {
			if src[l.pos] == '\\' {
				l.pos++
			}
			l.pos++
		}
		l.pos = min(l.pos+1, len(src))
		return tok(tString)
	case c == '`':
		l.pos++
		if l.templateChunk() {
			return tok(tString)
		}
		return tok(tTemplate)
	case c == '}' && len(l.tmpl) > 0 && l.tmpl[len(l.tmpl)-1] == l.depth:
		l.tmpl = l.tmpl[:len(l.tmpl)-1]
		l.pos++
		l.templateChunk()
		return tok(tTemplate)
	case c == '/' && l.regexpAllowed():
		l.pos++
		for inClass := false; l.pos < len(src) && (src[l.pos] != '/' || inClass) && src[l.pos] != '\n'; l.pos++ {
			switch src[l.pos] {
			case '\\':
				l.pos++
			case '[':
				inClass = true
			case ']':
				inClass = false
			}
		}
		for l.pos++; l.pos < len(src) && isIdent(src[l.pos]); l.pos++ {
		}
		l.pos = min(l.pos, len(src))
		return tok(tRegExp)
	}
	l.pos++
	switch c {
	case '(', '[', '{':
		l.depth++
	case ')', ']', '}':
		l.depth--
	case '=':
		for l.pos < len(src) && (src[l.pos] == '=' || src[l.pos] == '>') && l.pos-start < 3 {
			l.pos++
		}
	}
	return tok(tPunct)
}

// templateChunk scans a template's text up to its closing backquote (it
// returns true) or a "${" (it returns false, and the substitution's tokens
// follow).
func (l *lexer) templateChunk() bool {
	src := l.src
	for ; l.pos < len(src); l.pos++ {
		switch {
		case src[l.pos] == '\\':
			l.pos++
		case src[l.pos] == '`':
			l.pos++
			return true
		case strings.HasPrefix(src[l.pos:], "${"):
			l.pos += 2
			l.tmpl = append(l.tmpl, l.depth)
			return false
		}
	}
	return true
}

// regexpAllowed reports whether a '/' starts a regular expression rather
// than a division, from the token before it.
func (l *lexer) regexpAllowed() bool {
	p := l.prev
	switch p.kind {
	case tEOF:
		return true
	case tNumber, tString, tTemplate, tRegExp:
		return false
	case tIdent:
		switch p.text {
		case "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do", "else", "yield", "await":
			return true
		}
		return false
	}
	return p.text != ")" && p.text != "]" && p.text != "}"
}

func isIdent(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$' || c == '\\' || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// mapping is one segment of a source map: a generated column and the
// original position it comes from (0-based).
type mapping struct {
	genCol, source, line, col int
}

// decodeSourceMap decodes a version 3 source map's mappings, one slice per
// generated line.
//
// See https://tc39.es/ecma426/
func decodeSourceMap(data []byte) (lines [][]mapping, sources []string) {
	var sm struct {
		Sources  []string `json:"sources"`
		Mappings string   `json:"mappings"`
	}
	if json.Unmarshal(data, &sm) != nil {
		return nil, nil
	}
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	s := sm.Mappings
	i := 0
	vlq := func() int {
		v, shift := 0, 0
		for i < len(s) {
			d := strings.IndexByte(b64, s[i])
			i++
			if d < 0 {
				break
			}
			v += (d & 31) << shift
			shift += 5
			if d&32 == 0 {
				break
			}
		}
		if v&1 != 0 {
			return -(v >> 1)
		}
		return v >> 1
	}
	more := func() bool { return i < len(s) && s[i] != ',' && s[i] != ';' }
	lines = [][]mapping{nil}
	var m mapping
	for i < len(s) {
		switch s[i] {
		case ';':
			lines = append(lines, nil)
			m.genCol = 0
			i++
			continue
		case ',':
			i++
			continue
		}
		m.genCol += vlq()
		if !more() {
			continue
		}
		m.source += vlq()
		m.line += vlq()
		m.col += vlq()
		if more() {
			vlq() // name
		}
		lines[len(lines)-1] = append(lines[len(lines)-1], m)
	}
	return lines, sm.Sources
}
