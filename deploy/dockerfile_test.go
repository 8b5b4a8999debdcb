package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// repo is the repository's root, the image's build context.
const repo = ".."

// image is what the Dockerfile says, read once by BuildKit's parser.
type image struct {
	builder, final instructions.Stage
	warnings       []string // BuildKit's lint warnings

	goBuild     []string // the go build command line, variables expanded
	goEnv       []string // the NAME=VALUE words before it
	entrypoint  []string
	cmd         []string
	user        string
	copies      map[string]string // final stage: destination -> source in the builder
	chowns      map[string]string // final stage: destination -> --chown
	exposed     []string
	workdir     string
	buildOutput string // go build's -o
}

var (
	parsedOnce sync.Once
	parsed     *image
	parseErr   error
)

// dockerfile parses ../Dockerfile with BuildKit's parser and instruction
// decoder, the ones docker build runs, expanding the build's variables for
// this machine's architecture (the image is linux's).
func dockerfile(t *testing.T) *image {
	t.Helper()
	parsedOnce.Do(func() { parsed, parseErr = parseDockerfile() })
	if parseErr != nil {
		t.Fatal(parseErr)
	}
	return parsed
}

func parseDockerfile() (*image, error) {
	src, err := os.ReadFile(filepath.Join(repo, "Dockerfile"))
	if err != nil {
		return nil, err
	}
	ast, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	img := &image{copies: map[string]string{}, chowns: map[string]string{}}
	for _, w := range ast.Warnings {
		img.warnings = append(img.warnings, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		img.warnings = append(img.warnings, rule+": "+msg)
	}})
	stages, _, err := instructions.Parse(ast.AST, lint)
	if err != nil {
		return nil, err
	}
	if len(stages) < 2 {
		img.warnings = append(img.warnings, "want a multi-stage build")
		return img, nil
	}
	img.builder, img.final = stages[0], stages[len(stages)-1]
	env := map[string]string{"TARGETOS": "linux", "TARGETARCH": goruntime.GOARCH, "BUILDPLATFORM": "linux/" + goruntime.GOARCH}
	lex := shell.NewLex('\\')
	for _, c := range img.builder.Commands {
		switch c := c.(type) {
		case *instructions.WorkdirCommand:
			img.workdir = c.Path
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				env[kv.Key] = kv.Value
			}
		case *instructions.RunCommand:
			if len(c.CmdLine) != 1 || !strings.Contains(c.CmdLine[0], "go build") {
				continue
			}
			var kvs []string
			for k, v := range env {
				kvs = append(kvs, k+"="+v)
			}
			words, err := lex.ProcessWords(c.CmdLine[0], shell.EnvsFromSlice(kvs))
			if err != nil {
				return nil, err
			}
			for len(words) > 0 && regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`).MatchString(words[0]) {
				img.goEnv, words = append(img.goEnv, words[0]), words[1:]
			}
			img.goBuild = words
			if i := slices.Index(words, "-o"); i >= 0 && i+1 < len(words) {
				img.buildOutput = words[i+1]
			}
		}
	}
	for _, c := range img.final.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			if c.From == img.builder.Name && len(c.SourcePaths) == 1 {
				img.copies[c.DestPath] = c.SourcePaths[0]
				img.chowns[c.DestPath] = c.Chown
			}
		case *instructions.UserCommand:
			img.user = c.User
		case *instructions.ExposeCommand:
			img.exposed = append(img.exposed, c.Ports...)
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				img.warnings = append(img.warnings, "ENTRYPOINT in shell form: the image has no shell")
			}
			img.entrypoint = c.CmdLine
		case *instructions.CmdCommand:
			if c.PrependShell {
				img.warnings = append(img.warnings, "CMD in shell form: the image has no shell")
			}
			img.cmd = c.CmdLine
		case *instructions.RunCommand:
			img.warnings = append(img.warnings, "RUN in the final stage: the image has no shell")
		case *instructions.HealthCheckCommand:
			img.warnings = append(img.warnings, "HEALTHCHECK in the final stage: the probes are the orchestrator's, on the admin port")
		}
	}
	return img, nil
}

var digestPinned = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

// TestDockerfile checks what the issue asks of the image: a multi-stage
// build whose final stage is distroless/static (or scratch) pinned by
// digest, a builder on the Go release go.mod asks for, a static build
// (CGO_ENABLED=0), a numeric non-root user, no shell needed at runtime, and
// an entrypoint that is the binary the builder made.
func TestDockerfile(t *testing.T) {
	img := dockerfile(t)
	if len(img.warnings) > 0 {
		t.Errorf("BuildKit's parser and linter, and the checks above, warn:\n\t%s", strings.Join(img.warnings, "\n\t"))
	}

	t.Run("final stage: distroless/static or scratch, pinned by digest", func(t *testing.T) {
		base := img.final.BaseName
		if base != "scratch" && !strings.HasPrefix(base, "gcr.io/distroless/static") {
			t.Errorf("final stage FROM %s, want scratch or gcr.io/distroless/static*", base)
		}
		if base != "scratch" && !digestPinned.MatchString(base) {
			t.Errorf("final stage FROM %s is not pinned by digest (@sha256:...)", base)
		}
	})

	t.Run("builder: the Go release of go.mod", func(t *testing.T) {
		mod, err := os.ReadFile(filepath.Join(repo, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
		if m == nil {
			t.Fatal("no go line in go.mod")
		}
		if want := "golang:" + string(m[1]); !strings.HasPrefix(img.builder.BaseName, want) {
			t.Errorf("builder FROM %s, want %s (go.mod's go line)", img.builder.BaseName, want)
		}
	})

	t.Run("static build", func(t *testing.T) {
		if !slices.Contains(img.goEnv, "CGO_ENABLED=0") {
			t.Errorf("go build's environment %q lacks CGO_ENABLED=0", img.goEnv)
		}
		if len(img.goBuild) < 2 || img.goBuild[0] != "go" || img.goBuild[1] != "build" || img.goBuild[len(img.goBuild)-1] != "./cmd/wasmroute" {
			t.Errorf("go build command %q, want go build ... ./cmd/wasmroute", img.goBuild)
		}
	})

	t.Run("non-root user by number", func(t *testing.T) {
		uid, _, _ := strings.Cut(img.user, ":")
		if !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(uid) {
			t.Errorf("USER %q, want a non-zero numeric uid (runAsNonRoot can only check a number)", img.user)
		}
		for dest, chown := range img.chowns {
			if chown != "" && chown != img.user {
				t.Errorf("COPY %s --chown=%s, want the USER %s", dest, chown, img.user)
			}
		}
	})

	t.Run("entrypoint is the built binary, exec form", func(t *testing.T) {
		if len(img.entrypoint) != 1 {
			t.Fatalf("ENTRYPOINT %q, want the binary alone", img.entrypoint)
		}
		if src := img.copies[img.entrypoint[0]]; src == "" || src != img.buildOutput {
			t.Errorf("ENTRYPOINT %s is copied from the builder's %q, want go build's -o %s", img.entrypoint[0], src, img.buildOutput)
		}
		if len(img.cmd) == 0 || img.cmd[0] != "serve" {
			t.Errorf("CMD %q, want serve's flags", img.cmd)
		}
	})

	t.Run("exposes the public and admin ports of CMD", func(t *testing.T) {
		flags, _ := serveArgs(t, img.cmd)
		var want []string
		for _, f := range []string{"addr", "admin-addr"} {
			_, port, _ := strings.Cut(flags[f], ":")
			want = append(want, port)
		}
		if diff := cmp.Diff(want, img.exposed); diff != "" {
			t.Errorf("EXPOSE (-CMD's ports +EXPOSE):\n%s", diff)
		}
	})
}

// serveArgs splits serve's arguments into its flags (name -> value, "" for
// a boolean) and the project folder. Every flag must be one serve has.
func serveArgs(t *testing.T, args []string) (map[string]string, string) {
	t.Helper()
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("arguments %q: want serve ...", args)
	}
	known := serveFlags(t)
	flags := map[string]string{}
	var pos []string
	for i := 1; i < len(args); i++ {
		name, ok := strings.CutPrefix(args[i], "--")
		if !ok {
			pos = append(pos, args[i])
			continue
		}
		name, value, hasValue := strings.Cut(name, "=")
		boolean, exists := known[name]
		switch {
		case !exists:
			t.Errorf("serve has no flag --%s (arguments %q)", name, args)
		case !boolean && !hasValue:
			if i+1 == len(args) {
				t.Fatalf("--%s has no value", name)
			}
			i++
			value = args[i]
		}
		if _, dup := flags[name]; dup {
			t.Errorf("--%s given twice", name)
		}
		flags[name] = value
	}
	if len(pos) != 1 {
		t.Fatalf("arguments %q: want one project folder, got %q", args, pos)
	}
	return flags, pos[0]
}

var (
	builtOnce  sync.Once
	built      string
	buildErr   error
	flagsOnce  sync.Once
	flagsKnown map[string]bool
)

// buildAsImage builds the binary with the Dockerfile's go build command,
// as written, from the build context the Dockerfile's COPY . . would see
// (the repository less what .dockerignore leaves out), once per run.
func buildAsImage(t *testing.T) string {
	t.Helper()
	if goruntime.GOOS != "linux" {
		t.Skip("the image is linux's; this machine cannot run its binary")
	}
	builtOnce.Do(func() { built, buildErr = buildImageBinary(dockerfile(t)) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// TestMain removes what buildAsImage built.
func TestMain(m *testing.M) {
	code := m.Run()
	if built != "" {
		os.RemoveAll(filepath.Dir(built))
	}
	os.Exit(code)
}

func buildImageBinary(img *image) (_ string, err error) {
	out, err := os.MkdirTemp("", "wasmroute-image")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(out)
		}
	}()
	context := filepath.Join(out, "context")
	if err := copyContext(context); err != nil {
		return "", err
	}
	bin := filepath.Join(out, "wasmroute")
	args := slices.Clone(img.goBuild[1:])
	if i := slices.Index(args, "-o"); i >= 0 && i+1 < len(args) {
		args[i+1] = bin
	} else {
		return "", fmt.Errorf("go build %q has no -o", img.goBuild)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = context
	// The golang image sets no GOFLAGS and has no go.work; the build
	// context has no .git, so nothing is stamped from it.
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
	cmd.Env = append(cmd.Env, img.goEnv...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s in the build context: %v\n%s", strings.Join(args, " "), err, b)
	}
	return bin, nil
}

// copyContext copies the repository to dst as docker build sends it:
// without what .dockerignore excludes.
func copyContext(dst string) error {
	f, err := os.Open(filepath.Join(repo, ".dockerignore"))
	if err != nil {
		return err
	}
	patterns, err := ignorefile.ReadAll(f)
	f.Close()
	if err != nil {
		return err
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return err
	}
	root, err := filepath.Abs(repo)
	if err != nil {
		return err
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return os.MkdirAll(dst, 0o755)
		}
		excluded, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		if excluded {
			if d.IsDir() && !pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			return copyFile(p, target)
		}
		return nil
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// serveFlags runs the image's binary's serve -h and returns its flags
// (name -> whether boolean).
func serveFlags(t *testing.T) map[string]bool {
	t.Helper()
	bin := buildAsImage(t)
	flagsOnce.Do(func() {
		out, _ := exec.Command(bin, "serve", "-h").CombinedOutput()
		flagsKnown = map[string]bool{}
		for _, m := range regexp.MustCompile(`(?m)^  -(\S+)( \S+)?$`).FindAllStringSubmatch(string(out), -1) {
			flagsKnown[m[1]] = m[2] == ""
		}
	})
	if len(flagsKnown) < 10 {
		t.Fatalf("serve -h lists %d flags: %v", len(flagsKnown), flagsKnown)
	}
	return flagsKnown
}

// TestImageBinary builds the binary as the Dockerfile does and checks that
// it is static (no interpreter, no dynamic section: it runs on
// distroless/static or scratch, which have no libc) and runs.
func TestImageBinary(t *testing.T) {
	bin := buildAsImage(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is not static", p.Type)
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Errorf("the binary has a .dynamic section: it is not static")
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %q", libs)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("wasmroute version: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`^wasmroute .*\nwazero v\S+\ngo1\.\S+ linux/` + goruntime.GOARCH + `\n$`).Match(out) {
		t.Errorf("wasmroute version printed:\n%s", out)
	}
}

// TestImageCommand runs the image's binary with the image's CMD, as the
// container would (only the folders and ports moved to this machine's
// temporary ones, and the shutdown delay shortened): the admin port says
// healthy at once and ready once the routes are compiled, the routes
// answer on the public port, and SIGTERM turns /readyz to 503 before the
// server drains and exits 0. Nothing is written into the project folder,
// which the container mounts read-only.
func TestImageCommand(t *testing.T) {
	bin := buildAsImage(t)
	img := dockerfile(t)
	flags, projectDir := serveArgs(t, img.cmd)
	tmp := t.TempDir()
	project := filepath.Join(tmp, "project")
	wasm, err := os.ReadFile(filepath.Join(repo, "testdata", "wat", "hello.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(project, "app", "hello"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(project, "app", "hello", "route.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	before := tree(t, project)
	moved := map[string]string{
		flags["cache-dir"]:  filepath.Join(tmp, "cache"),
		flags["data-dir"]:   filepath.Join(tmp, "data"),
		projectDir:          project,
		flags["addr"]:       "127.0.0.1:0",
		flags["admin-addr"]: "127.0.0.1:0",
	}
	var args []string
	for i, a := range img.cmd {
		if to, ok := moved[a]; ok && a != "" {
			a = to
		}
		if i > 0 && img.cmd[i-1] == "--shutdown-delay" {
			a = "1s"
		}
		args = append(args, a)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"HOME=/nonexistent"} // distroless's nonroot has no writable home
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var admin, public string
	lines := bufio.NewScanner(stdout)
	for public == "" && lines.Scan() {
		if a, ok := strings.CutPrefix(lines.Text(), "admin on "); ok {
			admin, _, _ = strings.Cut(a, " ")
		}
		if a, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
			public = a
		}
	}
	if admin == "" || public == "" {
		cmd.Wait()
		t.Fatalf("no admin and listening lines; stderr:\n%s", stderr.String())
	}
	rest := make(chan string)
	go func() {
		var b strings.Builder
		for lines.Scan() {
			b.WriteString(lines.Text() + "\n")
		}
		rest <- b.String()
	}()

	if code := status(t, admin+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	ready := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !ready; time.Sleep(50 * time.Millisecond) {
		ready = status(t, admin+"/readyz") == http.StatusOK
	}
	if !ready {
		t.Fatalf("/readyz never said ready; stderr:\n%s", stderr.String())
	}
	if code := status(t, public+"/hello"); code != http.StatusOK {
		t.Errorf("GET /hello: %d", code)
	}
	if code := status(t, public+"/healthz"); code != http.StatusNotFound {
		t.Errorf("GET /healthz on the public port: %d, want 404 (the probes are on the admin port only)", code)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	draining := false
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline) && !draining; time.Sleep(20 * time.Millisecond) {
		draining = status(t, admin+"/readyz") == http.StatusServiceUnavailable
	}
	if !draining {
		t.Errorf("/readyz did not answer 503 after SIGTERM")
	}
	if code := status(t, public+"/hello"); code != http.StatusOK {
		t.Errorf("GET /hello during the shutdown delay: %d, want 200", code)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
	}
	if out := <-rest; !strings.Contains(out, "draining") {
		t.Errorf("stdout after listening lacks the drain:\n%s", out)
	}
	if !strings.Contains(stderr.String(), "msg=project") || !strings.Contains(stderr.String(), "digest=sha256:") {
		t.Errorf("the log lacks the project's digest:\n%s", stderr.String())
	}
	if diff := cmp.Diff(before, tree(t, project)); diff != "" {
		t.Errorf("serve wrote into the project folder, which the container mounts read-only (-before +after):\n%s", diff)
	}
}

// status GETs url and returns the status, 0 if it could not connect.
func status(t *testing.T, url string) int {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// tree lists every path under dir.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		paths = append(paths, rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}
