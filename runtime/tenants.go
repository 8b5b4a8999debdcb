package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// TenantsConfig configures Tenants.
type TenantsConfig struct {
	// Dir holds one project folder per tenant; the folder's name is the
	// tenant's name. Folders whose names start with "." or "_" are skipped.
	Dir string

	// Domain, when set, routes a request for <tenant>.<Domain> (any port)
	// to that tenant, e.g. "acme.localhost" with Domain "localhost".
	Domain string

	// Hosts routes requests for a host (without port, lowercase) to a
	// tenant by name; it is consulted before Domain.
	Hosts map[string]string

	// Project is the template of each tenant's Config: its Dir is set to
	// the tenant's folder and its Logger gains a "tenant" attribute. Each
	// tenant gets its own modules, instances, limits and environment. Its
	// Limits and MaxTenantInstances are ceilings: a tenant's wasmroute.json
	// and route.json files may lower them, never raise them.
	Project Config

	// Grants gives named tenants other ceilings than Project's: the
	// operator's way to grant one tenant more (or less) than the others.
	Grants map[string]Grant

	// GrantsFile, when set, is read (ReadGrants) at each load in place of
	// Grants: a Live's Reload applies the operator's edits.
	GrantsFile string

	// Select, when set, loads only the tenants whose names it reports
	// true for: the others are answered 404, as unknown hosts are. A worker
	// process of serve --workers serves its share of the tenants this way.
	Select func(tenant string) bool
}

// Grant is what an operator allows one tenant in place of
// TenantsConfig.Project's limits.
type Grant struct {
	// Limits replaces each of Project.Limits' fields that it sets.
	Limits Limits
	// MaxTenantInstances, when set, replaces Project.MaxTenantInstances.
	MaxTenantInstances int
	// Env is added to Project.Env for the tenant, under its own
	// wasmroute.json's, and Secrets to Project.Secrets.
	Env     map[string]string
	Secrets map[string]string
	// AllowedOutboundHosts, when not nil, replaces
	// Project.AllowedOutboundHosts for the tenant.
	AllowedOutboundHosts []string
	// MaxKVKeys and MaxKVValue, when set, replace Project's.
	MaxKVKeys  int
	MaxKVValue int64
	// MaxCacheBytes, when set, replaces Project's.
	MaxCacheBytes int64
}

// ReadGrants reads an operator's grants file: a JSON object mapping each
// tenant's name to the keys of a wasmroute.json, such as
//
//	{"acme": {"maxDuration": "2m", "maxMemory": "512MiB", "maxTenantInstances": 64}}
func ReadGrants(path string) (map[string]Grant, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f := newJSONFile(path, b)
	members, err := f.object(0, int64(len(b)))
	if err != nil {
		return nil, err
	}
	grants := make(map[string]Grant, len(members))
	var problems []string
	for _, m := range members {
		tenant := fmt.Sprintf("tenant %q", m.key)
		if _, dup := grants[m.key]; dup {
			problems = append(problems, fmt.Sprintf("%s: %s: set twice", f.at(m.at), tenant))
			continue
		}
		c, ps := decodeConfig(f, m.start, m.start+int64(len(m.value)), tenant+": ", false)
		problems = append(problems, ps...)
		if c.KV != "" {
			problems = append(problems, fmt.Sprintf("%s: %s: kv: tenants share the server's store (--kv)", f.at(m.at), tenant))
		}
		if c.CORS != nil {
			problems = append(problems, fmt.Sprintf("%s: %s: cors: a tenant sets its own, in its wasmroute.json", f.at(m.at), tenant))
		}
		if c.Middleware.raw != nil {
			problems = append(problems, fmt.Sprintf("%s: %s: middleware: a tenant's middleware and its limits are in its own files", f.at(m.at), tenant))
		}
		g := Grant{Limits: c.limits(), MaxTenantInstances: c.MaxTenantInstances, AllowedOutboundHosts: c.AllowedOutboundHosts,
			MaxKVKeys: c.MaxKVKeys, MaxKVValue: int64(c.MaxKVValue), MaxCacheBytes: int64(c.MaxCacheBytes)}
		// The grants file is the operator's: it may map the server's
		// environment, and what it maps is secret.
		env, err := resolveEnv(fmt.Sprintf("%s: %s", f.at(m.at), tenant), c.Env, false, os.LookupEnv, map[string]bool{})
		if err != nil {
			problems = append(problems, err.Error())
		}
		for k, v := range env {
			if c.Env[k].FromEnv != "" {
				g.Secrets = mergeEnv(g.Secrets, map[string]string{k: v})
			} else {
				g.Env = mergeEnv(g.Env, map[string]string{k: v})
			}
		}
		grants[m.key] = g
	}
	if n := len(problems); n > maxConfigProblems {
		problems = append(problems[:maxConfigProblems], fmt.Sprintf("%s: %d more problems", path, n-maxConfigProblems))
	}
	if len(problems) > 0 {
		return nil, joinProblems(problems)
	}
	return grants, nil
}

// tenantFolder reports whether the entry e of TenantsConfig.Dir is a
// tenant's folder: folders whose names start with "." or "_" are not.
func tenantFolder(e os.DirEntry) bool {
	return e.IsDir() && !strings.HasPrefix(e.Name(), ".") && !strings.HasPrefix(e.Name(), "_")
}

// TenantFolders lists the names of the tenants' folders in dir, sorted, as
// NewTenants finds them (including those it will fail to load).
func TenantFolders(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("runtime: tenants folder: %w", err)
	}
	var names []string
	for _, e := range entries {
		if tenantFolder(e) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// tenantName reports why name cannot be a tenant's folder, or nil: a
// tenant is reached by a host name, so its folder's name must be a DNS
// label as hosts are compared, in lowercase.
func tenantName(name string) error {
	ok := len(name) <= 63 && name[0] != '-' && name[len(name)-1] != '-'
	for _, c := range []byte(name) {
		ok = ok && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')
	}
	if !ok {
		return fmt.Errorf("tenant folder %q: a tenant's folder name must be a lowercase DNS label (a-z, 0-9 and inner -, at most 63): rename it", name)
	}
	return nil
}

// Tenants serves many projects from one process, one per tenant, chosen by
// the request's Host. A request for an unknown host gets 404; a request for
// a tenant whose project failed to load gets 503 while the others serve.
// Tenants is an http.Handler, safe for concurrent use.
type Tenants struct {
	cfg      TenantsConfig
	store    *store // every tenant's, one namespace each
	ownStore bool   // store is t's to close (not a Live's)
	servers  map[string]*Server
	failed   map[string]error
	obs      *serverObs // the requests no tenant serves (observe.go); nil: not observed
}

var _ http.Handler = (*Tenants)(nil)

// NewTenants loads every tenant in cfg.Dir, in parallel. It fails only if
// cfg itself is wrong; a tenant that fails to load is logged, listed by
// Errors, and answered with 503. A tenant's JavaScript routes are bundled
// in child processes (Config.IsolateBuilds): the program must call
// ServeBuildChild first thing in main.
func NewTenants(ctx context.Context, cfg TenantsConfig) (*Tenants, error) {
	if cfg.GrantsFile != "" {
		grants, err := ReadGrants(cfg.GrantsFile)
		if err != nil {
			return nil, fmt.Errorf("runtime: grants: %w", err)
		}
		cfg.Grants = grants
	}
	entries, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("runtime: tenants folder: %w", err)
	}
	log := cmp.Or(cfg.Project.Logger, slog.Default())
	t := &Tenants{cfg: cfg, servers: map[string]*Server{}, failed: map[string]error{}}
	if t.obs, err = newServerObs(cfg.Project); err != nil {
		return nil, err
	}
	t.obs.unknownTenant()
	// One store for all, each tenant's namespace named after it; the data
	// folder's name starts with ".", so it is no tenant's.
	if err := checkKVURL(cfg.Project.KV); err != nil {
		return nil, fmt.Errorf("runtime: Config.KV: %w", err)
	}
	if p := sharedCacheProblem(cfg.Project.KV); cfg.Project.SharedCache && p != "" {
		return nil, errors.New("runtime: Config.SharedCache: " + p)
	}
	if t.store = cfg.Project.store; t.store == nil {
		t.store = newStore(cfg.Project, cfg.Dir, log)
		t.ownStore = true
	}
	hasFolder := func(name string) bool {
		return slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() == name && e.IsDir() })
	}
	for host, name := range cfg.Hosts {
		if !hasFolder(name) {
			return nil, fmt.Errorf("runtime: host %s maps to tenant %q, which has no folder in %s", host, name, cfg.Dir)
		}
	}
	for name := range cfg.Grants {
		if !hasFolder(name) {
			return nil, fmt.Errorf("runtime: a grant names tenant %q, which has no folder in %s", name, cfg.Dir)
		}
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, e := range entries {
		name := e.Name()
		if !tenantFolder(e) || cfg.Select != nil && !cfg.Select(name) {
			continue
		}
		pc := cfg.Project
		pc.Dir = filepath.Join(cfg.Dir, name)
		pc.IsolateBuilds = true
		pc.Untrusted = true
		pc.KVNamespace = name
		pc.store = t.store
		pc.Logger = log.With("tenant", name)
		if err := tenantName(name); err != nil {
			t.failed[name] = err
			log.Error("tenant failed to load", "err", err)
			continue
		}
		if g, ok := cfg.Grants[name]; ok {
			pc.Limits = g.Limits.Or(pc.Limits)
			pc.MaxTenantInstances = cmp.Or(g.MaxTenantInstances, pc.MaxTenantInstances)
			pc.Env = mergeEnv(pc.Env, g.Env)
			pc.Secrets = mergeEnv(pc.Secrets, g.Secrets)
			if g.AllowedOutboundHosts != nil {
				pc.AllowedOutboundHosts = g.AllowedOutboundHosts
			}
			pc.MaxKVKeys = cmp.Or(g.MaxKVKeys, pc.MaxKVKeys)
			pc.MaxKVValue = cmp.Or(g.MaxKVValue, pc.MaxKVValue)
			pc.MaxCacheBytes = cmp.Or(g.MaxCacheBytes, pc.MaxCacheBytes)
		}
		wg.Go(func() {
			s, err := New(ctx, pc)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.failed[name] = err
				pc.Logger.Error("tenant failed to load", "err", err)
				return
			}
			t.servers[name] = s
		})
	}
	wg.Wait()
	return t, nil
}

// Server returns the named tenant's Server, or nil.
func (t *Tenants) Server(name string) *Server { return t.servers[name] }

// Names lists the tenants that loaded, sorted.
func (t *Tenants) Names() []string {
	return slices.Sorted(func(yield func(string) bool) {
		for name := range t.servers {
			if !yield(name) {
				return
			}
		}
	})
}

// Errors returns the load error of each tenant that failed, by name.
func (t *Tenants) Errors() map[string]error { return t.failed }

// Tenant names the tenant that serves host (a request's Host, with or
// without port), or "": the mapping Tenants routes requests by, through
// Hosts, then Domain. It does not say whether that tenant exists.
func (c *TenantsConfig) Tenant(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if name, ok := c.Hosts[host]; ok {
		return name
	}
	if c.Domain != "" {
		if label, ok := strings.CutSuffix(host, "."+strings.ToLower(c.Domain)); ok && !strings.Contains(label, ".") {
			return label
		}
	}
	return ""
}

// ServeHTTP serves r with the tenant its Host names.
func (t *Tenants) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := t.cfg.Tenant(r.Host)
	if s, ok := t.servers[name]; ok {
		s.ServeHTTP(w, r)
		return
	}
	if t.obs != nil {
		t.obs.serve(w, r, t.serveNone) // observe.go
		return
	}
	t.serveNone(w, r)
}

// serveNone answers a request for no tenant that serves.
func (t *Tenants) serveNone(w http.ResponseWriter, r *http.Request) {
	name := t.cfg.Tenant(r.Host)
	if _, ok := t.failed[name]; ok {
		w.Header().Set("Retry-After", "60")
		http.Error(w, "tenant unavailable", http.StatusServiceUnavailable)
		return
	}
	http.NotFound(w, r)
}

// Close closes every tenant's Server.
func (t *Tenants) Close(ctx context.Context) error {
	var errs []error
	for _, s := range t.servers {
		errs = append(errs, s.Close(ctx))
	}
	if t.ownStore {
		errs = append(errs, t.store.close())
	}
	return errors.Join(errs...)
}
