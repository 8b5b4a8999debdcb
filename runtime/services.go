package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmroute/wasmroute/host"
	"github.com/wasmroute/wasmroute/internal/kv"
	"github.com/wasmroute/wasmroute/internal/outbound"
)

// This file gives guests their services: outbound HTTP under each route's
// allowedOutboundHosts, and the project's key-value namespace.

// policies are a Server's outbound policies, one per distinct list and
// source, so that routes sharing a list share its connections, while a
// connection dialled under one list's allowances is never reused under
// another's.
type policies struct {
	mu      sync.Mutex
	ceiling *outbound.Policy // Config.AllowedOutboundHosts when Config.Untrusted; else nil
	byList  map[string]*outbound.Policy
}

// policy returns the policy of entries read from source, checked against
// the ceiling.
func (p *policies) policy(entries []string, source string) (*outbound.Policy, error) {
	key := source + "\x00" + strings.Join(entries, "\x00")
	p.mu.Lock()
	defer p.mu.Unlock()
	if pol, ok := p.byList[key]; ok {
		return pol, nil
	}
	pol, err := outbound.Parse(entries, source)
	if err != nil {
		return nil, err
	}
	if p.ceiling != nil && pol != p.ceiling {
		if err := pol.Within(p.ceiling); err != nil {
			pol.Close()
			return nil, fmt.Errorf("%s: %w", source, err)
		}
	}
	if p.byList == nil {
		p.byList = map[string]*outbound.Policy{}
	}
	p.byList[key] = pol
	return pol, nil
}

func (p *policies) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pol := range p.byList {
		pol.Close()
	}
}

// outbound returns the outbound side of the route of file, whose route.json
// (confFile) lists routeHosts: the first list set of the route's, the
// project's and the operator's.
func (s *Server) outbound(file string, routeHosts []string, confFile string, lim Limits) (*host.Outbound, error) {
	entries, source := s.cfg.AllowedOutboundHosts, "wasmroute.json" // where the author adds an entry
	if s.projectHosts != nil {
		entries = s.projectHosts
	}
	if routeHosts != nil {
		entries, source = routeHosts, confFile
	}
	pol, err := s.policies.policy(entries, source)
	if err != nil {
		return nil, err
	}
	client := pol.Client()
	if s.obs != nil && s.obs.m != nil {
		client = s.obs.m.countFetches(client, s.obs.tenant) // metrics.go
	}
	return &host.Outbound{
		Client:         client,
		Allow:          pol.Allow,
		MaxFetches:     lim.MaxFetches,
		MaxConcurrency: lim.MaxFetchConcurrency,
		MaxBody:        lim.MaxFetchBody,
		Denied: func(msg string) {
			s.obs.fetchDenied() // observe.go
			// Within the guest output's rate: a guest cannot flood the log
			// with denials either.
			if msg = s.output.admit(s.log, file, s.redacted(msg)); msg != "" {
				s.log.Warn("fetch denied", "file", file, "err", msg)
			}
		},
	}, nil
}

// store opens a key-value store on first use and keeps it: a project that
// never calls kv_* never creates its data folder or connects to Redis.
type store struct {
	cfg kv.Config
	log *slog.Logger

	mu     sync.Mutex
	s      *kv.Store
	err    error     // the last failure to open ...
	failed time.Time // ... kept for storeRetry, so that callers fail fast

	logged atomic.Int64 // when a call's failure was last logged, in Unix ns (shown)
}

// newStore is the store cfg selects, its embedded one in cfg.DataDir or
// else in dir's .wasmroute/data; it opens on first use.
func newStore(cfg Config, dir string, log *slog.Logger) *store {
	return &store{cfg: kv.Config{URL: cfg.KV, Dir: cmp.Or(cfg.DataDir, filepath.Join(dir, ".wasmroute", "data"))}, log: log}
}

// storeRetry is how long a failure to open the store answers every caller
// before the next try.
const storeRetry = 5 * time.Second

// open returns the store, opening it if need be. The attempt takes at most
// 5 s whatever the caller's deadline (a client would keep a short one for
// its later reconnections); its failure is logged, with the URL's password
// hidden, and the guest gets only that the store is unavailable: a
// tenant's guest learns nothing of the operator's infrastructure.
func (st *store) open(ctx context.Context) (*kv.Store, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case st.s != nil:
		return st.s, nil
	case st.err != nil && time.Since(st.failed) < storeRetry:
		return nil, st.err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	s, err := kv.Open(ctx, st.cfg)
	if err != nil {
		st.log.Error("the key-value store is unavailable", "store", redactURL(st.cfg.URL), "err", hideURL(err.Error(), st.cfg.URL))
		st.err, st.failed = errors.New("the key-value store is unavailable (the server's log says why)"), time.Now()
		return nil, st.err
	}
	st.s, st.err = s, nil
	return s, nil
}

// hideURL returns msg with the store URL raw, and its password, replaced.
func hideURL(msg, raw string) string {
	if raw == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, raw, redactURL(raw))
	if u, err := url.Parse(raw); err == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

func (st *store) close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.s == nil {
		return nil
	}
	err := st.s.Close()
	st.s = nil
	return err
}

// namespace is a project's kv.Namespace, its store opened on first use.
type namespace struct {
	store *store
	name  string
	lim   kv.Limits

	mu sync.Mutex                   // held while opening
	ns atomic.Pointer[kv.Namespace] // once open: every call after the first reads it without a lock
}

func (n *namespace) get(ctx context.Context) (kv.Namespace, error) {
	if ns := n.ns.Load(); ns != nil {
		return *ns, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if ns := n.ns.Load(); ns != nil {
		return *ns, nil
	}
	s, err := n.store.open(ctx)
	if err != nil {
		return nil, err
	}
	ns, err := s.Namespace(n.name, n.lim)
	if err != nil {
		return nil, err
	}
	n.ns.Store(&ns)
	return ns, nil
}

func (n *namespace) Get(ctx context.Context, key string) ([]byte, error) {
	ns, err := n.get(ctx)
	if err != nil {
		return nil, err
	}
	v, err := ns.Get(ctx, key)
	return v, n.shown(ctx, "get", key, err)
}

func (n *namespace) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ns, err := n.get(ctx)
	if err != nil {
		return err
	}
	return n.shown(ctx, "set", key, ns.Set(ctx, key, value, ttl))
}

func (n *namespace) Delete(ctx context.Context, key string) error {
	ns, err := n.get(ctx)
	if err != nil {
		return err
	}
	return n.shown(ctx, "delete", key, ns.Delete(ctx, key))
}

func (n *namespace) List(ctx context.Context, prefix string) ([]string, error) {
	ns, err := n.get(ctx)
	if err != nil {
		return nil, err
	}
	v, err := ns.List(ctx, prefix)
	return v, n.shown(ctx, "list", prefix, err)
}

func (n *namespace) Incr(ctx context.Context, key string, by int64) (int64, error) {
	ns, err := n.get(ctx)
	if err != nil {
		return 0, err
	}
	v, err := ns.Incr(ctx, key, by)
	return v, n.shown(ctx, "incr", key, err)
}

// shown is err as a guest may see it. The store's own failures (a
// connection refused or reset, a server's error) name the operator's
// infrastructure: they are logged, with the URL hidden, at most once a
// second, and the guest learns only that the store is unavailable. What
// the guest caused (a missing key, a limit, a bad key) and its request's
// end pass as they are.
func (n *namespace) shown(ctx context.Context, op, key string, err error) error {
	switch {
	case err == nil, errors.Is(err, kv.ErrNotFound), errors.Is(err, kv.ErrTooLarge), errors.Is(err, kv.ErrLimit),
		errors.Is(err, kv.ErrNotInteger), errors.Is(err, kv.ErrInvalidKey):
		return err
	case ctx.Err() != nil:
		return fmt.Errorf("kv %s %.60q: %w", op, key, context.Cause(ctx))
	}
	st := n.store
	if now := time.Now().UnixNano(); now-st.logged.Load() >= int64(time.Second) && st.logged.Swap(now) < now-int64(time.Second) {
		st.log.Error("a key-value call failed", "namespace", n.name, "op", op, "err", hideURL(err.Error(), st.cfg.URL))
	}
	return fmt.Errorf("kv %s %.60q: the key-value store is unavailable (the server's log says why)", op, key)
}

// namespaceName makes a namespace name of a project folder's name:
// lowercase, with every character kv refuses replaced by '-'.
func namespaceName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, filepath.Base(abs))
	if len(name) > kv.MaxNamespace {
		name = name[:kv.MaxNamespace]
	}
	if name == "" || name == "." || name == ".." {
		name = "default"
	}
	return name
}
