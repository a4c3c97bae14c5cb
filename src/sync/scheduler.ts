import type { JobQueue } from '../jobs/job-queue.ts';
import type { Database } from '../store/database.ts';
import { JOBS, type ScheduleTier } from './pull-connections.ts';
import { describeSyncError } from './sync-errors.ts';
import { SYNCING_STATES, type SyncRunner } from './sync-runner.ts';

export interface SchedulerDeps {
  database: Database;
  runner: SyncRunner;
  jobs: JobQueue;
  clock: () => Date;
  logger: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

export interface SchedulerOptions {
  /** How often due tiers and abandoned runs are looked for. */
  tickMs: number;
  /** A queued run older than this with nothing working on it is queued again (its job was lost with a process). */
  queuedGraceMs: number;
}

/**
 * Starts what is due: each connection's tiers (critical, profile, full, channel renewal) and runs left by a
 * dead worker. Any number of processes may tick at once: a tier is claimed by a conditional update on the
 * database clock's view of `next_run_at`, so exactly one of them wins each due slot.
 */
export class SyncScheduler {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  constructor(
    private readonly deps: SchedulerDeps,
    private readonly options: SchedulerOptions,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.options.tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  /** One round; a round still going is joined, not doubled. Errors are logged and the next round retries. */
  tick(): Promise<void> {
    this.ticking ??= this.round()
      .catch((error: unknown) => this.deps.logger.error({ error: describeSyncError(error) }, 'sync scheduler round failed'))
      .finally(() => {
        this.ticking = undefined;
      });
    return this.ticking;
  }

  private async round(): Promise<void> {
    const { database, clock } = this.deps;
    const now = clock();
    const due = await database.db
      .selectFrom('sync_schedules as s')
      .innerJoin('connections as c', 'c.id', 's.connection_id')
      .select(['s.connection_id', 's.tier', 's.interval_seconds', 's.next_run_at'])
      .where('s.next_run_at', '<=', now.toISOString())
      .where('c.state', 'in', [...SYNCING_STATES])
      .where('c.deleted_at', 'is', null)
      // The full tier first: when several are due, the one that covers the others gets the slot.
      .orderBy('s.next_run_at')
      .limit(200)
      .execute();
    due.sort((a, b) => tierRank(a.tier as ScheduleTier) - tierRank(b.tier as ScheduleTier));
    for (const slot of due) {
      const claimed = await database.db
        .updateTable('sync_schedules')
        .set({ next_run_at: new Date(now.getTime() + slot.interval_seconds * 1000).toISOString(), last_run_at: now.toISOString() })
        .where('connection_id', '=', slot.connection_id)
        .where('tier', '=', slot.tier)
        .where('next_run_at', '=', slot.next_run_at)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) continue;
      try {
        // A held run waits for an admin; another full run would only be held for the same removals.
        if (slot.tier === 'full' && (await this.heldRun(slot.connection_id))) continue;
        if (slot.tier === 'channels') await this.deps.jobs.send(JOBS.renewChannels, { connection_id: slot.connection_id });
        // A run already under way covers this slot; the next one comes at the next interval.
        else await this.deps.runner.request(slot.connection_id, slot.tier as 'full' | 'profile' | 'critical', 'schedule');
      } catch (error) {
        this.deps.logger.warn({ connection_id: slot.connection_id, tier: slot.tier, error: describeSyncError(error) }, 'could not start a scheduled sync');
      }
    }
    await this.deps.runner.recoverAbandoned(this.options.queuedGraceMs);
  }

  private async heldRun(connectionId: string): Promise<boolean> {
    const held = await this.deps.database.db.selectFrom('sync_runs').select('id').where('connection_id', '=', connectionId).where('status', '=', 'held').executeTakeFirst();
    return held !== undefined;
  }
}

function tierRank(tier: ScheduleTier): number {
  return ({ full: 0, profile: 1, critical: 2, delta: 2, channels: 3 } as const)[tier];
}
