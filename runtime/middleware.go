package runtime

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmroute/wasmroute/host"
	"github.com/wasmroute/wasmroute/internal/jsbuild"
	"github.com/wasmroute/wasmroute/internal/wasmbin"
)

// A project's middleware (middleware.ts, proxy.ts, middleware.wasm at its
// root) runs before routing, for every request whose path its matcher
// accepts, in the same sandbox as the routes and under its own limits
// (wasmroute.json's "middleware" block over the project's). It answers like
// a route, and the host reads its answer as Next.js's server reads a
// middleware's: x-middleware-next goes on to the route, x-middleware-rewrite
// goes on to the route of another path, x-middleware-override-headers and
// x-middleware-request-* replace the request headers the route sees; its
// other headers, but those that frame its own answer, go on the answer
// that follows (mwHeaders). Any other answer (a redirect, a 401) is the
// client's. A client's own x-middleware-* headers are dropped from every
// request first (stripInternal). RATIONALE.md says why.

// middlewareExport is the function a middleware.wasm module exports.
const middlewareExport = "middleware"

// middlewareWasm and middlewareGo are the WebAssembly middleware and its Go
// source, at the project's root.
const (
	middlewareWasm = "middleware.wasm"
	middlewareGo   = "middleware.go"
)

// middleware is a project's loaded middleware: its module and the paths it
// runs for.
type middleware struct {
	*module
	matchers []matcher // nil: every path
}

// Middleware names the project's middleware file, "" when it has none.
func (s *Server) Middleware() string {
	if s.mw == nil {
		return ""
	}
	return s.mw.File
}

// loadMiddleware finds the project's middleware file, reads its
// configuration (block, wasmroute.json's "middleware") and checks its module
// as load checks a route's. It returns nil when the project has none.
func (s *Server) loadMiddleware(ctx context.Context, block middlewareBlock) (mw *middleware, errs, warns []string) {
	// A file that is there but cannot be read (a symlink out of the
	// project, a folder) fails the load: a project must not lose its
	// middleware, and run unguarded, without a word.
	var found []string
	for _, name := range append(slices.Clone(jsbuild.MiddlewareFiles), middlewareWasm, middlewareGo) {
		if _, err := s.root.Lstat(name); err != nil {
			continue
		}
		fi, err := s.root.Stat(name)
		switch {
		case err != nil:
			errs = append(errs, fmt.Sprintf("%s: cannot read: %v", name, err))
		case !fi.Mode().IsRegular():
			errs = append(errs, name+": is not a file")
		default:
			found = append(found, name)
		}
	}
	if len(errs) > 0 {
		return nil, errs, nil
	}
	const confFile = "wasmroute.json: middleware"
	mc, errs := decodeMiddleware(block)
	if len(errs) == 0 {
		if err := mc.within(mc.name, s.ceiling, 0, kvLimits{}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return nil, errs, nil
	}
	conf, matchers := mc.fileConfig, mc.matchers
	file := ""
	switch js := slices.DeleteFunc(slices.Clone(found), func(f string) bool { return !jsbuild.IsMiddleware(f) }); {
	case len(js) > 1 || len(js) == 1 && slices.Contains(found, middlewareWasm):
		return nil, []string{fmt.Sprintf("%s: a project has one middleware: keep one of these files", strings.Join(slices.DeleteFunc(found, func(f string) bool { return f == middlewareGo }), ", "))}, nil
	case len(js) == 1:
		file = js[0]
	case slices.Contains(found, middlewareWasm):
		file = middlewareWasm
	case slices.Contains(found, middlewareGo):
		return nil, []string{fmt.Sprintf("%s: not built: run `wasmroute build %s`", middlewareGo, s.cfg.Dir)}, nil
	case block.raw != nil:
		return nil, []string{mc.name + ": the project has no middleware file (middleware.ts, proxy.ts or middleware.wasm)"}, nil
	default:
		return nil, nil, nil
	}

	limits := conf.limits().Or(s.cfg.Limits)
	path := filepath.FromSlash(file)
	var (
		js      *jsbuild.Bundle
		info    *wasmbin.Info
		size    int64
		methods methodSet
		err     error
	)
	if file != middlewareWasm {
		if js, errs, warns = s.bundle(ctx, file, confFile, conf, &limits); len(errs) > 0 {
			return nil, errs, warns
		}
		if js.Config.Matcher != nil {
			if mc.matcherSet {
				return nil, []string{fmt.Sprintf("%s: exports config.matcher and %s sets matcher too: keep one", file, mc.name)}, warns
			}
			var problems []matcherProblem
			if matchers, problems = compileMatchers(js.Config.Matcher); problems != nil {
				for _, p := range problems {
					errs = append(errs, fmt.Sprintf("%s: config.matcher %s", file, p.msg))
				}
				return nil, errs, warns
			}
		}
		size, methods = int64(len(js.Code)), methodSet{std: 1 << methodGET} // the engine's GET export runs the middleware
		info, err = engineInfo()
	} else {
		info, size, err = wasmbin.ReadHead(s.root, path)
		if err != nil && !errors.Is(err, wasmbin.ErrTruncated) && !errors.As(err, new(*fs.PathError)) {
			err = fmt.Errorf("not a valid WebAssembly module: %w", err)
		}
		if err == nil {
			var w []string
			methods, errs, w = checkMiddleware(info)
			for _, msg := range w {
				warns = append(warns, file+": "+msg)
			}
		}
	}
	if err != nil {
		return nil, []string{fmt.Sprintf("%s: %v", file, err)}, warns
	}
	if p := memoryProblem(info, limits); p != "" {
		errs = append(errs, p)
	}
	if len(errs) > 0 {
		for i, msg := range errs {
			errs[i] = file + ": " + msg
		}
		return nil, errs, warns
	}
	m := &module{File: file, Size: size, methods: methods, js: js, middleware: true}
	var bind func(*instance)
	if js == nil {
		bind = func(inst *instance) { inst.fns[methodGET] = inst.mod.ExportedFunction(middlewareExport) }
	}
	if errs := s.newModule(ctx, m, path, confFile, conf, limits, bind); len(errs) > 0 {
		return nil, errs, warns
	}
	return &middleware{module: m, matchers: matchers}, nil, warns
}

// middlewareBlock is wasmroute.json's "middleware" object as it stands in
// the file, for decodeMiddleware to read with the file's machinery
// (configparse.go): its problems are at their line in wasmroute.json.
type middlewareBlock struct {
	file  jsonFile
	start int64           // the object's offset in file
	raw   json.RawMessage // nil: no block
}

func (b *middlewareBlock) UnmarshalJSON(data []byte) error {
	b.raw = slices.Clone(data)
	return nil
}

func (b *middlewareBlock) place(f jsonFile, start int64) { b.file, b.start = f, start }

// middlewareConfig is a decoded "middleware" block: the keys a route.json
// may set, and matcher.
type middlewareConfig struct {
	fileConfig
	name       string    // "wasmroute.json:3:17: middleware", for messages
	matcherSet bool      // the block sets matcher
	matchers   []matcher // nil: every path
}

// decodeMiddleware decodes wasmroute.json's "middleware" block and returns
// every problem found, each at its key's (or its matcher entry's)
// line:column in wasmroute.json.
func decodeMiddleware(b middlewareBlock) (c middlewareConfig, problems []string) {
	c.name = "wasmroute.json: middleware"
	if b.raw == nil {
		return c, nil
	}
	f := b.file
	c.name = f.at(b.start) + ": middleware"
	members, err := f.object(b.start, b.start+int64(len(b.raw)))
	if err != nil {
		return c, []string{strings.Replace(err.Error(), ": ", ": middleware: ", 1)}
	}
	rest := make([]member, 0, len(members))
	for _, m := range members {
		if m.key != "matcher" {
			rest = append(rest, m)
			continue
		}
		if c.matcherSet {
			problems = append(problems, fmt.Sprintf("%s: middleware: matcher: set twice", f.at(m.at)))
			continue
		}
		c.matcherSet = true
		var ps []string
		c.matchers, ps = decodeMatcher(f, m)
		problems = append(problems, ps...)
	}
	var ps []string
	c.fileConfig, ps = decodeMembers(f, rest, "middleware: ", true)
	if c.Revalidate != nil || c.Dynamic != "" {
		ps = append(ps, fmt.Sprintf("%s: middleware: revalidate and dynamic cache a route's answers; a middleware's are never cached", f.name))
	}
	return c, append(problems, ps...)
}

// decodeMatcher reads and compiles the block's matcher m: a string, an
// object { source, has, missing }, or a list of them. Each problem is at
// its entry's line.
func decodeMatcher(f jsonFile, m member) ([]matcher, []string) {
	var v any
	if err := json.Unmarshal(m.value, &v); err != nil { // f.object read it: valid JSON
		return nil, []string{fmt.Sprintf("%s: middleware: matcher: %v", f.at(m.start), err)}
	}
	if v == nil {
		return nil, nil // every path
	}
	list, isList := v.([]any)
	offsets := []int64{m.start}
	if isList {
		offsets = elementOffsets(m.value, m.start)
	} else {
		list = []any{v}
	}
	var problems []string
	at := func(entry int) string {
		if entry < 0 || entry >= len(offsets) {
			return f.at(m.at)
		}
		return f.at(offsets[entry])
	}
	ms := make([]jsbuild.Matcher, 0, len(list))
	entries := make([]int, 0, len(list)) // ms[i] is list[entries[i]]
	for i, e := range list {
		var got []jsbuild.Matcher
		var err error
		switch e.(type) {
		case nil, []any:
			err = errors.New("want a string or an object { source, has, missing }")
		default:
			got, err = jsbuild.ReadMatchers(map[string]any{"matcher": e})
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: middleware: matcher: %v", at(i), err))
			continue
		}
		ms = append(ms, got...)
		entries = append(entries, i)
	}
	compiled, failed := compileMatchers(ms)
	for _, p := range failed {
		entry := -1
		if p.entry >= 0 {
			entry = entries[p.entry]
		}
		problems = append(problems, fmt.Sprintf("%s: middleware: matcher %s", at(entry), p.msg))
	}
	return compiled, problems
}

// elementOffsets returns the offsets of the elements of the JSON list
// value, which starts at offset start.
func elementOffsets(value json.RawMessage, start int64) []int64 {
	dec := json.NewDecoder(bytes.NewReader(value))
	if _, err := dec.Token(); err != nil { // [
		return nil
	}
	var offsets []int64
	for dec.More() {
		off := dec.InputOffset()
		for off < int64(len(value)) && strings.IndexByte(" \t\r\n,", value[off]) >= 0 {
			off++
		}
		offsets = append(offsets, start+off)
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			break
		}
	}
	return offsets
}

// checkMiddleware checks a middleware.wasm module as check does a route's,
// but for its one export, middleware.
func checkMiddleware(info *wasmbin.Info) (methodSet, []string, []string) {
	methods, errs, warns := check(info)
	warns = slices.DeleteFunc(warns, func(w string) bool { return strings.HasPrefix(w, "exports no method") })
	if !methods.empty() {
		warns = append(warns, fmt.Sprintf("exports methods (%s): a middleware exports one function, %s, which serves every method", methods, middlewareExport))
	}
	x, ok := info.Exports[middlewareExport]
	if !ok || x.Kind != wasmbin.ExternFunc || len(x.Sig.Params) != 0 || len(x.Sig.Results) != 0 {
		errs = append(errs, fmt.Sprintf("must export a function %s taking no parameters and returning nothing", middlewareExport))
	}
	return methodSet{}, errs, warns
}

// middleware runs the project's middleware for r when its matcher accepts
// r's path (cleaned, escaped). It returns the request to route: r, or a
// copy with the path or headers the middleware chose, and the writer to
// answer it through (w, or one adding the middleware's headers); or a nil
// request when the middleware answered (or failed: 500), w then holding
// the answer. With a matcher, a path longer than maxMatchInput is
// refused with 414: it is not matched, and neither the middleware nor a
// route runs for it.
func (s *Server) middleware(w http.ResponseWriter, r *http.Request, path string) (http.ResponseWriter, *http.Request) {
	mw := s.mw
	if mw.matchers != nil && len(path) > maxMatchInput {
		w.WriteHeader(http.StatusRequestURITooLong)
		return w, nil
	}
	if !mw.matches(r, path) {
		return w, r
	}
	lim := &mw.limits
	inst, err := mw.pool.get(r.Context(), lim.MaxWait)
	switch {
	case errors.Is(err, errBusy):
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return w, nil
	case err != nil && r.Context().Err() != nil:
		panic(http.ErrAbortHandler)
	case err != nil:
		s.log.Error("middleware failed: instantiate", "file", mw.File, "err", err, "output", s.guestOutput(mw.File, errorOutput(err)))
		w.WriteHeader(http.StatusInternalServerError)
		return w, nil
	}

	// The middleware's head is read before anything reaches the client
	// (mwWriter): an answer of its own then streams to the client as a
	// route's does, under the same deadline, which may wake it blocked on
	// a slow client.
	d := inst.deadline
	armed := time.Now()
	done := d.arm(w, lim.MaxDuration)
	ans := &mwWriter{w: w, header: http.Header{}}
	ex := &inst.ex
	ex.Reset(ans, r, nil) // no Body: the route reads it
	ex.Done = done
	ex.Deadline = armed.Add(lim.MaxDuration + serviceGrace) // as serve (handler.go)
	ex.Outbound = mw.outbound
	ex.KV = s.guestKV
	ex.Revalidator = s.responses // revalidatePath works from the middleware too
	ex.MaxResponseBytes = lim.MaxResponse
	ex.MaxHeaders = lim.MaxHeaders
	ex.MaxHeaderBytes = int(lim.MaxHeaderBytes)
	err = inst.fns[methodGET].CallWithStack(host.WithExchange(r.Context(), ex), nil)
	ex.End()
	timedOut := d.disarm()
	out := s.guestOutput(mw.File, inst.out.take())
	var exit *sys.ExitError
	switch {
	case err != nil && r.Context().Err() != nil && !timedOut:
		s.log.Debug("client left", "file", mw.File, "method", r.Method)
		mw.pool.put(inst, true)
		panic(http.ErrAbortHandler)
	// Past its time limit, even an answer given as the limit passed fails:
	// the connection's deadlines may be spent, and the route must not run
	// on them.
	case !timedOut && (err == nil || errors.As(err, &exit) && exit.ExitCode() == 0):
		if out != "" {
			s.log.Info("guest output", "file", mw.File, "method", r.Method, "output", out)
		}
		if err := ex.Finish(); err != nil && r.Context().Err() == nil { // the head, 200 if the guest set none
			s.log.Debug("finish response", "file", mw.File, "err", err)
		}
		ex.Reset(nil, nil, nil)
		deep := inst.deep != nil && inst.deep.Get() != 0
		fresh := err == nil && !deep && (lim.Isolation != IsolationRequest || inst.reset())
		mw.pool.put(inst, !fresh)
	default:
		headSent := ans.direct // the client has the middleware's head
		mw.pool.put(inst, true)
		if timedOut {
			s.log.Error("middleware failed: over its time limit", "file", mw.File, "method", r.Method, "path", path, "maxDuration", lim.MaxDuration, "output", out)
		} else {
			s.log.Error("middleware failed", "file", mw.File, "method", r.Method, "path", path, "err", err, "output", out)
		}
		if headSent {
			panic(http.ErrAbortHandler) // a cut response, not a complete-looking one
		}
		fail(w, http.StatusInternalServerError)
		if timedOut {
			w.Header().Set("Connection", "close") // its deadlines are spent
		}
		return w, nil
	}
	if ans.direct {
		return w, nil // answered
	}
	return s.follow(w, r, ans.header)
}

// follow goes on with r after a middleware answered next or rewrite, with
// the headers h of its answer, as Next.js's server does; see middleware.
func (s *Server) follow(w http.ResponseWriter, r *http.Request, h http.Header) (http.ResponseWriter, *http.Request) {
	rewrite := h.Get("X-Middleware-Rewrite")
	out := r
	if names, ok := h["X-Middleware-Override-Headers"]; ok {
		out = r.WithContext(r.Context()) // a shallow copy
		out.Header = http.Header{}
		for name := range strings.SplitSeq(names[0], ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			if name == "" || name == "Host" { // the request's host stays
				continue
			}
			if vs := h.Values("X-Middleware-Request-" + name); len(vs) > 0 {
				out.Header[name] = vs
			}
		}
	}
	if rewrite != "" {
		to, err := rewriteURL(r, rewrite)
		if err != nil {
			s.log.Error("middleware failed: rewrite refused", "file", s.mw.File, "path", r.URL.EscapedPath(), "rewrite", rewrite, "err", err)
			fail(w, http.StatusInternalServerError)
			return w, nil
		}
		if out == r {
			out = r.WithContext(r.Context())
		}
		out.URL = to
	}
	// The middleware's other headers go with the answer that follows.
	if add := answerHeaders(h); add != nil {
		w = &mwHeaders{ResponseWriter: w, h: add}
	}
	return w, out
}

// answerHeaders returns the headers of a middleware's next or rewrite
// answer that go on to the client, or nil if none: not its x-middleware-*
// headers, nor those that frame its own answer (Content-Length, the
// hop-by-hop headers and those its Connection names), which would frame
// the route's answer wrongly (a Content-Length of 3 on an 11-byte body).
func answerHeaders(h http.Header) http.Header {
	var out http.Header
	var named []string // by Connection
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			named = append(named, http.CanonicalHeaderKey(strings.TrimSpace(name)))
		}
	}
	for k, vs := range h {
		ck := http.CanonicalHeaderKey(k)
		if strings.HasPrefix(ck, "X-Middleware-") || framingHeader(ck) || strings.HasPrefix(ck, http.TrailerPrefix) || slices.Contains(named, ck) {
			continue
		}
		if out == nil {
			out = http.Header{}
		}
		out[ck] = append(out[ck], vs...)
	}
	return out
}

// framingHeader reports whether the canonical header name frames a
// response on its connection rather than describing it.
func framingHeader(name string) bool {
	switch name {
	case "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding", "Te", "Trailer", "Upgrade":
		return true
	}
	return strings.HasPrefix(name, "Proxy-")
}

// mwHeaders puts a middleware's headers on the answer that follows it,
// whoever writes it (the route, the cache, the runtime's 404 or 500), as
// its head is written. The answer's own headers win, as a route's
// header_set over the middleware's in Next.js, except the lists that add
// up: Set-Cookie and WWW-Authenticate (the middleware's first), and Vary
// (the names of both).
type mwHeaders struct {
	http.ResponseWriter
	h     http.Header // the middleware's (answerHeaders)
	added bool
}

func (w *mwHeaders) WriteHeader(code int) {
	if !w.added && code >= 200 {
		w.added = true
		dst := w.ResponseWriter.Header()
		for k, vs := range w.h {
			switch {
			case k == "Set-Cookie" || k == "Www-Authenticate":
				dst[k] = slices.Concat(vs, dst[k])
			case k == "Vary":
				dst[k] = mergeVary(dst[k], vs)
			case dst[k] == nil:
				dst[k] = vs
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *mwHeaders) Write(b []byte) (int, error) {
	if !w.added {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// FlushError flushes as http.ResponseController does, the head first.
func (w *mwHeaders) FlushError() error {
	if !w.added {
		w.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (w *mwHeaders) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// mergeVary returns the Vary values have with the names of add it does
// not name yet.
func mergeVary(have, add []string) []string {
	out := slices.Clone(have)
	for _, v := range add {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" && !varies(out, name) {
				out = append(out, name)
			}
		}
	}
	return out
}

// isInternalHeader reports whether a request header is one by which
// Next.js's server and its middleware talk, which Next.js's
// filterInternalHeaders drops from every request: a client sending them
// could otherwise, through a middleware that passes the request's headers
// on (NextResponse.next({ headers: request.headers })), rewrite past it;
// x-middleware-subrequest is CVE-2025-29927's. x-middleware-prefetch,
// which Next.js's client sends, stays.
func isInternalHeader(name string) bool {
	if len(name) < len("x-matched-path") || name[0]|0x20 != 'x' || name[1] != '-' || name[2]|0x20 != 'm' && name[2]|0x20 != 'n' {
		return false
	}
	for _, h := range internalHeaders {
		if strings.EqualFold(name, h) {
			return true
		}
	}
	const request = "x-middleware-request-"
	return len(name) > len(request) && strings.EqualFold(name[:len(request)], request)
}

var internalHeaders = []string{
	"x-middleware-rewrite", "x-middleware-next", "x-middleware-override-headers", "x-middleware-redirect",
	"x-middleware-set-cookie", "x-middleware-skip", "x-middleware-subrequest", "x-middleware-subrequest-id",
	"x-matched-path", "x-now-route-matches",
}

// stripInternal returns r without the internal headers a client sent
// (isInternalHeader): r itself when it has none, else a copy. Every
// request is stripped, with or without a middleware: it costs a look at
// each header's name, and no route then depends on whether the project
// has one.
func stripInternal(r *http.Request) *http.Request {
	for k := range r.Header {
		if isInternalHeader(k) {
			out := r.WithContext(r.Context())
			out.Header = r.Header.Clone()
			maps.DeleteFunc(out.Header, func(k string, _ []string) bool { return isInternalHeader(k) })
			return out
		}
	}
	return r
}

// rewriteURL returns r's URL with the path (and query, if it has one) of
// the rewrite target to. The target must be a path of the project: a path,
// or an http(s) URL of r's own host; anything else would make the server a
// proxy to hosts the operator did not list.
func rewriteURL(r *http.Request, to string) (*url.URL, error) {
	u, err := url.Parse(to)
	switch {
	case err != nil:
		return nil, err
	case u.Opaque != "" || u.User != nil:
		return nil, errors.New("not an http URL of this host")
	case u.Scheme != "" || u.Host != "":
		if u.Scheme != "http" && u.Scheme != "https" || !strings.EqualFold(u.Host, cmp.Or(r.Host, "localhost")) {
			return nil, fmt.Errorf("%s is not this host (%s): a rewrite stays in the project; redirect to leave it", u.Host, r.Host)
		}
	}
	p := u.EscapedPath()
	if !strings.HasPrefix(p, "/") {
		return nil, errors.New("the path is not absolute")
	}
	clean, err := url.Parse(cleanPath(p))
	if err != nil {
		return nil, err
	}
	out := *r.URL
	out.Path, out.RawPath = clean.Path, clean.RawPath
	if u.RawQuery != "" {
		out.RawQuery = u.RawQuery
	}
	return &out, nil
}

// mwWriter is what a middleware writes its answer to. Its head decides:
// with x-middleware-next or x-middleware-rewrite, the request goes on to a
// route and the answer's body is dropped (Next.js has none there); without,
// the answer is the client's, its head (the x-middleware-* headers left
// out) and body passed to the client's ResponseWriter as they come.
type mwWriter struct {
	w      http.ResponseWriter // the client's
	header http.Header         // the middleware's
	direct bool                // the head went to the client
}

func (a *mwWriter) Header() http.Header { return a.header }

func (a *mwWriter) WriteHeader(status int) {
	if a.header.Get("X-Middleware-Next") != "" || a.header.Get("X-Middleware-Rewrite") != "" {
		return
	}
	a.direct = true
	for k, vs := range a.header {
		if !strings.HasPrefix(k, "X-Middleware-") {
			a.w.Header()[k] = vs
		}
	}
	a.w.WriteHeader(status)
}

func (a *mwWriter) Write(b []byte) (int, error) {
	if a.direct {
		return a.w.Write(b)
	}
	return len(b), nil
}

func (a *mwWriter) FlushError() error {
	if a.direct {
		return http.NewResponseController(a.w).Flush()
	}
	return nil
}

// Unwrap lets the client's connection deadlines be set through a
// ResponseController.
func (a *mwWriter) Unwrap() http.ResponseWriter { return a.w }

// compileMiddleware compiles the middleware's module, for CompileAll.
func (s *Server) compileMiddleware(ctx context.Context) error {
	if s.mw == nil {
		return nil
	}
	_, err := s.mw.compile(ctx)
	return err
}

// loadMiddlewareLogged is loadMiddleware with its warnings logged.
func (s *Server) loadMiddlewareLogged(ctx context.Context, block middlewareBlock) (*middleware, []string) {
	mw, errs, warns := s.loadMiddleware(ctx, block)
	for _, w := range warns {
		s.log.Warn(w)
	}
	return mw, errs
}
