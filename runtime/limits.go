package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wasmroute/wasmroute/internal/kv"
	"github.com/wasmroute/wasmroute/internal/wasmbin"
)

// Limits bound what the requests of one route may use. A zero field means
// "inherit": a route's limits are its route.json over its project's
// wasmroute.json over Config.Limits over the defaults documented on each
// field.
type Limits struct {
	// MaxDuration bounds a request's wall-clock time. Past it the client
	// gets 504 (or a cut connection, if the response had started), the guest
	// is stopped — in a loop or asleep in a host call — and its instance
	// discarded. Default 30s.
	MaxDuration time.Duration

	// MaxMemory bounds an instance's linear memory, in bytes (whole 64 KiB
	// pages), and, a 16th of it, its WebAssembly call stack, estimated (8
	// MiB by default; wasmbin.Instrument). A guest that needs more fails: 500.
	// Default 128 MiB.
	MaxMemory int64

	// MaxBody bounds the request body, in bytes: a larger one gets 413 and
	// the guest never reads past the limit. Default 10 MiB.
	MaxBody int64

	// MaxResponse bounds the response body, in bytes: a write past it fails
	// with abi.ErrTooLarge. Default 64 MiB.
	MaxResponse int64

	// MaxHeaders bounds the number of response header values, and
	// MaxHeaderBytes the sum of their names' and values' lengths; past
	// them header_set and header_add fail with abi.ErrTooLarge. Defaults
	// 100 and 64 KiB.
	MaxHeaders     int
	MaxHeaderBytes int64

	// MaxInstances bounds the instances of the route, hence the requests it
	// serves at once. Default 8.
	MaxInstances int

	// MaxWait bounds how long a request waits for an instance when the
	// route or its project is at its limit; then it gets 503 with
	// Retry-After. Default 5s.
	MaxWait time.Duration

	// Isolation says what a request can see of the requests an instance
	// served before it. Default IsolationInstance.
	Isolation Isolation

	// MaxFetches bounds the outbound HTTP requests (fetch) one request may
	// start; past it fetch fails with abi.ErrLimit. Default 50.
	MaxFetches int

	// MaxFetchConcurrency bounds the outbound requests of one request in
	// flight at once; later ones wait in line. Default 6.
	MaxFetchConcurrency int

	// MaxFetchBody bounds each outbound response body, in bytes; reading
	// past it fails with abi.ErrTooLarge. Default 10 MiB.
	MaxFetchBody int64
}

// Isolation is a route's isolation mode.
type Isolation string

const (
	// IsolationInstance reuses an instance, with whatever state the
	// previous requests left in it (a Go guest's caches, globals and heap).
	// Its requests are still isolated from other routes and tenants.
	IsolationInstance Isolation = "instance"

	// IsolationRequest gives every request an instance that has served no
	// other: after each request the instance is put back to the state its
	// initialization left (a copy-on-write snapshot), or discarded when it
	// cannot be (its memory grew). What the initialization computed is
	// shared; randomness asked for during a request is not.
	IsolationRequest Isolation = "request"
)

// DefaultLimits are the limits of a route that sets none.
var DefaultLimits = Limits{
	MaxDuration:    30 * time.Second,
	MaxMemory:      128 << 20,
	MaxBody:        10 << 20,
	MaxResponse:    64 << 20,
	MaxHeaders:     100,
	MaxHeaderBytes: 64 << 10,
	MaxInstances:   8,
	MaxWait:        5 * time.Second,
	Isolation:      IsolationInstance,

	MaxFetches:          50,
	MaxFetchConcurrency: 6,
	MaxFetchBody:        10 << 20,
}

// Or returns l with each zero field taken from def.
func (l Limits) Or(def Limits) Limits {
	return Limits{
		MaxDuration:    or(l.MaxDuration, def.MaxDuration),
		MaxMemory:      or(l.MaxMemory, def.MaxMemory),
		MaxBody:        or(l.MaxBody, def.MaxBody),
		MaxResponse:    or(l.MaxResponse, def.MaxResponse),
		MaxHeaders:     or(l.MaxHeaders, def.MaxHeaders),
		MaxHeaderBytes: or(l.MaxHeaderBytes, def.MaxHeaderBytes),
		MaxInstances:   or(l.MaxInstances, def.MaxInstances),
		MaxWait:        or(l.MaxWait, def.MaxWait),
		Isolation:      or(l.Isolation, def.Isolation),

		MaxFetches:          or(l.MaxFetches, def.MaxFetches),
		MaxFetchConcurrency: or(l.MaxFetchConcurrency, def.MaxFetchConcurrency),
		MaxFetchBody:        or(l.MaxFetchBody, def.MaxFetchBody),
	}
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// check reports a limit that cannot work.
func (l Limits) check() error {
	if errs := l.problems(); len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// problems lists the limits that cannot work.
func (l Limits) problems() []string {
	var errs []string
	if l.MaxDuration < 0 || l.MaxBody < 0 || l.MaxResponse < 0 || l.MaxHeaders < 0 || l.MaxHeaderBytes < 0 || l.MaxInstances < 0 || l.MaxWait < 0 ||
		l.MaxFetches < 0 || l.MaxFetchConcurrency < 0 || l.MaxFetchBody < 0 {
		errs = append(errs, "limits cannot be negative")
	}
	if l.MaxMemory != 0 && (l.MaxMemory < wasmPageSize || l.MaxMemory > 4<<30) {
		errs = append(errs, fmt.Sprintf("maxMemory %d is outside 64KiB..4GiB", l.MaxMemory))
	}
	switch l.Isolation {
	case "", IsolationInstance, IsolationRequest:
	default:
		errs = append(errs, fmt.Sprintf("isolation %q is neither %q nor %q", l.Isolation, IsolationInstance, IsolationRequest))
	}
	return errs
}

// above lists, by JSON key, the fields of l that are set and exceed
// ceiling's: a project or route may lower the operator's limits, never
// raise them. An isolation of "instance" is above a ceiling of "request".
func (l Limits) above(ceiling Limits) []string {
	var over []string
	check := func(key string, set, exceeds bool, v, c string) {
		if set && exceeds {
			over = append(over, fmt.Sprintf("%s %s is above the operator's ceiling of %s", key, v, c))
		}
	}
	dur := func(key string, v, c time.Duration) { check(key, v != 0, v > c, v.String(), c.String()) }
	size := func(key string, v, c int64) { check(key, v != 0, v > c, FormatSize(v), FormatSize(c)) }
	count := func(key string, v, c int) { check(key, v != 0, v > c, strconv.Itoa(v), strconv.Itoa(c)) }
	dur("maxDuration", l.MaxDuration, ceiling.MaxDuration)
	size("maxMemory", l.MaxMemory, ceiling.MaxMemory)
	size("maxBody", l.MaxBody, ceiling.MaxBody)
	size("maxResponse", l.MaxResponse, ceiling.MaxResponse)
	count("maxHeaders", l.MaxHeaders, ceiling.MaxHeaders)
	size("maxHeaderBytes", l.MaxHeaderBytes, ceiling.MaxHeaderBytes)
	count("maxInstances", l.MaxInstances, ceiling.MaxInstances)
	dur("maxWait", l.MaxWait, ceiling.MaxWait)
	count("maxFetches", l.MaxFetches, ceiling.MaxFetches)
	count("maxFetchConcurrency", l.MaxFetchConcurrency, ceiling.MaxFetchConcurrency)
	size("maxFetchBody", l.MaxFetchBody, ceiling.MaxFetchBody)
	check("isolation", l.Isolation == IsolationInstance, ceiling.Isolation == IsolationRequest, string(l.Isolation), string(ceiling.Isolation))
	return over
}

// fileConfig is the content of a wasmroute.json (a project's defaults) or a
// route.json (one route's). Sizes are strings such as "64MiB" or numbers of
// bytes; durations are Go durations such as "500ms".
type fileConfig struct {
	MaxDuration    duration  `json:"maxDuration"`
	MaxMemory      size      `json:"maxMemory"`
	MaxBody        size      `json:"maxBody"`
	MaxResponse    size      `json:"maxResponse"`
	MaxHeaders     int       `json:"maxHeaders"`
	MaxHeaderBytes size      `json:"maxHeaderBytes"`
	MaxInstances   int       `json:"maxInstances"`
	MaxWait        duration  `json:"maxWait"`
	Isolation      Isolation `json:"isolation"`

	MaxFetches          int  `json:"maxFetches"`
	MaxFetchConcurrency int  `json:"maxFetchConcurrency"`
	MaxFetchBody        size `json:"maxFetchBody"`

	// AllowedOutboundHosts lists the destinations the guests may fetch
	// (internal/outbound's syntax); nil: inherit, empty: none.
	AllowedOutboundHosts []string `json:"allowedOutboundHosts"`

	// Env is the guests' environment: each value a string, or
	// {"fromEnv": "NAME"} to take the server's variable NAME, a secret.
	Env map[string]envValue `json:"env"`

	// CORS answers cross-origin requests (cors.go); a route.json's
	// replaces its project's whole.
	CORS *corsConfig `json:"cors"`
	// For route.json only: the route's GET answers' caching (cache.go).
	Revalidate *revalidate `json:"revalidate"`
	Dynamic    string      `json:"dynamic"`

	// For wasmroute.json only:

	// MaxCacheBytes bounds the project's response cache (cache.go).
	MaxCacheBytes size `json:"maxCacheBytes"`

	// MaxTenantInstances: the instances in use at once across all the
	// project's routes.
	MaxTenantInstances int `json:"maxTenantInstances"`

	// KV selects the key-value store ("redis://host:port"); empty: the
	// embedded one. Not for a tenant.
	KV string `json:"kv"`

	// MaxKVKeys and MaxKVValue bound the project's key-value namespace.
	MaxKVKeys  int  `json:"maxKVKeys"`
	MaxKVValue size `json:"maxKVValue"`

	// Middleware configures the project's middleware (this package's
	// middleware.go decodes it, its problems at their place in the file).
	Middleware middlewareBlock `json:"middleware"`
}

func (c fileConfig) limits() Limits {
	return Limits{
		MaxDuration:    time.Duration(c.MaxDuration),
		MaxMemory:      int64(c.MaxMemory),
		MaxBody:        int64(c.MaxBody),
		MaxResponse:    int64(c.MaxResponse),
		MaxHeaders:     c.MaxHeaders,
		MaxHeaderBytes: int64(c.MaxHeaderBytes),
		MaxInstances:   c.MaxInstances,
		MaxWait:        time.Duration(c.MaxWait),
		Isolation:      c.Isolation,

		MaxFetches:          c.MaxFetches,
		MaxFetchConcurrency: c.MaxFetchConcurrency,
		MaxFetchBody:        int64(c.MaxFetchBody),
	}
}

// maxConfigSize bounds a config file: a few keys, a few KiB.
const maxConfigSize = 1 << 20

// readConfig reads the config file name (slash-separated) in root; a
// missing file is an empty config. Through root, a symlink that leaves the
// project is refused: a tenant's wasmroute.json cannot be another's.
func readConfig(root *os.Root, name string, routeFile bool) (fileConfig, error) {
	f, err := root.Open(filepath.FromSlash(name))
	if errors.Is(err, os.ErrNotExist) {
		return fileConfig{}, nil
	}
	if err != nil {
		return fileConfig{}, fmt.Errorf("%s: cannot read: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return fileConfig{}, fmt.Errorf("%s: cannot read: %w", name, err)
	}
	if len(b) > maxConfigSize {
		return fileConfig{}, fmt.Errorf("%s: larger than %s", name, FormatSize(maxConfigSize))
	}
	return parseConfig(b, name, routeFile)
}

// parseConfig parses the content of a config file; name is the file as
// errors should name it. The error lists every problem (errors.Join), each
// "name:line:column: message".
func parseConfig(b []byte, name string, routeFile bool) (fileConfig, error) {
	c, problems := decodeConfig(newJSONFile(name, b), 0, int64(len(b)), "", routeFile)
	return c, joinProblems(problems)
}

// joinProblems is problems as one error, each its own (see problems), or
// nil.
func joinProblems(problems []string) error {
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = errors.New(p)
	}
	return errors.Join(errs...)
}

// check lists what in c cannot work. Each problem a key alone has is
// reported at that key's line (see decodeConfig): a new key's checks go
// here.
func (c fileConfig) check(routeFile bool) []string {
	problems := c.limits().problems()
	if c.MaxTenantInstances < 0 {
		problems = append(problems, "maxTenantInstances cannot be negative")
	}
	if c.MaxKVKeys < 0 {
		problems = append(problems, "maxKVKeys cannot be negative")
	}
	if routeFile {
		for _, key := range []struct {
			name string
			set  bool
		}{{"maxTenantInstances", c.MaxTenantInstances != 0}, {"kv", c.KV != ""}, {"maxKVKeys", c.MaxKVKeys != 0}, {"maxKVValue", c.MaxKVValue != 0}, {"middleware", c.Middleware.raw != nil}} {
			if key.set {
				problems = append(problems, key.name+" belongs in the project's wasmroute.json")
			}
		}
	}
	if err := c.CORS.compile(); err != nil {
		problems = append(problems, "cors: "+err.Error())
	}
	if err := checkKVURL(c.KV); err != nil {
		problems = append(problems, "kv "+err.Error())
	}
	problems = append(problems, c.checkCache(routeFile)...)
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		if v := c.Env[k]; k == "" || strings.ContainsAny(k, "=\x00") {
			problems = append(problems, fmt.Sprintf("env: bad variable name %q", k))
		} else if v.FromEnv != "" && strings.ContainsAny(v.FromEnv, "=\x00") {
			problems = append(problems, fmt.Sprintf("env %s: bad fromEnv name %q", k, v.FromEnv))
		}
	}
	return problems
}

// within checks c's limits against the operator's ceilings.
func (c fileConfig) within(name string, ceiling Limits, maxTenantInstances int, kvCeiling kvLimits) error {
	over := c.limits().above(ceiling)
	if c.MaxTenantInstances > maxTenantInstances {
		over = append(over, fmt.Sprintf("maxTenantInstances %d is above the operator's ceiling of %d", c.MaxTenantInstances, maxTenantInstances))
	}
	if c.MaxKVKeys > kvCeiling.keys {
		over = append(over, fmt.Sprintf("maxKVKeys %d is above the operator's ceiling of %d", c.MaxKVKeys, kvCeiling.keys))
	}
	if int64(c.MaxKVValue) > kvCeiling.value {
		over = append(over, fmt.Sprintf("maxKVValue %s is above the operator's ceiling of %s", FormatSize(int64(c.MaxKVValue)), FormatSize(kvCeiling.value)))
	}
	if len(over) > 0 {
		return fmt.Errorf("%s: %s", name, strings.Join(over, "; "))
	}
	return nil
}

// mergeEnv returns base with over's variables set over it.
func mergeEnv[V any](base, over map[string]V) map[string]V {
	if len(over) == 0 {
		return base
	}
	env := maps.Clone(base)
	if env == nil {
		env = make(map[string]V, len(over))
	}
	maps.Copy(env, over)
	return env
}

// envValue is one variable of a config file's env: a string, or
// {"fromEnv": "NAME"}, the server's variable NAME, read at load time and
// treated as a secret (never logged).
type envValue struct {
	Value   string
	FromEnv string
}

func (v *envValue) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &v.Value); err == nil {
		return nil
	}
	var ref struct {
		FromEnv string `json:"fromEnv"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ref); err != nil || ref.FromEnv == "" {
		return fmt.Errorf(`want a string or {"fromEnv": "NAME"}, got %.40s`, b)
	}
	v.FromEnv = ref.FromEnv
	return nil
}

// resolveEnv turns a config file's env into values, reading fromEnv
// variables from the server's environment (lookup: os.LookupEnv) and
// adding their values to secrets. untrusted files (a tenant's) may not
// read the server's environment.
func resolveEnv(name string, env map[string]envValue, untrusted bool, lookup func(string) (string, bool), secrets map[string]bool) (map[string]string, error) {
	if len(env) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(env))
	for k, v := range env {
		if v.FromEnv == "" {
			out[k] = v.Value
			continue
		}
		if untrusted {
			return nil, fmt.Errorf("%s: env %s: fromEnv reads the server's environment, which only the operator may map (in the grants file)", name, k)
		}
		val, ok := lookup(v.FromEnv)
		if !ok {
			return nil, fmt.Errorf("%s: env %s: fromEnv %s is not set in the server's environment", name, k, v.FromEnv)
		}
		out[k] = val
		secrets[val] = true
	}
	return out, nil
}

// kvLimits are a project's key-value limits (0: the store's defaults).
type kvLimits struct {
	keys  int
	value int64
}

// checkKVURL reports a store URL that cannot work; "" is the embedded
// store.
func checkKVURL(s string) error {
	if u, err := url.Parse(s); s != "" && (err != nil || !slices.Contains(kv.URLSchemes, u.Scheme)) {
		return fmt.Errorf("%q: want redis://HOST:PORT (or rediss://, valkey://, unix://), or none for the embedded store", redactURL(s))
	}
	return nil
}

// redactURL drops a URL's password, for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// duration is a time.Duration read from JSON as "1.5s".
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"10s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

// size is a byte count read from JSON as a number or "64MiB".
type size int64

func (s *size) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		str = string(b)
	}
	n, err := ParseSize(str)
	if err != nil {
		return err
	}
	*s = size(n)
	return nil
}

// ParseSize parses a byte count such as "512", "64KiB", "10MiB", "1GiB" (or
// KB, MB, GB, meaning the same powers of 1024).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q: want bytes, or a number with KiB, MiB or GiB", s)
	}
	return n * mult, nil
}

// FormatSize writes n as ParseSize reads it, in the largest exact unit.
func FormatSize(n int64) string { return wasmbin.FormatSize(n) }
