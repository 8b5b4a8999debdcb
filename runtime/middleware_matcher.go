package runtime

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"github.com/wasmroute/wasmroute/internal/jsbuild"
)

// A middleware's matcher is Next.js's: path-to-regexp patterns ("/about",
// "/blog/:slug", "/docs/:path*", "/api/:rest+", "/:locale?/x",
// "/((?!api|_next/static).*)"), matched case-insensitively, each with has
// and missing conditions on headers, query params and cookies. They are
// compiled to Go regular expressions (RE2: linear time, whatever the
// pattern), which have no lookahead; the one lookahead Next.js's examples
// use, a negative one at the start of the first param, "/((?!api|_next).*)",
// becomes a second expression the path must not match (not below), and
// inside it a word's lookahead that ends its alternative (endLookaheads).

// matcher is one compiled matcher entry.
type matcher struct {
	re      *regexp.Regexp // the path must match it ...
	not     *regexp.Regexp // ... and not this, when set (a leading (?!…))
	has     []condition
	missing []condition
}

// condition is a compiled has or missing entry.
type condition struct {
	typ, key string
	value    *regexp.Regexp // nil: present is enough
}

// matches reports whether the middleware runs for r, whose cleaned escaped
// path is path (at most maxMatchInput bytes).
func (mw *middleware) matches(r *http.Request, path string) bool {
	if mw.matchers == nil {
		return true
	}
	in := matchInput{r: r, path: matchPath(path)}
	for i := range mw.matchers {
		if mw.matchers[i].match(&in) {
			return true
		}
	}
	return false
}

// matchInput is what a request's matchers read, its query and cookies
// parsed once, when a condition first asks.
type matchInput struct {
	r       *http.Request
	path    string
	query   url.Values
	cookies []*http.Cookie
	parsed  bool
}

func (m *matcher) match(in *matchInput) bool {
	if !m.re.MatchString(in.path) || m.not != nil && m.not.MatchString(in.path) {
		return false
	}
	for _, c := range m.has {
		if !c.holds(in) {
			return false
		}
	}
	for _, c := range m.missing {
		if c.holds(in) {
			return false
		}
	}
	return true
}

// holds reports whether the request meets c. As in Next.js, a value is
// tested against one string: a header's values joined with ", " (as
// Node.js joins them), a query param's last value, a cookie's first. A
// string longer than maxMatchInput does not match.
func (c *condition) holds(in *matchInput) bool {
	r := in.r
	if (c.typ == "query" || c.typ == "cookie") && !in.parsed {
		in.parsed = true
		in.query = r.URL.Query()
		in.cookies = r.Cookies()
	}
	var value string
	found := false
	switch c.typ {
	case "header":
		vs := r.Header[c.key]
		found = len(vs) > 0
		n := 2 * (len(vs) - 1)
		for _, v := range vs {
			n += len(v)
		}
		if c.value != nil && n > maxMatchInput {
			return false // not joined, 1 MiB of headers would be
		}
		if found && c.value != nil {
			value = strings.Join(vs, ", ")
		}
	case "query":
		vs := in.query[c.key]
		if found = len(vs) > 0; found {
			value = vs[len(vs)-1]
		}
	case "cookie":
		for _, ck := range in.cookies {
			if ck.Name == c.key {
				value, found = ck.Value, true
				break
			}
		}
	case "host":
		value = r.Host
		if h, _, err := net.SplitHostPort(value); err == nil {
			value = h
		}
		found = true
	}
	if c.value == nil || !found {
		return found
	}
	return len(value) <= maxMatchInput && c.value.MatchString(value)
}

// matchPath is the path a matcher sees: each segment percent-decoded once,
// as the router decodes it, so that "/%61dmin" cannot slip past a matcher
// for "/admin" to the admin route; a slash decoded inside a segment stays
// "%2F", so that segments stay segments.
func matchPath(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if d, err := url.PathUnescape(seg); err == nil && d != seg {
			segs[i] = strings.ReplaceAll(d, "/", "%2F")
		}
	}
	return strings.Join(segs, "/")
}

// A matcher runs in the host, on every request, before the middleware's
// limits apply: what it may cost is bounded at load and per request.
// Go's regular expressions take time in proportion to the input's length
// times the compiled program's instructions, up to ~12 ns per byte and
// instruction for the worst programs (measured on a 2-core machine), so:
//
//   - maxMatchers entries, each pattern up to maxPattern bytes;
//   - each regular expression (a path pattern, a has or missing value)
//     compiles to at most maxRegexpInsts instructions, all of a
//     middleware's together to at most maxMatcherInsts: Next.js's
//     documented matcher is 47, Clerk's 111. A pattern is sized from its
//     parse tree before it is expanded (a counted repetition {0,999} is
//     999 copies), so a hostile one is refused without being built;
//   - a matcher runs on at most maxMatchInput bytes: a longer path is
//     refused (414, see Server.middleware), a longer header, query or
//     cookie value does not match a has or missing value.
//
// A request's matching then costs at most ~2,000 × 8 KiB × 12 ns ≈ 200 ms
// (the most hostile matcher we found within the budget, two entries of
// 999 instructions, took 117 ms on an 8 KiB path), Clerk's 0.34 ms; the
// review's unbounded one took 1m24s for one request.
const (
	maxMatchers     = 256
	maxPattern      = 4096
	maxConditions   = 256 // has and missing entries, all matchers together
	maxRegexpInsts  = 1000
	maxMatcherInsts = 2000
	maxMatchInput   = 8 << 10
)

// matcherProblem is why entry (an index in the matcher list; -1: the
// list) cannot be compiled.
type matcherProblem struct {
	entry int
	msg   string
}

// compileMatchers compiles a middleware's matcher; nil stays nil (every
// path). Each problem's message starts with its entry's pattern, as in
// `"/x(": missing closing )`.
func compileMatchers(ms []jsbuild.Matcher) ([]matcher, []matcherProblem) {
	if ms == nil {
		return nil, nil
	}
	if len(ms) > maxMatchers {
		return nil, []matcherProblem{{-1, fmt.Sprintf("has %d entries, more than %d", len(ms), maxMatchers)}}
	}
	out := make([]matcher, 0, len(ms))
	var problems []matcherProblem
	insts, conds := 0, 0
	for i, m := range ms {
		if conds += len(m.Has) + len(m.Missing); conds > maxConditions {
			problems = append(problems, matcherProblem{i, fmt.Sprintf("%s: more than %d has and missing entries in all", quoteShort(m.Source), maxConditions)})
			break
		}
		c, n, err := compileMatcher(m)
		if err != nil {
			problems = append(problems, matcherProblem{i, fmt.Sprintf("%s: %v", quoteShort(m.Source), err)})
			continue
		}
		if insts += n; insts > maxMatcherInsts {
			problems = append(problems, matcherProblem{i, fmt.Sprintf("%s: the matcher's regular expressions compile to more than %d instructions in all (Clerk's matcher takes 111): merge or simplify its entries, or test the path in the middleware itself", quoteShort(m.Source), maxMatcherInsts)})
			break
		}
		out = append(out, c)
	}
	return out, problems
}

// compileMatcher compiles one entry and returns the instructions its
// regular expressions take.
func compileMatcher(m jsbuild.Matcher) (matcher, int, error) {
	if len(m.Source) > maxPattern {
		return matcher{}, 0, fmt.Errorf("longer than %d bytes", maxPattern)
	}
	re, not, err := pathRegexp(m.Source)
	if err != nil {
		return matcher{}, 0, err
	}
	out := matcher{}
	insts := 0
	if out.re, insts, err = compileBounded(re); err != nil {
		return matcher{}, 0, regexpError(err)
	}
	if not != "" {
		n := 0
		if out.not, n, err = compileBounded(not); err != nil {
			return matcher{}, 0, regexpError(err)
		}
		insts += n
	}
	for _, list := range []struct {
		from []jsbuild.Condition
		to   *[]condition
	}{{m.Has, &out.has}, {m.Missing, &out.missing}} {
		for _, c := range list.from {
			cc := condition{typ: c.Type, key: c.Key}
			if c.Type == "header" {
				cc.key = http.CanonicalHeaderKey(c.Key)
			}
			if c.Value != "" {
				if len(c.Value) > maxPattern {
					return matcher{}, 0, fmt.Errorf("%s %q: value longer than %d bytes", c.Type, c.Key, maxPattern)
				}
				n := 0
				if cc.value, n, err = compileBounded("^(?:" + c.Value + ")$"); err != nil {
					return matcher{}, 0, fmt.Errorf("%s %q: %w", c.Type, c.Key, regexpError(err))
				}
				insts += n
			}
			*list.to = append(*list.to, cc)
		}
	}
	return out, insts, nil
}

// compileBounded compiles expr unless its program would take more than
// maxRegexpInsts instructions, and returns how many it takes.
func compileBounded(expr string) (*regexp.Regexp, int, error) {
	tooBig := fmt.Errorf("compiles to more than %d instructions, the most a matcher's regular expression may take (a counted repetition {n,m} repeats its expression m times): simplify it, or test the path in the middleware itself", maxRegexpInsts)
	tree, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, 0, err
	}
	// Simplify expands counted repetitions: size the tree first, from
	// above, and build only what may fit.
	if treeSize(tree, 4*maxRegexpInsts) > 4*maxRegexpInsts {
		return nil, 0, tooBig
	}
	prog, err := syntax.Compile(tree.Simplify())
	if err != nil {
		return nil, 0, err
	}
	if len(prog.Inst) > maxRegexpInsts {
		return nil, 0, tooBig
	}
	re, err := regexp.Compile(expr)
	return re, len(prog.Inst), err
}

// treeSize estimates from above the instructions syntax.Compile makes of
// re once simplified, stopping as soon as it passes limit.
func treeSize(re *syntax.Regexp, limit int) int {
	n := 1
	for _, sub := range re.Sub {
		if n += treeSize(sub, limit); n > limit {
			return n
		}
	}
	switch re.Op {
	case syntax.OpLiteral:
		n += len(re.Rune)
	case syntax.OpCapture:
		n++
	case syntax.OpRepeat:
		times := re.Max
		if times < 0 {
			times = re.Min + 1
		}
		n = min(n*max(times, 1), limit+1)
	}
	return n
}

// quoteShort quotes a pattern for a message, cut after 60 bytes.
func quoteShort(s string) string {
	if len(s) > 60 {
		return strconv.Quote(s[:60]) + "…"
	}
	return strconv.Quote(s)
}

func regexpError(err error) error {
	if strings.Contains(err.Error(), "(?") {
		return fmt.Errorf("%w (Go's regular expressions have no lookaround; wasmroute supports a negative lookahead only at the start of the first param, as in /((?!api|_next).*); otherwise test the path in the middleware itself)", err)
	}
	return err
}

// pathRegexp translates a path-to-regexp pattern (v6, as Next.js's
// matchers use it) to a Go regular expression the path must match, and
// one it must not match when the pattern starts its first param with a
// negative lookahead.
func pathRegexp(src string) (re, not string, err error) {
	toks, err := parsePattern(src)
	if err != nil {
		return "", "", err
	}
	var b, lit strings.Builder // lit: the literal text before the first param
	params := 0
	for _, t := range toks {
		if !t.param {
			b.WriteString(regexp.QuoteMeta(t.lit))
			if params == 0 {
				lit.WriteString(t.lit)
			}
			continue
		}
		pat := t.pattern
		if pat == "" {
			pat = `[^/#?]+?`
		}
		if ahead, rest, ok := leadingLookahead(pat); ok {
			if params > 0 || t.mod != 0 {
				return "", "", errors.New("a negative lookahead (?!…) is supported only at the start of the first param, without a modifier (?, *, +)")
			}
			not = "(?i)^" + regexp.QuoteMeta(lit.String()+t.prefix) + "(?:" + endLookaheads(ahead) + ")"
			pat = rest
		}
		params++
		p := regexp.QuoteMeta(t.prefix)
		switch {
		case t.mod == '*' || t.mod == '+':
			if p == "" {
				fmt.Fprintf(&b, "((?:%s)%c)", pat, t.mod)
				break
			}
			fmt.Fprintf(&b, "(?:%s((?:%s)(?:%s(?:%s))*))", p, pat, p, pat)
			if t.mod == '*' {
				b.WriteByte('?')
			}
		default:
			fmt.Fprintf(&b, "(?:%s(%s))", p, pat)
			if t.mod == '?' {
				b.WriteByte('?')
			}
		}
	}
	return "(?i)^" + b.String() + "$", not, nil
}

// patternToken is a literal or a param of a path-to-regexp pattern.
type patternToken struct {
	lit     string
	param   bool
	prefix  string // "/" or "." before the param, optional with it
	pattern string // the param's regular expression; "": one segment
	mod     byte   // 0, '?', '*' or '+'
}

func parsePattern(src string) ([]patternToken, error) {
	var toks []patternToken
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, patternToken{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src):
			lit.WriteByte(src[i+1])
			i += 2
		case c == ':' || c == '(':
			if c == ':' {
				j := i + 1
				for j < len(src) && (isIdentByte(src[j])) {
					j++
				}
				if j == i+1 {
					return nil, fmt.Errorf("missing parameter name at %d", i)
				}
				i = j
			}
			pattern := ""
			if i < len(src) && src[i] == '(' {
				p, n, err := group(src, i)
				if err != nil {
					return nil, err
				}
				pattern, i = p, i+n
			}
			t := patternToken{param: true, pattern: pattern}
			if s := lit.String(); strings.HasSuffix(s, "/") || strings.HasSuffix(s, ".") {
				t.prefix = s[len(s)-1:]
				lit.Reset()
				lit.WriteString(s[:len(s)-1])
			}
			flush()
			if i < len(src) && strings.IndexByte("?*+", src[i]) >= 0 {
				t.mod = src[i]
				i++
			}
			toks = append(toks, t)
		case strings.IndexByte("{}?*+", c) >= 0:
			return nil, fmt.Errorf("unexpected %q at %d: wasmroute supports :name, :name?, :name*, :name+ and (regexp) params, not {…} groups", c, i)
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	return toks, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// group returns the regular expression inside the parenthesised group at
// src[i] and the group's length. As in path-to-regexp, a group inside
// must not capture.
func group(src string, i int) (string, int, error) {
	depth := 0
	for j := i; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '(':
			depth++
			if depth > 1 && (j+1 >= len(src) || src[j+1] != '?') {
				return "", 0, fmt.Errorf("capturing group at %d: use (?:…) inside a param's pattern", j)
			}
		case ')':
			if depth--; depth == 0 {
				if j == i+1 {
					return "", 0, fmt.Errorf("empty pattern at %d", i)
				}
				return src[i+1 : j], j + 1 - i, nil
			}
		}
	}
	return "", 0, fmt.Errorf("unbalanced pattern at %d", i)
}

// endLookaheads rewrites, in the body of a leading negative lookahead,
// each negative lookahead of a word that ends its alternative, such as
// js(?!on) in Clerk's matcher "/((?!_next|[^?]*\\.(?:js(?!on)|css)).*)":
// the body is matched as a prefix of the path, so "not followed by on" can
// consume what follows instead, the end of the path or anything that does
// not start with "on" (?:$|[^o]|o(?:$|[^n])). Any other lookaround is left
// for the regular expression compiler to refuse.
func endLookaheads(a string) string {
	for i := 0; i < len(a); i++ {
		switch {
		case a[i] == '\\':
			i++
		case a[i] == '[':
			i = classEnd(a, i)
		case strings.HasPrefix(a[i:], "(?!"):
			end := strings.IndexByte(a[i:], ')')
			if end < 0 {
				return a
			}
			word := a[i+3 : i+end]
			if word == "" || strings.TrimFunc(word, func(r rune) bool { return r < 128 && isIdentByte(byte(r)) }) != "" || !endsAlternative(a, i+end+1) {
				continue
			}
			repl := complement(word)
			a = a[:i] + repl + a[i+end+1:]
			i += len(repl) - 1
		}
	}
	return a
}

// complement matches the end of the text or a start that is not word's.
func complement(word string) string {
	c := regexp.QuoteMeta(word[:1])
	if len(word) == 1 {
		return "(?:$|[^" + c + "])"
	}
	return "(?:$|[^" + c + "]|" + c + complement(word[1:]) + ")"
}

// endsAlternative reports whether nothing of a can match after offset i
// but the end: only "|…" alternatives and closing parentheses, without a
// quantifier, follow.
func endsAlternative(a string, i int) bool {
	for i < len(a) {
		switch a[i] {
		case ')':
			i++
			if i < len(a) && strings.IndexByte("?*+{", a[i]) >= 0 {
				return false
			}
		case '|':
			// Skip the rest of this group's alternatives.
			depth := 0
			for i++; i < len(a) && (depth > 0 || a[i] != ')'); i++ {
				switch a[i] {
				case '\\':
					i++
				case '[':
					i = classEnd(a, i)
				case '(':
					depth++
				case ')':
					depth--
				}
			}
		default:
			return false
		}
	}
	return true
}

// classEnd returns the offset of the ']' closing the class opened at a[i].
func classEnd(a string, i int) int {
	j := i + 1
	if j < len(a) && a[j] == '^' {
		j++
	}
	if j < len(a) && a[j] == ']' {
		j++ // a leading ] is a member
	}
	for ; j < len(a) && a[j] != ']'; j++ {
		if a[j] == '\\' {
			j++
		}
	}
	return j
}

// leadingLookahead splits a param's pattern "(?!A)R" into A and R.
func leadingLookahead(pat string) (ahead, rest string, ok bool) {
	if !strings.HasPrefix(pat, "(?!") {
		return "", "", false
	}
	depth := 0
	for j := 0; j < len(pat); j++ {
		switch pat[j] {
		case '\\':
			j++
		case '[':
			for j++; j < len(pat) && pat[j] != ']'; j++ {
				if pat[j] == '\\' {
					j++
				}
			}
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return pat[3:j], pat[j+1:], true
			}
		}
	}
	return "", "", false
}
