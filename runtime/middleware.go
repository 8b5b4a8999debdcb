package runtime

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmroute/wasmroute/abi"
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
// other headers are added to the route's response. Any other answer (a
// redirect, a 401) is the client's. RATIONALE.md says why.

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

// loadMiddleware finds the project's middleware file, reads its
// configuration (block, wasmroute.json's "middleware") and checks its module
// as load checks a route's. It returns nil when the project has none.
func (s *Server) loadMiddleware(ctx context.Context, block json.RawMessage) (mw *middleware, errs, warns []string) {
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
	conf, matchers, err := parseMiddlewareConfig(block)
	if err == nil {
		err = conf.within(confFile, s.ceiling, 0, kvLimits{})
	}
	if err != nil {
		return nil, []string{err.Error()}, nil
	}
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
	case len(block) > 0:
		return nil, []string{confFile + ": the project has no middleware file (middleware.ts, proxy.ts or middleware.wasm)"}, nil
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
	)
	if file != middlewareWasm {
		if js, errs, warns = s.bundle(ctx, file, confFile, conf, &limits); len(errs) > 0 {
			return nil, errs, warns
		}
		if js.Config.Matcher != nil {
			if matchers != nil {
				return nil, []string{fmt.Sprintf("%s: exports config.matcher and %s sets matcher too: keep one", file, confFile)}, warns
			}
			matchers = js.Config.Matcher
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
	if pages, ok := info.MemoryMin[abi.ExportMemory]; ok && pages*wasmPageSize > uint64(limits.MaxMemory) {
		errs = append(errs, fmt.Sprintf("starts with %s of memory, more than its maxMemory of %s", FormatSize(int64(pages)*wasmPageSize), FormatSize(limits.MaxMemory)))
	}
	compiledMatchers, err := compileMatchers(matchers)
	if err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		for i, msg := range errs {
			errs[i] = file + ": " + msg
		}
		return nil, errs, warns
	}

	pages := uint32(limits.MaxMemory / wasmPageSize)
	rt := func() (wazero.Runtime, error) { return s.runtime(ctx, runtimeKey{pages}) }
	if _, err := rt(); err != nil {
		return nil, []string{err.Error()}, warns
	}
	s.secretsMu.Lock()
	env, err := resolveEnv(confFile, conf.Env, s.cfg.Untrusted, os.LookupEnv, s.secrets)
	s.secretsMu.Unlock()
	if err != nil {
		return nil, []string{err.Error()}, warns
	}
	out, err := s.outbound(file, conf.AllowedOutboundHosts, confFile, limits)
	if err != nil {
		return nil, []string{err.Error()}, warns
	}
	modCfg := moduleConfig()
	for k, v := range mergeEnv(s.cfg.Env, env) {
		modCfg = modCfg.WithEnv(k, v)
	}
	m := &module{File: file, Size: size, methods: methods, limits: limits, root: s.root, path: path, rt: rt,
		cfg: modCfg, log: s.log, js: js, outbound: out, middleware: true}
	if js != nil {
		m.engine = func(ctx context.Context) (*engine, error) { return s.engine(ctx, runtimeKey{pages}, limits.MaxMemory) }
	}
	m.pool = newPool(limits.MaxInstances, s.tenant, func(ctx context.Context) (*instance, error) {
		c, err := m.compile(ctx)
		if err != nil {
			return nil, err
		}
		ictx, cancel := context.WithTimeout(ctx, limits.MaxDuration)
		defer cancel()
		inst, err := c.newInstance(ictx, modCfg, methods)
		if err == nil && js == nil {
			inst.fns[methodGET] = inst.mod.ExportedFunction(middlewareExport)
		}
		return inst, err
	})
	return &middleware{module: m, matchers: compiledMatchers}, nil, warns
}

// parseMiddlewareConfig reads wasmroute.json's "middleware" block: the
// limits, env and allowedOutboundHosts a route.json may set, and matcher.
func parseMiddlewareConfig(block json.RawMessage) (fileConfig, []jsbuild.Matcher, error) {
	const name = "wasmroute.json: middleware"
	if len(block) == 0 {
		return fileConfig{}, nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(block, &fields); err != nil || fields == nil {
		return fileConfig{}, nil, fmt.Errorf("%s: must be an object", name)
	}
	var matchers []jsbuild.Matcher
	if m, ok := fields["matcher"]; ok {
		var v any
		err := json.Unmarshal(m, &v)
		if err == nil {
			matchers, err = jsbuild.ReadMatchers(map[string]any{"matcher": v})
		}
		if err != nil {
			return fileConfig{}, nil, fmt.Errorf("%s: %w", name, err)
		}
		delete(fields, "matcher")
	}
	rest, _ := json.Marshal(fields)
	conf, err := parseConfig(rest, name, true)
	return conf, matchers, err
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
// copy with the path or headers the middleware chose; or nil when the
// middleware answered (or failed: 500), w then holding the answer.
func (s *Server) middleware(w http.ResponseWriter, r *http.Request, path string) *http.Request {
	mw := s.mw
	if !mw.matches(r, path) {
		return r
	}
	lim := &mw.limits
	inst, err := mw.pool.get(r.Context(), lim.MaxWait)
	switch {
	case err == errBusy:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return nil
	case err != nil && r.Context().Err() != nil:
		panic(http.ErrAbortHandler)
	case err != nil:
		s.log.Error("middleware failed: instantiate", "file", mw.File, "err", err, "output", s.guestOutput(mw.File, errorOutput(err)))
		w.WriteHeader(http.StatusInternalServerError)
		return nil
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
	ex.Deadline = armed.Add(lim.MaxDuration)
	ex.Outbound = mw.outbound
	ex.KV = s.kv
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
		return nil
	}
	if ans.direct {
		return nil // answered
	}
	return s.follow(w, r, ans.header)
}

// follow goes on with r after a middleware answered next or rewrite, with
// the headers h of its answer, as Next.js's server does; see middleware.
func (s *Server) follow(w http.ResponseWriter, r *http.Request, h http.Header) *http.Request {
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
			return nil
		}
		if out == r {
			out = r.WithContext(r.Context())
		}
		out.URL = to
	}
	// The middleware's other headers go with the route's response, under
	// those the route sets.
	for k, vs := range h {
		if !strings.HasPrefix(k, "X-Middleware-") {
			w.Header()[k] = append(w.Header()[k], vs...)
		}
	}
	return out
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
func (s *Server) loadMiddlewareLogged(ctx context.Context, block json.RawMessage) (*middleware, []string) {
	mw, errs, warns := s.loadMiddleware(ctx, block)
	for _, w := range warns {
		s.log.Warn(w)
	}
	return mw, errs
}
