//go:build wasip1

// files attempts to reach the host's filesystem: it reads /etc/passwd, lists
// / and ., opens the project folder (?dir=, the host path the test passes)
// and its wasmroute.json, creates a file (?create=, a host path) and asks
// for its working folder; it answers what each attempt got, as JSON.
package main

import (
	"os"
	"path/filepath"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

type attempt struct {
	OK  bool   `json:"ok"`
	Err string `json:"err,omitempty"`
	Got string `json:"got,omitempty"`
}

func try(got string, err error) attempt {
	if err != nil {
		return attempt{Err: err.Error()}
	}
	if len(got) > 200 {
		got = got[:200]
	}
	return attempt{OK: true, Got: got}
}

func list(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	names := ""
	for _, e := range entries {
		names += e.Name() + " "
	}
	if err == nil && len(entries) == 0 {
		names = "(empty)"
	}
	return names, err
}

func read(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

//go:wasmexport GET
func get() {
	route.Serve(func(w *route.Response, r *route.Request) {
		q := r.Query()
		dir, create := q.Get("dir"), q.Get("create")
		res := map[string]attempt{}
		res["read /etc/passwd"] = try(read("/etc/passwd"))
		res["list /"] = try(list("/"))
		res["list ."] = try(list("."))
		res["list project"] = try(list(dir))
		res["read project wasmroute.json"] = try(read(filepath.Join(dir, "wasmroute.json")))
		res["read ../../wasmroute.json"] = try(read("../../wasmroute.json"))
		f, err := os.Open(dir)
		if err == nil {
			f.Close()
		}
		res["open project"] = try(dir, err)
		res["create file"] = try(create, os.WriteFile(create, []byte("escaped"), 0o644))
		// wasip1 answers "/" or "" without asking the host: only a real
		// folder would be an escape.
		cwd, err := os.Getwd()
		res["getwd"] = attempt{OK: err == nil && cwd != "" && cwd != "/", Got: cwd}
		w.JSON(200, res)
	})
}

func main() {}
