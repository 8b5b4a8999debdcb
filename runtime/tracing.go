package runtime

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// This file makes one OpenTelemetry span per request (Config.Tracer).

// startSpan starts r's span, the child of r's traceparent if it holds a
// valid one (checkTrace has dropped any other), and puts the span's own
// traceparent in r's header: the guest, and its fetches, see the span as
// their parent. Without a traceparent the span starts a trace.
func (o *serverObs) startSpan(r *http.Request) trace.Span {
	carrier := propagation.HeaderCarrier(r.Header)
	ctx := propagation.TraceContext{}.Extract(context.Background(), carrier)
	ctx, span := o.tracer.Start(ctx, "request", trace.WithSpanKind(trace.SpanKindServer))
	propagation.TraceContext{}.Inject(ctx, carrier)
	return span
}

// endSpan names r's span after its route pattern, sets its attributes and
// ends it.
func (o *serverObs) endSpan(span trace.Span, ow *obsWriter, r *http.Request, status int, aborted bool) {
	route := routeNone
	if ow.rt != nil {
		route = ow.rt.Pattern
	}
	span.SetName(route)
	method := methodLabels[methodLabel(r.Method)]
	if method == "other" {
		method = "_OTHER" // as OpenTelemetry's HTTP conventions name it
	}
	span.SetAttributes(
		attribute.String("http.request.method", method),
		attribute.String("http.route", route),
		attribute.String("url.path", truncate(r.URL.EscapedPath(), maxLoggedPath)), // a client chooses its length
		attribute.Int("http.response.status_code", status),
		attribute.Int64("http.response.body.size", ow.bytes),
		attribute.String("wasmroute.tenant", o.tenant),
		attribute.Float64("wasmroute.instance_wait", ow.wait.Seconds()),
	)
	switch {
	case aborted:
		span.SetStatus(codes.Error, "aborted")
	case status >= 500:
		span.SetStatus(codes.Error, "")
	}
	span.End()
}
