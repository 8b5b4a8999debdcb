package routes

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// kind is the kind of a URL segment, in precedence order.
type kind uint8

const (
	static      kind = iota // blog
	param                   // [slug]
	catchAll                // [...path]
	optCatchAll             // [[...path]]
)

// segment is one URL segment of a route: a decoded literal for static
// segments, the param name otherwise.
type segment struct {
	kind kind
	text string
}

// String returns the segment as written in a pattern.
func (s segment) String() string {
	switch s.kind {
	case param:
		return "[" + s.text + "]"
	case catchAll:
		return "[..." + s.text + "]"
	case optCatchAll:
		return "[[..." + s.text + "]]"
	}
	return escape(s.text)
}

// parseDir parses a route folder into its URL segments. private is true when
// the folder is under (or is) a private folder. Each problem is one Error.
func parseDir(dir string) (segs []segment, private bool, errs Errors) {
	var names []string
	if dir != "" {
		names = strings.Split(dir, "/")
	}
	for _, name := range names {
		if strings.HasPrefix(name, "_") {
			return nil, true, nil
		}
	}
	for _, name := range names {
		if len(name) >= 2 && name[0] == '(' && name[len(name)-1] == ')' {
			continue // route group
		}
		s, msg := parseSegment(name)
		if msg != "" {
			errs = append(errs, dirError([]string{dir}, fmt.Sprintf("invalid segment %q: %s", name, msg)))
		}
		segs = append(segs, s)
	}
	if len(errs) > 0 {
		return nil, false, errs
	}
	for i, s := range segs {
		if s.kind >= catchAll && i < len(segs)-1 {
			errs = append(errs, dirError([]string{dir}, fmt.Sprintf(
				"catch-all %s is not the last segment (%s follows it); a catch-all takes the rest of the path, so no route can be under it",
				s, segs[i+1])))
			break
		}
	}
	for i, s := range segs {
		if j := slices.IndexFunc(segs[:i], func(p segment) bool { return p.kind != static && p.text == s.text }); s.kind != static && j >= 0 {
			errs = append(errs, dirError([]string{dir}, fmt.Sprintf(
				"param name %q is used twice in one path (%s and %s); rename one", s.text, segs[j], s)))
		}
	}
	return segs, false, errs
}

// parseSegment parses a folder name that is not a group; msg says what is
// wrong with it, if anything.
func parseSegment(name string) (s segment, msg string) {
	switch {
	case name == "":
		return s, "empty folder name"
	case strings.HasPrefix(name, "[[") && strings.HasSuffix(name, "]]"):
		inner := name[2 : len(name)-2]
		if n, ok := strings.CutPrefix(inner, "..."); ok {
			return paramSegment(optCatchAll, n)
		}
		if inner == "" {
			return s, "empty param name; write [[...name]]"
		}
		return s, fmt.Sprintf("an optional param must be a catch-all; write [[...%s]] or [%s]", inner, inner)
	case name[0] == '[' && name[len(name)-1] == ']':
		if n, ok := strings.CutPrefix(name[1:len(name)-1], "..."); ok {
			return paramSegment(catchAll, n)
		}
		return paramSegment(param, name[1:len(name)-1])
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '%' && (i+2 >= len(name) || !ishex(name[i+1]) || !ishex(name[i+2])):
			return s, fmt.Sprintf("bad escape %q; write a literal %% as %%25", name[i:min(i+3, len(name))])
		case c == '[' || c == ']':
			return s, "unbalanced or misplaced brackets; a param is a whole segment such as [name]"
		case c <= ' ' || c == 0x7f || c == '?' || c == '#' || c == '\\':
			return s, fmt.Sprintf("%q is not allowed in a URL segment; write it as %%%02X", c, c)
		}
	}
	if !utf8.ValidString(name) {
		return s, "not valid UTF-8"
	}
	lit := unescape(name)
	if lit == "." || lit == ".." {
		return s, "not a valid URL segment: it means the current or parent folder"
	}
	return segment{static, lit}, ""
}

// paramSegment checks the name of a param of kind k.
func paramSegment(k kind, name string) (segment, string) {
	s := segment{k, name}
	switch {
	case name == "":
		return s, fmt.Sprintf("empty param name; write %s", segment{k, "name"})
	case strings.ContainsAny(name, "[]"):
		return s, "unbalanced or misplaced brackets; a param is a whole segment such as [name]"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && (c == '-' || '0' <= c && c <= '9')) {
			return s, fmt.Sprintf("param name %q must match [A-Za-z_][A-Za-z0-9_-]*", name)
		}
	}
	return s, ""
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// unescape decodes each valid %XX escape of s and keeps invalid ones as-is.
func unescape(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		} else {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// escape writes a decoded literal as it appears in a pattern, escaping '%',
// '/', '[', ']', '?', '#', '\', spaces, control characters, and non-ASCII
// bytes when the literal is not valid UTF-8. unescape(escape(s)) == s.
func escape(s string) string {
	valid := utf8.ValidString(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || strings.IndexByte(`%/[]?#\`, c) >= 0 || c >= 0x80 && !valid {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
