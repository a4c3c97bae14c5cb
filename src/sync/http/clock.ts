import { setTimeout as delay } from 'node:timers/promises';

/**
 * Time as the sync engine sees it. Injected so tests can run an hour of throttling in milliseconds;
 * `sleep` must reject when `signal` aborts so a cancelled run stops waiting at once.
 */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    if (ms <= 0) {
      signal?.throwIfAborted();
      return;
    }
    await delay(ms, undefined, signal ? { signal } : undefined);
  },
};

/** The slice of pino (and Fastify's logger) these modules use; pino instances satisfy it structurally. */
export interface LogSink {
  debug(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export const silentLog: LogSink = { debug: () => {}, warn: () => {} };
