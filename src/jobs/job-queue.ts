import type { JsonObject } from '../core/model.ts';
import type { LogSink } from '../sync/http/clock.ts';

/**
 * Background work (sync runs, fetching an object a push notification named, renewing push channels) as
 * named queues of JSON payloads. In-process on SQLite; through pg-boss on PostgreSQL, where several
 * `roster worker` processes share the work and a crashed worker's job is retried by another.
 */
export interface JobQueue {
  /** Stores a job; it waits until some process works its queue (send before work is fine). */
  send(queue: string, payload: JsonObject, options?: JobOptions): Promise<void>;
  /**
   * Registers the handler of a queue and starts consuming it. A handler that throws is retried with
   * backoff up to a small limit, then given up and logged. One handler per queue per process.
   */
  work(queue: string, handler: JobHandler, options?: WorkOptions): Promise<void>;
  /** Stops taking jobs and waits (up to a bound) for running handlers to finish. Idempotent. */
  stop(): Promise<void>;
}

export interface JobOptions {
  /** Run no earlier than this many ms from now. */
  delayMs?: number;
}

export type JobHandler = (payload: JsonObject) => Promise<void>;

export interface WorkOptions {
  /** Handlers of this queue running at once in this process; default 1. */
  concurrency?: number;
}

/** Retries after the first attempt before a job is given up, unless configured otherwise. */
export const DEFAULT_RETRY_LIMIT = 3;

/** How long stop() waits for running handlers, unless configured otherwise. */
export const DEFAULT_STOP_TIMEOUT_MS = 30_000;

/** Roster's log slice plus `error`, for jobs given up; pino and Fastify's logger satisfy it. */
export interface JobLogSink extends LogSink {
  error(obj: Record<string, unknown>, msg: string): void;
}

/** Work options checked once, the same way for every adapter: a bad value is a programmer error. */
export function concurrencyOf(queue: string, options: WorkOptions | undefined): number {
  const concurrency = options?.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new Error(`Concurrency of queue '${queue}' must be a positive integer, got ${concurrency}`);
  }
  return concurrency;
}
