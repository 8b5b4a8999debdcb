package runtime

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmroute/wasmroute/host"
	"github.com/wasmroute/wasmroute/internal/routes"
)

var _ http.Handler = (*Server)(nil)

var methodGET = methodIndex["GET"]

// ServeHTTP routes r to its module and runs the method's export.
//
// A path with a trailing slash, or one that is not clean ("//", "..", "."),
// is redirected with 308 to its clean form. A method the module does not
// export gets 405 with Allow, except HEAD (served by GET, body dropped) and
// OPTIONS (204 with Allow). A module that exports no method answers 405,
// logging an error. A route with a cors block answers preflights and adds
// its headers to every other response (cors.go). A traceparent header that
// is not one valid W3C traceparent is dropped, with its tracestate, before
// anything reads the request; Config.Metrics, AccessLog and Tracer observe
// it (observe.go).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	checkTrace(r.Header) // observe.go
	if s.obs != nil {
		s.obs.serve(w, r, s.serveHTTP) // observe.go: metrics, access log, spans
		return
	}
	s.serveHTTP(w, r)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if clean := cleanPath(path); clean != path {
		redirect(w, r, clean)
		return
	}
	r = stripInternal(r) // middleware.go
	if s.mw != nil {
		if w, r = s.middleware(w, r, path); r == nil {
			return // it answered
		}
		path = r.URL.EscapedPath()
	}
	rt, params, ok := s.lookup(path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.obs.route(w, rt)
	if rt.broken != "" { // with Config.Dev only, which printed it at load
		http.Error(w, rt.broken, http.StatusInternalServerError)
		return
	}
	if rt.cors != nil {
		if w = rt.cors.handle(w, r); w == nil {
			return // a preflight, answered (cors.go)
		}
	}
	m, ok := rt.methods.lookup(r.Method)
	switch {
	case ok:
	case r.Method == http.MethodHead && rt.methods.has(methodGET):
		m = methodGET
	case r.Method == http.MethodOptions:
		w.Header().Set("Allow", rt.allow)
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		if rt.methods.empty() {
			// As Next.js logs it: the route's author must hear of it.
			s.log.Error("route exports no method", "route", rt.Pattern, "method", r.Method, "file", rt.File, "notMethods", strings.Join(rt.methods.misnamed, ", "))
		}
		w.Header().Set("Allow", rt.allow)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if m == methodGET && rt.cache.on && s.responses != nil {
		s.serveCached(w, r, path, rt, params) // cache.go
		return
	}
	s.serve(w, r, rt, m, params)
}

func (s *Server) lookup(path string) (*route, []routes.Param, bool) {
	r, params, ok := s.table.Lookup(path, nil)
	if !ok {
		return nil, nil, false
	}
	return s.routes[r.Index], params, true
}

// serve runs method m of rt's module for one request, within rt's limits.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt *route, m int, params []routes.Param) {
	lim := &rt.limits
	if r.ContentLength > lim.MaxBody {
		s.obs.limit(rt, limitMaxBody)
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	if s.cfg.MaxCompiled > 0 { // only eviction reads it
		rt.used.Store(time.Now().UnixNano())
	}
	waitStart := s.obs.now()
	inst, err := rt.pool.get(r.Context(), lim.MaxWait)
	s.obs.waited(w, waitStart)
	switch {
	case errors.Is(err, errBusy):
		s.obs.busy(rt, err)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case err != nil && r.Context().Err() != nil:
		// The client left while waiting. Abort rather than return: were it
		// still there, an empty 200 would look like a success.
		panic(http.ErrAbortHandler)
	case err != nil:
		out := s.guestOutput(rt.Pattern, errorOutput(err))
		s.log.Error("instantiate", "route", rt.Pattern, "file", rt.File, "err", err, "output", out)
		s.obs.trap(rt)
		s.fail(w, rt, err, out)
		return
	}

	// The request's deadline and its client's departure stop the guest at
	// its next loop or call check (wasmbin.Instrument) or host call
	// (Exchange.Done and the call's context); a guest asleep in poll_oneoff
	// wakes, and the connection deadlines set at the time limit wake one
	// blocked reading a slow body or writing to a slow client. Nothing
	// touches the connection once the call has returned (deadline.disarm).
	d := inst.deadline
	armed := time.Now()
	done := d.arm(w, lim.MaxDuration)

	ex := &inst.ex
	ex.Reset(w, r, params)
	if r.Body != nil && r.Body != http.NoBody {
		// The server's own writer: told the body is too large, it closes
		// the connection after the answer rather than read on.
		ex.Body = http.MaxBytesReader(serverWriter(w), r.Body, lim.MaxBody)
	}
	ex.Done = done
	// The guest's fetches and store calls end with the call (ex.End), which
	// the timer above stops at maxDuration; their own deadline, a backstop,
	// comes a little later, so that a fetch cut at the limit never wins the
	// race against the timer and lets the guest answer late (with a 502)
	// where the limit's 504 is due.
	ex.Deadline = armed.Add(lim.MaxDuration + serviceGrace)
	ex.Outbound = rt.outbound
	ex.KV = s.guestKV
	ex.Revalidator = s.responses
	ex.MaxResponseBytes = lim.MaxResponse
	ex.MaxHeaders = lim.MaxHeaders
	ex.MaxHeaderBytes = int(lim.MaxHeaderBytes)
	err = inst.fns[m].CallWithStack(host.WithExchange(r.Context(), ex), nil)
	ex.End() // the guest's fetches end with its call, whatever its outcome
	// From here on the timer leaves the connection alone. An instance whose
	// time ran out cannot serve again, even if its guest returned in time.
	timedOut := d.disarm()
	out := s.guestOutput(rt.Pattern, inst.out.take())
	var exit *sys.ExitError
	switch {
	case err != nil && timedOut:
		headSent := ex.HeadSent()
		rt.pool.put(inst, true)
		s.obs.limit(rt, limitMaxDuration)
		s.log.Warn("request stopped: over its time limit", "route", rt.Pattern, "method", r.Method, "maxDuration", lim.MaxDuration, "output", out)
		if headSent {
			panic(http.ErrAbortHandler)
		}
		clear(w.Header())
		w.Header().Set("Connection", "close") // its deadlines are spent
		w.WriteHeader(http.StatusGatewayTimeout)
	case err != nil && r.Context().Err() != nil:
		// Logged before the instance goes back: its next request, served
		// at once, comes after the line.
		s.log.Debug("client left", "route", rt.Pattern, "method", r.Method)
		rt.pool.put(inst, true)
		panic(http.ErrAbortHandler) // never an empty 200, should it still listen
	case err == nil:
		if out != "" {
			s.log.Info("guest output", "route", rt.Pattern, "method", r.Method, "output", out)
		}
		if timedOut && !ex.HeadSent() {
			// The limit passed as the guest returned: its answer stands,
			// but the connection's deadlines may be spent.
			w.Header().Set("Connection", "close")
		}
		s.finish(w, r, rt, ex)
		ex.Reset(nil, nil, nil) // an idle instance holds no request
		// An instance whose stack went deep goes, with the stack wazero
		// grew for it (wasmbin.DeepExport).
		deep := inst.deep != nil && inst.deep.Get() != 0
		fresh := !deep && (lim.Isolation != IsolationRequest || s.obs.reset(inst))
		rt.pool.put(inst, timedOut || !fresh)
	case errors.As(err, &exit) && exit.ExitCode() == 0:
		// The guest exited cleanly: its response stands, its instance is gone.
		s.finish(w, r, rt, ex)
		rt.pool.put(inst, true)
	default:
		headSent := ex.HeadSent()
		rt.pool.put(inst, true)
		s.log.Error("guest failed", "route", rt.Pattern, "method", r.Method, "file", rt.File, "err", err, "output", out)
		s.obs.trap(rt)
		if headSent {
			// Too late for a 500: make the client see a broken response
			// rather than a complete-looking one.
			panic(http.ErrAbortHandler)
		}
		s.fail(w, rt, err, out)
	}
}

// fail answers 500 for a route whose guest failed: empty, or with
// Config.Dev the error and the guest's output as text.
func (s *Server) fail(w http.ResponseWriter, rt *route, err error, out string) {
	if !s.cfg.Dev {
		fail(w, http.StatusInternalServerError)
		return
	}
	clear(w.Header())
	msg := fmt.Sprintf("%s: %v", rt.File, err)
	if out != "" {
		msg += "\n\nguest output:\n" + out
	}
	http.Error(w, s.redacted(msg), http.StatusInternalServerError)
}

// serviceGrace is how long after its request's maxDuration a guest's
// service call (fetch, key-value store) is cut, should the request's timer
// not have stopped the guest first.
const serviceGrace = 100 * time.Millisecond

// finish completes the response of a guest that returned.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, rt *route, ex *host.Exchange) {
	if ex.BodyTooLarge() && !ex.HeadSent() {
		s.obs.limit(rt, limitMaxBody)
		fail(w, http.StatusRequestEntityTooLarge)
		return
	}
	if err := ex.Finish(); err != nil && r.Context().Err() == nil {
		s.log.Debug("finish response", "route", rt.Pattern, "err", err)
	}
}

// fail answers status with an empty body, dropping the headers the guest set:
// a half-built response's cookies must not ride on an error.
func fail(w http.ResponseWriter, status int) {
	clear(w.Header())
	w.WriteHeader(status)
}

// varies reports whether the Vary header values name the header name
// (compared as header names are, in any case).
func varies(values []string, name string) bool {
	for _, v := range values {
		for n := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.Trim(n, " \t"), name) {
				return true
			}
		}
	}
	return false
}

// cleanPath returns p without a trailing slash and with "//", "." and ".."
// resolved.
func cleanPath(p string) string {
	c := httprouter.CleanPath(p)
	if len(c) > 1 && strings.HasSuffix(c, "/") {
		c = c[:len(c)-1]
	}
	return c
}

// redirect answers 308 to path, keeping the query.
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", path)
	w.WriteHeader(http.StatusPermanentRedirect)
}
