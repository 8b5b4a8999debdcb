# syntax=docker/dockerfile:1

# wasmroute's image: one static binary on distroless/static, run as uid
# 65532, and nothing else: no shell, no package manager, no Go toolchain.
# So the server runs with --no-build: build a project's route.go files
# before shipping it (wasmroute build, which prints the project's digest;
# serve logs the same digest when it starts).
#
#	docker build -t wasmroute .
#	docker run --read-only -p 3000:3000 -p 9090:9090 \
#		-v "$PWD/examples/demo:/srv/project:ro" \
#		--tmpfs /var/cache/wasmroute:uid=65532,gid=65532 \
#		-v wasmroute-data:/var/lib/wasmroute wasmroute
#
# deploy/deployment.yaml runs the same entrypoint with the same flags; the
# tests in deploy/ check that the two agree, and build the binary with the
# go build command below, as written, to check that it is static.

# The builder: the Go release go.mod asks for. A tag, not a digest: no
# registry is reachable where this file was written; pin it where one is
# (docker buildx imagetools inspect golang:1.26.8-bookworm).
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
	CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags="-s -w" -o /out/wasmroute ./cmd/wasmroute
# The mount points of the compilation cache and of the embedded key-value
# store, owned by the server's user (for a docker run without --read-only).
RUN mkdir -p /out/cache /out/data

# distroless/static: CA certificates, tzdata, /etc/passwd with nonroot
# (65532), no shell. The digest is the one public Dockerfiles pin for this
# tag (seen from 2026-08); it could not be checked against the registry
# here: refresh it with crane digest gcr.io/distroless/static-debian12:nonroot.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /out/wasmroute /wasmroute
COPY --from=build --chown=65532:65532 /out/cache /var/cache/wasmroute
COPY --from=build --chown=65532:65532 /out/data /var/lib/wasmroute
USER 65532:65532
# 3000: the routes; 9090: /healthz and /readyz, for the orchestrator only.
EXPOSE 3000 9090
ENTRYPOINT ["/wasmroute"]
CMD ["serve", "--addr", "0.0.0.0:3000", "--admin-addr", "0.0.0.0:9090", "--shutdown-delay", "10s", "--no-build", "--cache-dir", "/var/cache/wasmroute", "--cache-max-size", "1GiB", "--data-dir", "/var/lib/wasmroute", "/srv/project"]
