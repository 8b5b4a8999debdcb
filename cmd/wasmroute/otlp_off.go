//go:build nootlp

package main

import (
	"context"
	"errors"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// otlpExporter fails: this binary was built with -tags nootlp.
func otlpExporter(context.Context, string) (sdktrace.SpanExporter, error) {
	return nil, errors.New("this wasmroute was built without the OTLP exporter (-tags nootlp)")
}
