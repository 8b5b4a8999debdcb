package kv_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmroute/wasmroute/internal/kv"
)

func TestEmbeddedOpen(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "kv")
	st := openEmbedded(t, dir)
	if got := st.Backend(); got != "bolt" {
		t.Errorf("Backend() = %q, want bolt", got)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the folder: %v, %v; want mode 0700", fi.Mode(), err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, ".gitignore")); err != nil || string(b) != "*\n" {
		t.Errorf(".gitignore = %q, %v; want \"*\\n\"", b, err)
	}

	// A folder in use fails at once, saying so.
	start := time.Now()
	if st2, err := kv.Open(context.Background(), kv.Config{Dir: dir}); err == nil {
		st2.Close()
		t.Errorf("a second Open of %s succeeded", dir)
	} else if want := "kv: " + filepath.Join(dir, "kv.db") + " is in use by another process"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("a second Open: %v, want %q…", err, want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a second Open took %v to fail", d)
	}

}

func TestOpenConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		cfg  kv.Config
		want string
	}{
		{kv.Config{}, "kv: no folder for the embedded store (Config.Dir)"},
		{kv.Config{URL: "memcached://localhost:11211", Dir: t.TempDir()}, `kv: store URL memcached://localhost:11211: unknown scheme "memcached" (want redis, rediss, unix, or no URL for the embedded store)`},
		{kv.Config{URL: "localhost:6379"}, `kv: store URL localhost:6379: unknown scheme "localhost" (want redis, rediss, unix, or no URL for the embedded store)`},
		{kv.Config{URL: "http://u:secret@x"}, `kv: store URL http://u:xxxxx@x: unknown scheme "http" (want redis, rediss, unix, or no URL for the embedded store)`},
		{kv.Config{URL: "redis://localhost:6379/x"}, `kv: store URL redis://localhost:6379/x: valkey: invalid database number: "x"`},
	} {
		st, err := kv.Open(ctx, tc.cfg)
		if err == nil {
			st.Close()
		}
		if err == nil || err.Error() != tc.want {
			t.Errorf("Open(%+v): %v, want %q", tc.cfg, err, tc.want)
		}
	}

	st := openEmbedded(t, t.TempDir())
	for name, ok := range map[string]bool{
		"a": true, "my-app.v2_x": true, strings.Repeat("a", 100): true, "0": true,
		"": false, strings.Repeat("a", 101): false, "A": false, "a:b": false, "{a}": false, "a/b": false, "é": false, "a b": false,
	} {
		_, err := st.Namespace(name, kv.Limits{})
		if (err == nil) != ok {
			t.Errorf("Namespace(%q): %v, want ok %v", name, err, ok)
		}
	}
	if _, err := st.Namespace("neg", kv.Limits{MaxKeys: -1}); err == nil {
		t.Errorf("Namespace with negative limits succeeded")
	}
}

// TestReopenNamespace checks that a namespace keeps its keys, count
// included, across Close and Open.
func TestReopenNamespace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := openEmbedded(t, dir)
	ns, err := st.Namespace("kept", kv.Limits{MaxKeys: 2})
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, ns, "a", "1", 0)
	mustIncr(t, ns, "b", 2, 2)
	st.Close()
	st = openEmbedded(t, dir)
	if ns, err = st.Namespace("kept", kv.Limits{MaxKeys: 2}); err != nil {
		t.Fatal(err)
	}
	mustGet(t, ns, "a", "1")
	mustIncr(t, ns, "b", 1, 3)
	if err := ns.Set(context.Background(), "c", nil, 0); !errors.Is(err, kv.ErrLimit) {
		t.Errorf("a third key after reopening: %v, want ErrLimit", err)
	}
}

// crashChildEnv names the folder a child process of TestNoLostWrites
// writes to (see TestMain).
const crashChildEnv = "WASMROUTE_KV_CRASH_DIR"

// TestNoLostWrites kills (SIGKILL) a child process that writes to the
// embedded store from 8 goroutines and prints each write the store
// acknowledged; reopened, the store must hold every one.
func TestNoLostWrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })

	var acks []string
	lines := bufio.NewScanner(out)
	for len(acks) < 400 && lines.Scan() {
		acks = append(acks, lines.Text())
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL, by PID
		t.Fatal(err)
	}
	for lines.Scan() { // acknowledged before it died, still in the pipe
		acks = append(acks, lines.Text())
	}
	err = cmd.Wait()
	if len(acks) < 400 {
		t.Fatalf("the child acknowledged %d writes, then: %v", len(acks), err)
	}

	st := openEmbedded(t, dir)
	ns, err := st.Namespace("crash", kv.Limits{MaxKeys: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	maxCount, sets := int64(0), 0
	for _, ack := range acks {
		switch op, arg, _ := strings.Cut(ack, " "); op {
		case "set":
			mustGet(t, ns, arg, "value of "+arg)
			sets++
		case "incr":
			n, err := strconv.ParseInt(arg, 10, 64)
			if err != nil {
				t.Fatalf("ack %q: %v", ack, err)
			}
			maxCount = max(maxCount, n)
		default:
			t.Fatalf("ack %q", ack)
		}
	}
	got, err := ns.Get(context.Background(), "count")
	if n, _ := strconv.ParseInt(string(got), 10, 64); err != nil || n < maxCount {
		t.Errorf("count = %s, %v; an increment to %d was acknowledged", got, err, maxCount)
	}
	t.Logf("%d sets and %d increments acknowledged before the kill, all found", sets, len(acks)-sets)
}

// crashChild is the child process of TestNoLostWrites: it writes until
// killed, printing each write once acknowledged.
func crashChild(dir string) int {
	ctx := context.Background()
	st, err := kv.Open(ctx, kv.Config{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ns, err := st.Namespace("crash", kv.Limits{MaxKeys: 1 << 30})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var mu sync.Mutex
	ack := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, format, args...) // one write(2) per line
	}
	for g := range 8 {
		go func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("g%d-%d", g, i)
				if err := ns.Set(ctx, key, []byte("value of "+key), 0); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				ack("set %s\n", key)
				n, err := ns.Incr(ctx, "count", 1)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				ack("incr %d\n", n)
			}
		}()
	}
	select {}
}
