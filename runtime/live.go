package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
)

// Live serves a project, or a set of tenants, that can be reloaded while it
// serves: Reload loads the new version beside the old and swaps them in one
// step. A request runs start to end on the version it started on; new
// requests get the new one; the old version is closed, with its instances,
// once its last request has finished. A reload that fails leaves the old
// version serving. Live is an http.Handler, safe for concurrent use.
type Live struct {
	load  func(context.Context) (handler, error)
	log   *slog.Logger
	store *store // the key-value store, shared by every version
	dev   bool

	reloading sync.Mutex // one Reload at a time
	cur       atomic.Pointer[version]
	closing   sync.WaitGroup // retired versions being closed
	count     int            // versions loaded, guarded by reloading
}

// handler is what Live serves: a *Server or *Tenants.
type handler interface {
	http.Handler
	Close(context.Context) error
}

// NewLive loads the project in cfg.Dir as New does, to serve it reloadably.
//
// With cfg.Dev, a project that fails to load as a whole (its wasmroute.json,
// two folders for one URL) is still served: every request gets 500 with
// the problems as text until a Reload succeeds.
func NewLive(ctx context.Context, cfg Config) (*Live, error) {
	l := &Live{log: cmp.Or(cfg.Logger, slog.Default()), dev: cfg.Dev}
	l.store = newStore(cfg, cfg.Dir, l.log)
	cfg.store = l.store
	l.load = func(ctx context.Context) (handler, error) {
		s, err := New(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return l, l.start(ctx)
}

// NewLiveTenants loads the tenants in cfg.Dir as NewTenants does, to serve
// them reloadably: Reload picks up tenants added and removed, and every
// tenant's changes.
func NewLiveTenants(ctx context.Context, cfg TenantsConfig) (*Live, error) {
	l := &Live{log: cmp.Or(cfg.Project.Logger, slog.Default())}
	if err := checkKVURL(cfg.Project.KV); err != nil {
		return nil, fmt.Errorf("runtime: Config.KV: %w", err)
	}
	l.store = newStore(cfg.Project, cfg.Dir, l.log)
	cfg.Project.store = l.store
	l.load = func(ctx context.Context) (handler, error) {
		t, err := NewTenants(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return t, nil
	}
	return l, l.start(ctx)
}

// start loads the first version.
func (l *Live) start(ctx context.Context) error {
	h, err := l.load(ctx)
	switch {
	case err != nil && l.dev:
		h = failed{err}
	case err != nil:
		l.store.close()
		return err
	}
	l.count = 1
	l.cur.Store(&version{h: h, n: 1})
	return nil
}

// Reload loads the project again and, if it loads, serves it in place of
// the current version; otherwise the current version keeps serving (with
// Config.Dev, a version that failed to load is replaced by the new
// failure) and Reload returns why.
func (l *Live) Reload(ctx context.Context) error {
	l.reloading.Lock()
	defer l.reloading.Unlock()
	old := l.cur.Load()
	if old == nil {
		return errors.New("runtime: Live is closed")
	}
	h, err := l.load(ctx)
	if err != nil {
		if _, ok := old.h.(failed); !ok {
			return err
		}
		h = failed{err}
	}
	warm(ctx, old.h, h)
	l.count++
	l.cur.Store(&version{h: h, n: l.count})
	l.retire(old)
	return err
}

// warm compiles in next the modules that prev has compiled, before next
// serves: its first requests do not wait for them.
func warm(ctx context.Context, prev, next handler) {
	switch next := next.(type) {
	case *Server:
		if prev, ok := prev.(*Server); ok {
			next.compileLike(ctx, prev)
		}
	case *Tenants:
		if prev, ok := prev.(*Tenants); ok {
			for name, s := range next.servers {
				if p := prev.servers[name]; p != nil {
					s.compileLike(ctx, p)
				}
			}
		}
	}
}

// Use calls f with the version serving now, which stays open until f
// returns: a *Server, or a *Tenants for NewLiveTenants (with Config.Dev,
// a project that failed to load as a whole is neither, but an error).
func (l *Live) Use(f func(http.Handler)) {
	v := l.acquire()
	if v == nil {
		return
	}
	defer l.release(v)
	f(v.h)
}

// ServeHTTP serves r with the version serving now.
func (l *Live) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v := l.acquire()
	if v == nil {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer l.release(v) // also when the handler aborts with a panic
	v.h.ServeHTTP(w, r)
}

// Close closes the current version once its requests have finished, and
// waits for every retired one to be closed. Call it after the HTTP server
// has stopped taking requests (http.Server.Shutdown).
func (l *Live) Close(ctx context.Context) error {
	l.reloading.Lock()
	defer l.reloading.Unlock()
	if v := l.cur.Swap(nil); v != nil {
		l.retire(v)
	}
	l.closing.Wait()
	if l.store != nil {
		return l.store.close()
	}
	return nil
}

// version is one load of the project. refs counts its requests in flight,
// plus retired once it no longer serves new ones: the request that brings
// it to exactly retired, or retire finding it there, closes it. Nothing
// takes a lock on the request path.
type version struct {
	h      handler
	n      int
	refs   atomic.Int64
	closed sync.Once // refs may pass by retired more than once
}

const retired = 1 << 62

// acquire returns the current version with a reference held, or nil once
// Live is closed. A version retired between the load and the increment is
// let go and the new one taken.
func (l *Live) acquire() *version {
	for {
		v := l.cur.Load()
		if v == nil {
			return nil
		}
		if v.refs.Add(1)&retired == 0 {
			return v
		}
		l.release(v)
	}
}

func (l *Live) release(v *version) {
	if v.refs.Add(-1) == retired {
		l.closeVersion(v)
	}
}

// retire marks v as no longer current; it is closed once idle.
func (l *Live) retire(v *version) {
	l.closing.Add(1) // before v can reach zero: Close waits for it
	if v.refs.Add(retired) == retired {
		l.closeVersion(v)
	}
}

// closeVersion closes v in the background: the request that let it go has
// its response to finish.
func (l *Live) closeVersion(v *version) {
	v.closed.Do(func() {
		go func() {
			defer l.closing.Done()
			if err := v.h.Close(context.Background()); err != nil {
				l.log.Warn("closing a previous version", "version", v.n, "err", err)
			}
		}()
	})
}

// failed serves a project that failed to load as a whole, in dev: every
// request gets 500 with the problems as text.
type failed struct{ err error }

func (f failed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	http.Error(w, f.err.Error(), http.StatusInternalServerError)
}

func (failed) Close(context.Context) error { return nil }

func (f failed) Error() string { return f.err.Error() }
