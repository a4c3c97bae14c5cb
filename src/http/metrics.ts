import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ReconcileMetrics } from '../reconcile/reconciler.ts';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one Roster instance. Each instance has its own Registry (never prom-client's global
 * one), so several servers can live in one process — tests do that — without "metric already registered".
 */
export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  /** Source records accepted by ingest, by kind (user, group, membership). */
  readonly recordsIngested: Counter<'kind'>;
  /** Events appended to the log, by type; increment after the transaction that wrote them commits. */
  readonly eventsWritten: Counter<'type'>;
  /** Wall time of one reconciliation, in seconds. */
  readonly reconcileDuration: Histogram;
  /** Pull runs that ended, by kind and final status. */
  readonly syncRuns: Counter<'kind' | 'status'>;
  /** Wall time of a pull run from its start to its end, by kind. */
  readonly syncRunDuration: Histogram<'kind'>;
  /** Provider calls slowed by throttling: the provider refused (`response`) or Roster paused ahead (`pacing`). */
  readonly providerThrottled: Counter<'connection_type' | 'source'>;
  /** Provider calls retried after an error (network, timeout, 5xx). */
  readonly providerRetries: Counter<'connection_type'>;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop); off in tests that build many instances. */
  processMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const labels = ['method', 'route', 'status'] as const;
  return {
    registry,
    httpRequests: new Counter({
      name: 'roster_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status.',
      labelNames: labels,
      registers: [registry],
    }),
    httpRequestDuration: new Histogram({
      name: 'roster_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method, route pattern and status.',
      labelNames: labels,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    recordsIngested: new Counter({
      name: 'roster_records_ingested_total',
      help: 'Source records accepted through ingest, by kind.',
      labelNames: ['kind'],
      registers: [registry],
    }),
    eventsWritten: new Counter({
      name: 'roster_events_written_total',
      help: 'Events appended to the event log, by type.',
      labelNames: ['type'],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: 'roster_reconcile_duration_seconds',
      help: 'Time taken by one reconciliation.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
      registers: [registry],
    }),
    syncRuns: new Counter({
      name: 'roster_sync_runs_total',
      help: 'Pull sync runs that ended, by kind (full, profile, critical) and status (completed, held, failed).',
      labelNames: ['kind', 'status'],
      registers: [registry],
    }),
    syncRunDuration: new Histogram({
      name: 'roster_sync_run_duration_seconds',
      help: 'Time from the start of a pull sync run to its end, by kind.',
      labelNames: ['kind'],
      buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 900, 1800, 3600],
      registers: [registry],
    }),
    providerThrottled: new Counter({
      name: 'roster_provider_throttled_total',
      help: 'Provider calls slowed by throttling, by connection type and source (response: the provider refused; pacing: Roster paused ahead).',
      labelNames: ['connection_type', 'source'],
      registers: [registry],
    }),
    providerRetries: new Counter({
      name: 'roster_provider_retries_total',
      help: 'Provider calls retried after a network error, timeout or 5xx, by connection type.',
      labelNames: ['connection_type'],
      registers: [registry],
    }),
  };
}

/** An onResponse hook that counts and times every request, labelled by route pattern (not raw URL). */
export function recordHttpMetrics(metrics: Metrics) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    // Unmatched URLs share one label, so scanners cannot blow up the label cardinality.
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { method: request.method, route, status: String(reply.statusCode) };
    metrics.httpRequests.inc(labels);
    metrics.httpRequestDuration.observe(labels, reply.elapsedTime / 1000);
  };
}

/** Counts committed events by type; pass it what `appendEvents` returned, once the transaction committed. */
export function recordEventsWritten(metrics: Metrics, events: ReadonlyArray<{ type: string }>): void {
  for (const event of events) metrics.eventsWritten.inc({ type: event.type });
}

/** The reconciler's view of the metrics (it knows nothing of Prometheus). */
export function reconcileMetrics(metrics: Metrics): ReconcileMetrics {
  return {
    observeReconcile: (seconds) => metrics.reconcileDuration.observe(seconds),
    recordsIngested: (kind, count) => metrics.recordsIngested.inc({ kind }, count),
    eventsWritten: (events) => recordEventsWritten(metrics, events),
  };
}
