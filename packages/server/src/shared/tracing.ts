/**
 * OpenTelemetry tracing of events, off unless the standard variables turn it on:
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), with `OTEL_SERVICE_NAME`
 * (default `herald`). Then spans go to that OTLP/HTTP endpoint through the official SDK and
 * exporter; when an embedding app has registered its own tracer provider, Herald's spans join it.
 *
 * Off, nothing of the SDK is loaded and every helper here returns at its first line, so the
 * publish and fan-out paths pay one boolean test.
 *
 * An event's trace context travels with it as a W3C `traceparent` string (StreamEvent.trace),
 * through the engine and Redis, so each node's fan-out span joins the publisher's trace.
 */

import { context, propagation, trace, SpanKind, SpanStatusCode, type Attributes, type Context, type Span } from "@opentelemetry/api";

let enabled = false;
let flush: (() => Promise<void>) | undefined;

export function tracingEnabled(): boolean {
  return enabled;
}

/** Reads the OTEL_* variables and, when an endpoint is set, registers the SDK once per process. */
export async function startTracing(version = "0.0.0"): Promise<void> {
  if (enabled) return;
  const tracesEndpoint = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const endpoint = tracesEndpoint ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint || process.env.OTEL_SDK_DISABLED === "true") return;
  const [{ W3CTraceContextPropagator }, { TracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import("@opentelemetry/core"),
    import("@opentelemetry/sdk-trace"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
  ]);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  // The exporter reads the rest (headers, timeout) from the OTEL_EXPORTER_OTLP_* variables itself.
  const exporter = new OTLPTraceExporter({ url: tracesEndpoint ?? `${endpoint.replace(/\/$/, "")}/v1/traces` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": process.env.OTEL_SERVICE_NAME ?? "herald", "service.version": version }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: Number(process.env.OTEL_BSP_SCHEDULE_DELAY ?? 1000) })],
  });
  // An app that embeds Herald may have registered its own provider: the first registration wins.
  if (!trace.setGlobalTracerProvider(provider)) await provider.shutdown();
  else flush = () => provider.forceFlush();
  enabled = true;
}

/** Sends the spans still buffered (at shutdown). */
export async function flushTracing(): Promise<void> {
  await flush?.().catch(() => undefined);
}

const tracer = () => trace.getTracer("herald");

/** The trace context of an HTTP request's `traceparent` / `tracestate` headers. */
export function contextFromHeaders(headers: Record<string, string | string[] | undefined>): Context | undefined {
  if (!enabled) return undefined;
  return propagation.extract(context.active(), headers);
}

/** The caller's active context (an embedding app's own instrumentation), while tracing is on. */
export function activeTraceContext(): Context | undefined {
  return enabled ? context.active() : undefined;
}

/** The context a `traceparent` string carried by an event stands for. */
export function contextFromTraceparent(traceparent: string | undefined): Context | undefined {
  if (!enabled || traceparent === undefined) return undefined;
  return propagation.extract(context.active(), { traceparent });
}

/** Starts a span (undefined while tracing is off). `parent` undefined: a new trace. */
export function startSpan(name: string, parent: Context | undefined, attributes: Attributes, kind: SpanKind = SpanKind.INTERNAL): Span | undefined {
  if (!enabled) return undefined;
  return tracer().startSpan(name, { kind, attributes }, parent ?? context.active());
}

/** The context of a span, to start its children with. */
export function contextOf(span: Span | undefined): Context | undefined {
  return span === undefined ? undefined : trace.setSpan(context.active(), span);
}

/** A span's W3C `traceparent`, to carry with an event. */
export function traceparentOf(span: Span | undefined): string | undefined {
  if (span === undefined) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  return carrier.traceparent;
}

/** The 32-hex trace id of a `traceparent`, for logs and the dashboard. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent?.split("-")[1];
}

/** Ends a span, marking it failed when `error` is given. */
export function endSpan(span: Span | undefined, error?: unknown): void {
  if (span === undefined) return;
  if (error !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    if (error instanceof Error) span.recordException(error);
  }
  span.end();
}

export { SpanKind };
/** A trace context to start spans in (an incoming request's, or an embedding app's active one). */
export type TraceContext = Context;
