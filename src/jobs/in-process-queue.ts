import type { JsonObject } from '../core/model.ts';
import {
  concurrencyOf,
  DEFAULT_RETRY_LIMIT,
  DEFAULT_STOP_TIMEOUT_MS,
  type JobHandler,
  type JobLogSink,
  type JobOptions,
  type JobQueue,
  type WorkOptions,
} from './job-queue.ts';

export interface InProcessJobQueueOptions {
  log: JobLogSink;
  /** Retries after the first attempt before a job is given up; default 3. */
  retryLimit?: number;
  /** Base of the exponential backoff between attempts (full jitter); default 1 s. */
  retryBaseMs?: number;
  /** How long stop() waits for running handlers; default 30 s. */
  stopTimeoutMs?: number;
}

interface PendingJob {
  payload: JsonObject;
  /** 1 for the first run. */
  attempt: number;
}

interface QueueState {
  handler?: JobHandler;
  concurrency: number;
  running: number;
  ready: PendingJob[];
}

/**
 * Jobs held in this process's memory, for the embedded single-process deployment (SQLite). Jobs not yet
 * run when the process stops are lost: callers must be able to derive due work again from the database.
 */
export class InProcessJobQueue implements JobQueue {
  readonly #log: JobLogSink;
  readonly #retryLimit: number;
  readonly #retryBaseMs: number;
  readonly #stopTimeoutMs: number;
  readonly #queues = new Map<string, QueueState>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #running = new Set<Promise<void>>();
  #stopped = false;
  #stopping: Promise<void> | undefined;

  constructor(options: InProcessJobQueueOptions) {
    this.#log = options.log;
    this.#retryLimit = options.retryLimit ?? DEFAULT_RETRY_LIMIT;
    this.#retryBaseMs = options.retryBaseMs ?? 1000;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  }

  async send(queue: string, payload: JsonObject, options: JobOptions = {}): Promise<void> {
    // Accepting it would lose it silently: nothing runs it any more.
    if (this.#stopped) throw new Error(`The job queue is stopped; cannot send to '${queue}'`);
    // A copy, as a durable queue would store: the sender may go on changing its object.
    this.#enqueue(queue, { payload: structuredClone(payload), attempt: 1 }, options.delayMs ?? 0);
  }

  async work(queue: string, handler: JobHandler, options?: WorkOptions): Promise<void> {
    if (this.#stopped) throw new Error(`The job queue is stopped; cannot work '${queue}'`);
    const concurrency = concurrencyOf(queue, options);
    const state = this.#state(queue);
    if (state.handler) throw new Error(`Queue '${queue}' already has a handler in this process`);
    state.handler = handler;
    state.concurrency = concurrency;
    this.#pump(queue, state);
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#drain();
    return this.#stopping;
  }

  async #drain(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    if (this.#running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.#stopTimeoutMs);
    });
    const settled = Promise.allSettled([...this.#running]).then(() => false);
    if (await Promise.race([settled, timedOut])) {
      this.#log.warn({ running: this.#running.size, timeoutMs: this.#stopTimeoutMs }, 'Job queue stopped with handlers still running');
    }
    clearTimeout(timer);
  }

  #state(queue: string): QueueState {
    let state = this.#queues.get(queue);
    if (!state) {
      state = { concurrency: 1, running: 0, ready: [] };
      this.#queues.set(queue, state);
    }
    return state;
  }

  #enqueue(queue: string, job: PendingJob, delayMs: number): void {
    if (this.#stopped) return;
    const state = this.#state(queue);
    if (delayMs <= 0) {
      state.ready.push(job);
      this.#pump(queue, state);
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      state.ready.push(job);
      this.#pump(queue, state);
    }, delayMs);
    // A waiting job must not keep the process alive on its own.
    timer.unref();
    this.#timers.add(timer);
  }

  #pump(queue: string, state: QueueState): void {
    while (!this.#stopped && state.handler && state.running < state.concurrency && state.ready.length > 0) {
      const job = state.ready.shift()!;
      state.running += 1;
      const run = this.#run(queue, state.handler, job).finally(() => {
        state.running -= 1;
        this.#running.delete(run);
        this.#pump(queue, state);
      });
      this.#running.add(run);
    }
  }

  /** Never rejects: a failing handler is logged and retried, never allowed to crash the process. */
  async #run(queue: string, handler: JobHandler, job: PendingJob): Promise<void> {
    try {
      // Each attempt gets its own copy, as each would read the job anew from a store.
      await handler(structuredClone(job.payload));
    } catch (error) {
      const context = { err: error, queue, attempt: job.attempt, retryLimit: this.#retryLimit };
      if (job.attempt > this.#retryLimit) {
        this.#log.error(context, 'Job failed on its last attempt; given up');
        return;
      }
      // Full jitter: jobs that failed together (a provider outage) do not all retry at once.
      const delayMs = Math.random() * this.#retryBaseMs * 2 ** (job.attempt - 1);
      this.#log.warn({ ...context, delayMs: Math.round(delayMs) }, 'Job failed; will retry');
      this.#enqueue(queue, { payload: job.payload, attempt: job.attempt + 1 }, delayMs);
    }
  }
}
