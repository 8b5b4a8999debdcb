// Package routes is wasmroute's route table: it finds the route folders of a
// project's app/ tree (Scan), turns them into URL patterns with the semantics
// of Next.js App Router route handlers and checks them (Build), and matches
// request paths against them (Table.Lookup).
//
// A project's app/ tree mirrors the URL space:
//
//	app/route.wasm                    /
//	app/api/hello/route.wasm          /api/hello
//	app/blog/[slug]/route.wasm        /blog/[slug]         one segment
//	app/docs/[...path]/route.wasm     /docs/[...path]      one or more segments
//	app/files/[[...path]]/route.wasm  /files/[[...path]]   zero or more segments
//	app/(admin)/stats/route.wasm      /stats               a (group) is left out of the URL
//	app/_lib/...                      -                    a _private folder is never routed
//	app/%5Fwell/route.wasm            /_well               %5F escapes a literal underscore
//
// Escapes in folder names are decoded: a static segment matches a request
// segment whose percent-decoded form equals it: app/caf%C3%A9 (or app/café)
// answers both /caf%C3%A9 and /café. Patterns show static segments with '%',
// '/', '[', ']', '?', '#', '\', spaces and control characters escaped.
//
// # Precedence
//
// At each level a request segment tries the static child first, then [x],
// then [...x], then [[...x]], and backtracks when a branch fails deeper down:
// with app/blog/new and app/blog/[slug]/x, /blog/new goes to the first and
// /blog/new/x to the second. Empty request segments match nothing.
//
// # Load errors
//
// Build reports every problem at once as an Errors value, each naming the
// route folders involved relative to the project root ("app/(a)/x", "app" for
// the app folder itself).
//
// # Example
//
//	folders, err := routes.Scan(dir)
//	if err != nil {
//		return err
//	}
//	dirs := make([]string, len(folders))
//	for i, f := range folders {
//		dirs[i] = f.Dir
//	}
//	table, err := routes.Build(dirs)
//	if err != nil {
//		return err // one line per problem
//	}
//	r, ps, ok := table.Lookup(req.URL.EscapedPath(), ps[:0])
package routes

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Table is a checked route table. It is immutable and safe for concurrent
// use by multiple goroutines.
type Table struct {
	root   *node
	routes []*Route
}

// Route is one route of a Table. Routes are shared by all callers of a Table
// and must not be modified.
type Route struct {
	// Pattern is the Next.js style URL pattern, with groups removed:
	// "/", "/api/hello", "/blog/[slug]", "/docs/[...path]", "/files/[[...path]]".
	Pattern string
	// Dir is the route folder relative to app/, as given to Build, such as
	// "(admin)/stats"; "" is app/ itself.
	Dir string
	// Params lists the param names in path order.
	Params []string
	// Index is the position of this route in Table.Routes, so that callers
	// can keep per-route data in a slice.
	Index int
}

// Param is one route param matched by Table.Lookup. It is a plain value,
// safe for concurrent use.
type Param struct {
	// Name is the param name, such as "slug" for [slug].
	Name string
	// Value is the raw, still escaped text of the request path: one segment
	// for [x]; for [...x] and [[...x]] the matched segments joined by "/"
	// ("" when [[...x]] matched nothing).
	Value string
	// CatchAll is true for [...x] and [[...x]].
	CatchAll bool
}

// Values returns the decoded param: one item for [x], one per segment for a
// catch-all (none for an optional catch-all that matched nothing). Each item
// is percent-decoded as by url.PathUnescape, except that an invalid escape is
// kept as-is instead of failing.
func (p Param) Values() []string {
	if !p.CatchAll {
		return []string{unescape(p.Value)}
	}
	if p.Value == "" {
		return nil
	}
	vs := strings.Split(p.Value, "/")
	for i, v := range vs {
		vs[i] = unescape(v)
	}
	return vs
}

// node is a level of the lookup tree. Catch-alls are always leaves.
type node struct {
	route    *Route           // route ending here
	name     string           // param name when this node is a [x] child
	statics  []edge           // static children, when few
	index    map[string]*node // static children by literal, when many
	param    *node            // [x] child
	catchAll *Route           // [...x] child
	optional *Route           // [[...x]] child
}

type edge struct {
	lit string // decoded literal
	n   *node
}

// Routes returns a new slice of the table's routes, sorted by Pattern;
// Routes()[i].Index is i.
func (t *Table) Routes() []*Route { return slices.Clone(t.routes) }

// Lookup matches path, an escaped and cleaned request path such as
// "/blog/hello%20x", and appends the route's params to ps (pass ps[:0] of a
// reused slice). ok is false when no route matches; ps is then returned
// with its length unchanged. Lookup does not allocate when path has no '%'
// and ps has room for the params.
func (t *Table) Lookup(path string, ps []Param) (r *Route, _ []Param, ok bool) {
	if path == "" || path[0] != '/' || t.root == nil {
		return nil, ps, false
	}
	if path == "/" {
		path = ""
	}
	return t.root.match(path, ps)
}

// match matches path, the rest of the request path: "" or "/seg...".
func (n *node) match(path string, ps []Param) (*Route, []Param, bool) {
	if path == "" {
		if n.route != nil {
			return n.route, ps, true
		}
		if r := n.optional; r != nil {
			return r, append(ps, Param{Name: r.Params[len(r.Params)-1], CatchAll: true}), true
		}
		return nil, ps, false
	}
	i, escaped := 1, false
	for ; i < len(path) && path[i] != '/'; i++ {
		escaped = escaped || path[i] == '%'
	}
	seg, rest := path[1:i], path[i:]
	if seg == "" {
		return nil, ps, false
	}
	if c := n.child(seg, escaped); c != nil {
		if r, ps2, ok := c.match(rest, ps); ok {
			return r, ps2, true
		}
	}
	if c := n.param; c != nil {
		if r, ps2, ok := c.match(rest, append(ps, Param{Name: c.name, Value: seg})); ok {
			return r, ps2, true
		}
	}
	r := n.catchAll
	if r == nil {
		r = n.optional
	}
	if r != nil && !strings.HasSuffix(rest, "/") && !strings.Contains(rest, "//") {
		return r, append(ps, Param{Name: r.Params[len(r.Params)-1], Value: path[1:], CatchAll: true}), true
	}
	return nil, ps, false
}

// child returns the static child matching the request segment seg, which
// holds a '%' when escaped is true.
func (n *node) child(seg string, escaped bool) *node {
	if n.statics == nil && n.index == nil {
		return nil
	}
	if escaped {
		seg = unescape(seg)
	}
	if n.index != nil {
		return n.index[seg]
	}
	for _, e := range n.statics {
		if e.lit == seg {
			return e.n
		}
	}
	return nil
}

// bnode is a level of the tree while building, before it is checked.
type bnode struct {
	children map[segment]*bnode
	dirs     []string // route folders ending here
}

// Build checks the route folders dirs (relative to app/, slash-separated, in
// any order, as Scan returns them) and builds their table. Folders under a
// private folder are ignored. On failure the error is an Errors value that
// lists every problem. Build is safe for concurrent use.
func Build(dirs []string) (*Table, error) {
	dirs = slices.Clone(dirs)
	slices.Sort(dirs)
	dirs = slices.Compact(dirs)
	var errs Errors
	root := &bnode{}
	for _, dir := range dirs {
		segs, private, perrs := parseDir(dir)
		if private {
			continue
		}
		if len(perrs) > 0 {
			errs = append(errs, perrs...)
			continue
		}
		n := root
		for _, s := range segs {
			c := n.children[s]
			if c == nil {
				c = &bnode{}
				if n.children == nil {
					n.children = map[segment]*bnode{}
				}
				n.children[s] = c
			}
			n = c
		}
		n.dirs = append(n.dirs, dir)
	}
	errs = append(errs, root.check(nil)...)
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	t := &Table{}
	t.root = root.compile(nil, &t.routes)
	slices.SortFunc(t.routes, func(a, b *Route) int { return cmp.Compare(a.Pattern, b.Pattern) })
	for i, r := range t.routes {
		r.Index = i
	}
	return t, nil
}

// check reports the conflicts at n and below; segs is the path to n.
func (n *bnode) check(segs []segment) Errors {
	var errs Errors
	pattern := patternOf(segs)
	if len(n.dirs) > 1 {
		errs = append(errs, dirError(n.dirs, resolve(len(n.dirs), pattern)+"; keep one"))
	}
	var byKind [optCatchAll + 1][]segment
	for _, s := range sortedKeys(n.children) {
		byKind[s.kind] = append(byKind[s.kind], s)
	}
	for k := param; k <= optCatchAll; k++ {
		if len(byKind[k]) > 1 {
			errs = append(errs, dirError(n.dirsUnder(byKind[k]...),
				fmt.Sprintf("different param names at the same level (%s); use one name", join(byKind[k]))))
		}
	}
	if len(byKind[catchAll]) > 0 && len(byKind[optCatchAll]) > 0 {
		both := append(slices.Clone(byKind[catchAll]), byKind[optCatchAll]...)
		errs = append(errs, dirError(n.dirsUnder(both...),
			fmt.Sprintf("a required and an optional catch-all at the same level (%s); keep one", join(both))))
	}
	if len(n.dirs) > 0 {
		for _, s := range byKind[optCatchAll] {
			files := append(slices.Clone(n.dirs), n.children[s].dirs...)
			errs = append(errs, dirError(files, fmt.Sprintf("%s (%s also matches no segment); remove one or use [...%s]",
				resolve(len(files), pattern), s, s.text)))
		}
	}
	for _, s := range sortedKeys(n.children) {
		errs = append(errs, n.children[s].check(append(segs[:len(segs):len(segs)], s))...)
	}
	return errs
}

// dirsUnder returns the route folders at or below the children keys of n.
func (n *bnode) dirsUnder(keys ...segment) []string {
	var dirs []string
	var walk func(*bnode)
	walk = func(b *bnode) {
		dirs = append(dirs, b.dirs...)
		for _, c := range b.children {
			walk(c)
		}
	}
	for _, k := range keys {
		walk(n.children[k])
	}
	return dirs
}

// compile turns a checked bnode into a node, adding its routes to routes.
func (n *bnode) compile(segs []segment, routes *[]*Route) *node {
	out := &node{}
	if len(n.dirs) == 1 {
		out.route = newRoute(n.dirs[0], segs)
		*routes = append(*routes, out.route)
	}
	for _, s := range sortedKeys(n.children) {
		c := n.children[s].compile(append(segs[:len(segs):len(segs)], s), routes)
		switch s.kind {
		case static:
			out.statics = append(out.statics, edge{s.text, c})
		case param:
			out.param, c.name = c, s.text
		case catchAll:
			out.catchAll = c.route
		case optCatchAll:
			out.optional = c.route
		}
	}
	if len(out.statics) > maxLinear {
		out.index = make(map[string]*node, len(out.statics))
		for _, e := range out.statics {
			out.index[e.lit] = e.n
		}
		out.statics = nil
	}
	return out
}

// maxLinear is the most static children a node scans; more go in a map.
const maxLinear = 8

func newRoute(dir string, segs []segment) *Route {
	r := &Route{Pattern: patternOf(segs), Dir: dir}
	for _, s := range segs {
		if s.kind != static {
			r.Params = append(r.Params, s.text)
		}
	}
	return r
}

func patternOf(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s.String())
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// sortedKeys returns m's keys, statics (by literal) then [x], [...x], [[...x]] (by name).
func sortedKeys(m map[segment]*bnode) []segment {
	keys := make([]segment, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b segment) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), strings.Compare(a.text, b.text))
	})
	return keys
}

func join(segs []segment) string {
	s := make([]string, len(segs))
	for i, seg := range segs {
		s[i] = seg.String()
	}
	return strings.Join(s, " vs ")
}

func resolve(n int, pattern string) string {
	if n == 2 {
		return "both resolve to " + pattern
	}
	return fmt.Sprintf("all %d resolve to %s", n, pattern)
}
