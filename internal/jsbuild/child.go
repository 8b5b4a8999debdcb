package jsbuild

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// esbuild's parser recurses once per level of nesting and has no bound of
// its own: a 4 MB route.ts of nested brackets exhausts the goroutine's 1 GB
// stack, a fatal error that no recover catches. Code from someone else — a
// tenant's — is therefore bundled in a child process (BuildInChild), where
// such a file costs one route, not every tenant of the server.

// childEnv marks the environment of a child process run by BuildInChild.
const childEnv = "WASMROUTE_JSBUILD_CHILD"

// maxChildTime bounds one build in a child process.
const maxChildTime = time.Minute

// childResult is what a child process writes to its stdout.
type childResult struct {
	Bundle   *Bundle  `json:",omitempty"`
	Messages []string `json:",omitempty"` // a *BuildError's
	Err      string   `json:",omitempty"` // another error's
}

// BuildInChild is Build run in a child process: the running executable, which
// must call ServeChild first thing in its main. A build that crashes or
// takes longer than a minute fails with an error saying so.
func BuildInChild(ctx context.Context, dir, file string) (*Bundle, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("jsbuild: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, maxChildTime)
	defer cancel()
	args, _ := json.Marshal([2]string{dir, file})
	var stdout bytes.Buffer
	stderr := &limitedBuffer{max: 4 << 10}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = []string{childEnv + "=1"} // nothing else of ours
	cmd.Stdin = bytes.NewReader(args)
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("bundling took more than %v", maxChildTime)
		}
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("the bundler crashed (%v): %s", err, msg)
	}
	var res childResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("jsbuild: reading the child's answer: %w", err)
	}
	switch {
	case res.Messages != nil:
		return nil, &BuildError{File: file, Messages: res.Messages}
	case res.Err != "":
		return nil, errors.New(res.Err)
	case res.Bundle == nil:
		return nil, errors.New("jsbuild: the child answered no bundle")
	}
	return res.Bundle, nil
}

// ServeChild makes the process a child of BuildInChild when its environment
// says so: it builds the route named on stdin, writes the result to stdout
// and exits. Otherwise it returns at once. Call it first thing in main.
func ServeChild() {
	if os.Getenv(childEnv) == "" {
		return
	}
	var args [2]string
	var res childResult
	if b, err := io.ReadAll(os.Stdin); err != nil {
		res.Err = err.Error()
	} else if err := json.Unmarshal(b, &args); err != nil {
		res.Err = err.Error()
	} else if bundle, err := Build(args[0], args[1]); err != nil {
		var be *BuildError
		if errors.As(err, &be) {
			res.Messages = be.Messages
		} else {
			res.Err = err.Error()
		}
	} else {
		res.Bundle = bundle
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string { return b.buf.String() }
