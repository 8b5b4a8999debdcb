// Package deploy holds wasmroute's Kubernetes manifests (the *.yaml files
// beside this one) and the tests that check them and the repository's
// Dockerfile without a cluster or a Docker daemon: every manifest is
// decoded strictly into the typed Kubernetes API structs (an unknown or
// misspelt field fails), then checked as a reviewer would (probes,
// security context, selectors, volumes, the server's flags); the
// Dockerfile is parsed with BuildKit's own parser and its go build command
// is run as written, to a static binary.
//
// It is a module of its own, so that the Kubernetes and BuildKit modules
// the tests need never enter wasmroute's go.mod:
//
//	cd deploy && go test ./...
package deploy
