//go:build !nootlp

package main

import (
	"context"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// otlpExporter returns OpenTelemetry's OTLP/HTTP exporter to url. It is
// most of the binary's weight of tracing (it links gRPC's configuration,
// ~21 MB): build with -tags nootlp to leave it out (otlp_off.go).
func otlpExporter(ctx context.Context, url string) (sdktrace.SpanExporter, error) {
	return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(url))
}
