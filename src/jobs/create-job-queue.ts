import type { Database } from '../store/database.ts';
import { InProcessJobQueue, type InProcessJobQueueOptions } from './in-process-queue.ts';
import type { JobLogSink, JobQueue } from './job-queue.ts';
import { PgBossJobQueue, type PgBossJobQueueOptions } from './pg-boss-queue.ts';

type SharedOptions = 'log' | 'retryLimit' | 'stopTimeoutMs';

export interface JobQueueOptions {
  log: JobLogSink;
  retryLimit?: number;
  stopTimeoutMs?: number;
  /** Used when the jobs stay in this process. */
  inProcess?: Omit<InProcessJobQueueOptions, SharedOptions>;
  /** Used when the jobs go through pg-boss. */
  pgBoss?: Omit<PgBossJobQueueOptions, SharedOptions>;
}

/**
 * A database that takes concurrent writers can be shared by several worker processes, so jobs go through
 * it (pg-boss); otherwise there is one process and they stay in its memory.
 */
export async function createJobQueue(database: Database, options: JobQueueOptions): Promise<JobQueue> {
  const { log, retryLimit, stopTimeoutMs } = options;
  if (database.capabilities.concurrentWriters) {
    return PgBossJobQueue.start(database, { ...options.pgBoss, log, retryLimit, stopTimeoutMs });
  }
  return new InProcessJobQueue({ ...options.inProcess, log, retryLimit, stopTimeoutMs });
}
