package runtime

import (
	"errors"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmroute/wasmroute/host"
	"github.com/wasmroute/wasmroute/internal/routes"
)

var _ http.Handler = (*Server)(nil)

var (
	methodGET  = methodIndex["GET"]
	methodHEAD = methodIndex["HEAD"]
)

// ServeHTTP routes r to its module and runs the method's export.
//
// A path with a trailing slash, or one that is not clean ("//", "..", "."),
// is redirected with 308 to its clean form. A method the module does not
// export gets 405 with Allow, except HEAD (served by GET, body dropped) and
// OPTIONS (204 with Allow).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if clean := cleanPath(path); clean != path {
		redirect(w, r, clean)
		return
	}
	rt, params, ok := s.lookup(path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	m, known := methodIndex[r.Method]
	switch {
	case known && rt.methods.has(m):
	case m == methodHEAD && known && rt.methods.has(methodGET):
		m = methodGET
	case r.Method == http.MethodOptions:
		w.Header().Set("Allow", rt.allow)
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", rt.allow)
		w.WriteHeader(http.StatusMethodNotAllowed)
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

// serve runs method m of rt's module for one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt *route, m int, params []routes.Param) {
	if r.ContentLength > s.cfg.MaxBody {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	inst, err := rt.pool.get(r.Context())
	if err != nil {
		if r.Context().Err() == nil {
			s.log.Error("instantiate", "route", rt.Pattern, "file", rt.File, "err", err)
			w.WriteHeader(http.StatusInternalServerError)
		}
		return
	}
	ex := &inst.ex
	ex.Reset(w, r, params)
	ex.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
	err = inst.fns[m].CallWithStack(host.WithExchange(r.Context(), ex), nil)
	out := inst.out.take()
	var exit *sys.ExitError
	switch {
	case err == nil:
		if out != "" {
			s.log.Info("guest output", "route", rt.Pattern, "method", r.Method, "output", out)
		}
		s.finish(w, r, rt, ex)
		ex.Reset(nil, nil, nil) // an idle instance holds no request
		rt.pool.put(inst, false)
	case errors.As(err, &exit) && exit.ExitCode() == 0:
		// The guest exited cleanly: its response stands, its instance is gone.
		s.finish(w, r, rt, ex)
		rt.pool.put(inst, true)
	default:
		headSent := ex.HeadSent()
		rt.pool.put(inst, true)
		s.log.Error("guest failed", "route", rt.Pattern, "method", r.Method, "file", rt.File, "err", err, "output", out)
		if headSent {
			// Too late for a 500: make the client see a broken response
			// rather than a complete-looking one.
			panic(http.ErrAbortHandler)
		}
		fail(w, http.StatusInternalServerError)
	}
}

// finish completes the response of a guest that returned.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, rt *route, ex *host.Exchange) {
	if ex.BodyTooLarge() && !ex.HeadSent() {
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
