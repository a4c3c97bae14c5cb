import { setImmediate as nextTurn } from 'node:timers/promises';
import { CompiledQuery } from 'kysely';
import PgBoss from 'pg-boss';
import type { JsonObject } from '../core/model.ts';
import type { Database, Db } from '../store/database.ts';
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

export interface PgBossJobQueueOptions {
  log: JobLogSink;
  /** pg-boss's tables; default `pgboss`, or `<schema>_jobs` for a database opened on its own schema. */
  schema?: string;
  /** Retries after the first attempt before a job is given up; default 3. */
  retryLimit?: number;
  /** Whole seconds before the first retry, doubled per attempt with jitter; 0 retries at once. Default 5. */
  retryDelaySeconds?: number;
  /**
   * How long a job may stay active before it counts as failed and is retried. This is also how a
   * crashed worker's job comes back: pg-boss 10 has no heartbeat. Default 2 hours (sync runs are
   * long); must stay under 24 hours.
   */
  expireInSeconds?: number;
  /** Per-queue overrides, e.g. a short expiry for quick fetch jobs. */
  queues?: Record<string, { expireInSeconds?: number }>;
  /** How often an idle worker looks for jobs; default 2 s, at least 0.5 s. */
  pollingIntervalSeconds?: number;
  /** How often expired jobs are looked for (one instance wins each round); default 60 s. */
  maintenanceIntervalSeconds?: number;
  /** How long stop() waits for running handlers before failing their jobs for retry; default 30 s. */
  stopTimeoutMs?: number;
}

const DEFAULT_EXPIRE_IN_SECONDS = 2 * 60 * 60;

/** Keeps parallel test schemas (and their queues) apart; a default deployment uses pg-boss's own schema. */
export function jobSchemaOf(database: Database): string {
  return database.schema ? `${database.schema}_jobs` : 'pgboss';
}

/**
 * Jobs in PostgreSQL through pg-boss, so every `roster worker` on the database shares them. Runs on
 * Roster's own connection pool rather than a second connection string.
 */
export class PgBossJobQueue implements JobQueue {
  readonly #boss: PgBoss;
  readonly #sql: KyselyPgBossDb;
  readonly #options: PgBossJobQueueOptions;
  readonly #created = new Map<string, Promise<void>>();
  readonly #workerIds = new Map<string, string[]>();
  /** Set by stop(): past it, a handler still running has had its job failed for retry. */
  #giveUpAt: number | undefined;
  #stopping: Promise<void> | undefined;

  /** Installs or migrates pg-boss's schema if needed and starts its maintenance. */
  static async start(database: Database, options: PgBossJobQueueOptions): Promise<PgBossJobQueue> {
    const queue = new PgBossJobQueue(database.db, options.schema ?? jobSchemaOf(database), options);
    await queue.#boss.start();
    return queue;
  }

  private constructor(db: Db, schema: string, options: PgBossJobQueueOptions) {
    checkOptions(options);
    this.#options = options;
    this.#sql = new KyselyPgBossDb(db);
    this.#boss = new PgBoss({
      db: this.#sql,
      schema,
      // Roster schedules on its own; pg-boss's cron would add two internal queues and their polling.
      schedule: false,
      supervise: true,
      maintenanceIntervalSeconds: options.maintenanceIntervalSeconds ?? 60,
    });
    // An 'error' event without a listener would throw and take the process down.
    this.#boss.on('error', (error) => options.log.warn({ err: error }, 'Job queue background error'));
  }

  async send(queue: string, payload: JsonObject, options: JobOptions = {}): Promise<void> {
    if (this.#giveUpAt !== undefined) throw new Error(`The job queue is stopped; cannot send to '${queue}'`);
    await this.#ensureQueue(queue);
    const delayMs = options.delayMs ?? 0;
    await this.#boss.send(queue, payload, {
      // Settings go with each job too: a queue keeps those it was created with.
      ...this.#settings(queue),
      // A number is seconds added to the database's now(), so every worker agrees when the job is due.
      ...(delayMs > 0 ? { startAfter: delayMs / 1000 } : {}),
    });
    // pg-boss 10 does not notify workers: wake this process's own instead of waiting for their poll.
    if (delayMs <= 0) for (const id of this.#workerIds.get(queue) ?? []) this.#boss.notifyWorker(id);
  }

  async work(queue: string, handler: JobHandler, options?: WorkOptions): Promise<void> {
    if (this.#giveUpAt !== undefined) throw new Error(`The job queue is stopped; cannot work '${queue}'`);
    const concurrency = concurrencyOf(queue, options);
    if (this.#workerIds.has(queue)) throw new Error(`Queue '${queue}' already has a handler in this process`);
    const ids: string[] = [];
    this.#workerIds.set(queue, ids);
    await this.#ensureQueue(queue);
    // pg-boss 10 has no local concurrency option and a worker runs one batch at a time (its jobs are
    // completed or failed together), so each slot is a worker of its own fetching one job.
    for (let slot = 0; slot < concurrency; slot += 1) {
      let workerId: string | undefined;
      const run = async ([job]: PgBoss.JobWithMetadata<JsonObject>[]): Promise<void> => {
        try {
          if (job) await this.#run(queue, handler, job);
        } finally {
          // Skips the worker's pause before its next fetch, which would otherwise cap it at one job
          // per polling interval; it still pauses once the queue is empty.
          if (workerId) this.#boss.notifyWorker(workerId);
        }
      };
      workerId = await this.#boss.work<JsonObject>(
        queue,
        { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: this.#options.pollingIntervalSeconds ?? 2 },
        run,
      );
      ids.push(workerId);
    }
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    const timeout = this.#options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    // pg-boss fails the jobs still running at its own deadline, which falls no earlier than this one.
    this.#giveUpAt = Date.now() + Math.max(timeout, 1000);
    // Waits for running handlers up to the timeout, then fails the jobs still running so another
    // worker retries them.
    await this.#boss.stop({ graceful: true, wait: true, close: false, timeout });
    // A worker may still be fetching, or reporting a job; let that finish before the caller closes the pool.
    await this.#sql.settle();
    this.#sql.closed = true;
  }

  async #run(queue: string, handler: JobHandler, job: PgBoss.JobWithMetadata<JsonObject>): Promise<void> {
    // Fetched while stopping: failing it returns it to the queue (at the cost of one attempt).
    if (this.#giveUpAt !== undefined) throw new Error('The job queue is stopping; job left for another worker');
    let failure: { error: unknown } | undefined;
    try {
      await handler(job.data);
    } catch (error) {
      failure = { error };
    }
    if (this.#giveUpAt !== undefined && Date.now() >= this.#giveUpAt) {
      // Its job was already failed for retry; once stopped, its report is dropped (see KyselyPgBossDb).
      this.#options.log.warn({ queue, jobId: job.id }, 'Job finished after stop() stopped waiting for it');
    }
    if (!failure) return;
    const context = { err: failure.error, queue, jobId: job.id, attempt: job.retryCount + 1, retryLimit: job.retryLimit };
    if (job.retryCount >= job.retryLimit) this.#options.log.error(context, 'Job failed on its last attempt; given up');
    else this.#options.log.warn(context, 'Job failed; will retry');
    throw failure.error;
  }

  #settings(queue: string) {
    const retryDelay = this.#options.retryDelaySeconds ?? 5;
    return {
      retryLimit: this.#options.retryLimit ?? DEFAULT_RETRY_LIMIT,
      retryDelay,
      // With backoff pg-boss raises the delay to at least 1 s, so "0" would not mean at once.
      retryBackoff: retryDelay > 0,
      expireInSeconds: this.#options.queues?.[queue]?.expireInSeconds ?? this.#options.expireInSeconds ?? DEFAULT_EXPIRE_IN_SECONDS,
    };
  }

  /** pg-boss 10 refuses jobs for a queue not created yet; creating is idempotent, so once per process. */
  #ensureQueue(queue: string): Promise<void> {
    let created = this.#created.get(queue);
    if (!created) {
      created = this.#boss.createQueue(queue, { name: queue, ...this.#settings(queue) });
      // Tried again next time rather than remembered as failed.
      created.catch(() => this.#created.delete(queue));
      this.#created.set(queue, created);
    }
    return created;
  }
}

/** pg-boss would refuse these only at the first send or work; a bad configuration should stop start-up. */
function checkOptions(options: PgBossJobQueueOptions): void {
  const expiries = [options.expireInSeconds, ...Object.values(options.queues ?? {}).map((queue) => queue.expireInSeconds)];
  for (const expiry of expiries) {
    if (expiry !== undefined && !(expiry >= 1 && expiry < 24 * 60 * 60)) {
      throw new Error(`Job expiry must be at least 1 s and under 24 hours (pg-boss 10), got ${expiry} s`);
    }
  }
  const delay = options.retryDelaySeconds;
  if (delay !== undefined && !(Number.isInteger(delay) && delay >= 0)) {
    throw new Error(`Job retry delay must be a whole number of seconds, got ${delay}`);
  }
  const polling = options.pollingIntervalSeconds;
  if (polling !== undefined && !(polling >= 0.5)) throw new Error(`Job polling interval must be at least 0.5 s, got ${polling}`);
}

/** pg-boss's whole database port, over Roster's Kysely pool. */
class KyselyPgBossDb implements PgBoss.Db {
  /**
   * Set once stopped. A handler that outlived stop() still reports its job, without pg-boss awaiting
   * the result: on a closed pool that rejection would end the process. pg-boss's own Db resolves to
   * nothing once closed, and its callers expect that; this does the same. The job was failed for retry.
   */
  closed = false;
  #inFlight = 0;
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async executeSql(text: string, values: unknown[] = []): Promise<{ rows: any[] }> {
    if (this.closed) return undefined as unknown as { rows: any[] };
    this.#inFlight += 1;
    try {
      // Without parameters pg uses the simple protocol, which pg-boss's multi-statement commands need.
      const result = await this.#db.executeQuery(CompiledQuery.raw(text, values));
      return { rows: result.rows as any[] };
    } finally {
      this.#inFlight -= 1;
    }
  }

  /** Resolves once no statement is in flight at the end of a turn (bounded: a stuck statement would hang stop). */
  async settle(): Promise<void> {
    for (let turn = 0; turn < 500; turn += 1) {
      await nextTurn();
      if (this.#inFlight === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
