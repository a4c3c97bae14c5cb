import { sql } from 'kysely';
import { pullConnectionType } from '../connectors/pull-connection-types.ts';
import { ACCEPTS_RECORDS } from '../core/connection-states.ts';
import { conflictError, notFound } from '../core/errors.ts';
import type { EventSource, JsonObject } from '../core/model.ts';
import { ACTIVE_RUN_STATUSES } from '../core/sync-run-states.ts';
import { appendEvents } from '../events/event-log.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import type { Reconciler } from '../reconcile/reconciler.ts';
import type { SnapshotService } from '../reconcile/snapshots.ts';
import { findRun, insertRun, syncRunView, type SyncRunRow, type SyncRunView } from '../reconcile/sync-runs.ts';
import type { Database, Tx } from '../store/database.ts';
import type { ConnectionRuntimes } from './connection-runtimes.ts';
import { LeaseLost, RunExecution } from './run-execution.ts';
import { describeSyncError } from './sync-errors.ts';

/**
 * What a pull run reads. Only `full` may remove what it did not see (DESIGN law 7); `delta` applies what a
 * delta source reports changed since its cursor, removals included, since the source states them.
 */
export const PULL_KINDS = ['full', 'profile', 'critical', 'delta'] as const;
export type PullKind = (typeof PULL_KINDS)[number];

export const SYNC_RUN_JOB = 'sync.run';

/** Connection states in which runs are queued and executed: those that accept records. */
export const SYNCING_STATES: readonly string[] = ACCEPTS_RECORDS;

export interface SyncRunnerOptions {
  /** How long a worker's claim on a run holds without a heartbeat; an expired one is taken over. */
  leaseMs: number;
  /** This process, as recorded on the runs it executes. */
  workerId: string;
  /**
   * Records gathered from pages before they are applied in one reconciliation with the run's checkpoint:
   * one reconciliation of 5,000 costs far less than ten of 500 (a Google page). A crash redoes at most this much.
   */
  applyBatch: number;
}

export interface SyncRunnerDeps {
  database: Database;
  reconciler: Reconciler;
  snapshots: SnapshotService;
  runtimes: ConnectionRuntimes;
  jobs: JobQueue;
  clock: () => Date;
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** A run ended: the connection's health follows (error after a failure, active after a success). */
  onRunEnded: (run: SyncRunView, outcome: { ok: boolean; error?: unknown }) => Promise<void>;
}

/**
 * Pull runs: requested (sync now, a due tier, an activation), executed by whichever worker claims them,
 * checkpointed with every batch of records, resumed from the checkpoint by another worker when the one
 * running them dies. A full run ends in the snapshot commit, which alone removes what the source lost,
 * within the deprovision guard.
 */
export class SyncRunner {
  constructor(
    private readonly deps: SyncRunnerDeps,
    private readonly options: SyncRunnerOptions,
  ) {}

  /**
   * Queues a run of the connection, or answers the one already queued or running (`created: false`):
   * a connection has at most one run under way, whichever process asks.
   */
  async request(connectionId: string, kind: PullKind, trigger: string): Promise<{ run: SyncRunView; created: boolean }> {
    const { db } = this.deps.database;
    const now = this.now();
    const created = await db
      .transaction()
      .execute(async (tx) => {
        const connection = await tx
          .selectFrom('connections')
          .select(['id', 'organization_id', 'state', 'type'])
          .where('id', '=', connectionId)
          .where('deleted_at', 'is', null)
          .executeTakeFirst();
        if (!connection) throw notFound('connection', connectionId);
        // A connection in error keeps syncing: the next success is what brings it back.
        if (!SYNCING_STATES.includes(connection.state)) {
          throw conflictError('connection_not_active', `Connection '${connectionId}' is ${connection.state}; it syncs only while active (or in error).`, { state: connection.state });
        }
        // A source with a delta protocol answers "what changed" cheaper than any listing: its critical tier is a delta round.
        const runKind = kind === 'critical' && pullConnectionType(connection.type)?.supportsDelta ? 'delta' : kind;
        const active = await activeRun(tx, connectionId);
        if (active) {
          // A push names a change the running run may already be past: one more run follows it.
          if (trigger === 'push' && active.status === 'running') await tx.updateTable('sync_runs').set({ follow_up: runKind }).where('id', '=', active.id).execute();
          return undefined;
        }
        return insertRun(tx, { organization_id: connection.organization_id, connection_id: connectionId, kind: runKind, now, status: 'queued', trigger });
      })
      .catch(async (error: unknown) => {
        // Two requests raced past the check: the unique index let one in; the other answers that one.
        if (await activeRun(db, connectionId)) return undefined;
        throw error;
      });
    if (!created) return { run: syncRunView((await activeRun(db, connectionId))!), created: false };
    await this.deps.jobs.send(SYNC_RUN_JOB, { run_id: created.id });
    return { run: syncRunView(created), created: true };
  }

  /** The job handler: claims the run (queued, or running under an expired lease) and executes it. */
  async execute(runId: string): Promise<void> {
    const claimed = await this.claim(runId);
    if (!claimed) return;
    const { run, resumed } = claimed;
    const abort = new AbortController();
    const heartbeat = setInterval(() => void this.renewLease(run.id).then((held) => held || abort.abort(new LeaseLost(run.id)), () => undefined), this.options.leaseMs / 3);
    heartbeat.unref();
    try {
      if (resumed) this.deps.logger.info({ run_id: run.id, checkpoint: run.checkpoint }, 'resuming a sync run from its checkpoint');
      const runtime = await this.deps.runtimes.get(run.connection_id);
      await new RunExecution(this.deps, this.options, run, { connector: runtime.connector, criticalGroups: runtime.config.critical_groups }, abort.signal).execute();
      const finished = syncRunView(await findRun(this.deps.database.db, run.id));
      await this.deps.onRunEnded(finished, { ok: true });
    } catch (error) {
      if (error instanceof LeaseLost || abort.signal.reason instanceof LeaseLost) {
        this.deps.logger.warn({ run_id: run.id }, 'another worker took over this sync run; stopping here');
        return;
      }
      const failed = await this.fail(run.id, error);
      if (failed) await this.deps.onRunEnded(failed, { ok: false, error });
    } finally {
      clearInterval(heartbeat);
    }
    await this.followUp(run.id);
  }

  /** Queues the run a push asked for while this one ran, now that it has ended. */
  private async followUp(runId: string): Promise<void> {
    const ended = await findRun(this.deps.database.db, runId);
    if (ended.follow_up === null || ended.status === 'running') return;
    await this.request(ended.connection_id, ended.follow_up as PullKind, 'push').catch((error: unknown) =>
      this.deps.logger.warn({ run_id: runId, error: describeSyncError(error) }, 'could not queue the run a push asked for'),
    );
  }

  /** Runs left behind: running under an expired lease (a dead worker), or queued with no job working on them. */
  async recoverAbandoned(queuedGraceMs: number): Promise<number> {
    const now = this.now();
    const stale = await this.deps.database.db
      .selectFrom('sync_runs')
      .select('id')
      .where((eb) =>
        eb.or([
          eb.and([eb('status', '=', 'running'), eb('lease_until', '<', now)]),
          eb.and([eb('status', '=', 'queued'), eb('updated_at', '<', new Date(Date.parse(now) - queuedGraceMs).toISOString())]),
        ]),
      )
      .limit(100)
      .execute();
    for (const { id } of stale) await this.deps.jobs.send(SYNC_RUN_JOB, { run_id: id });
    return stale.length;
  }

  private async claim(runId: string): Promise<{ run: SyncRunRow; resumed: boolean } | undefined> {
    const database = this.deps.database;
    return database.db.transaction().execute(async (tx) => {
      const now = this.now();
      const before = await tx.selectFrom('sync_runs').select(['status']).where('id', '=', runId).executeTakeFirst();
      // Whoever's update matches wins; a live lease or a finished run matches nothing.
      const run = await tx
        .updateTable('sync_runs')
        .set({
          status: 'running',
          lease_owner: this.options.workerId,
          lease_until: this.leaseUntil(),
          attempts: sql<number>`attempts + 1`,
          // A queued run starts now; a taken-over one keeps the time it first started.
          started_at: sql<string>`case when status = 'queued' then ${now} else started_at end`,
          updated_at: now,
        })
        .where('id', '=', runId)
        .where((eb) => eb.or([eb('status', '=', 'queued'), eb.and([eb('status', '=', 'running'), eb('lease_until', '<', now)])]))
        .returningAll()
        .executeTakeFirst();
      if (!run) return undefined;
      const resumed = before?.status === 'running';
      if (!resumed) {
        const connection = await tx.selectFrom('connections').select(['id', 'type']).where('id', '=', run.connection_id).executeTakeFirstOrThrow();
        await appendEvents(tx, run.organization_id, [{ type: 'sync.started', data: syncRunView(run) as unknown as JsonObject, changes: null }], sourceOf(connection, run.id), now, database.capabilities);
      }
      return { run, resumed };
    });
  }

  private async renewLease(runId: string): Promise<boolean> {
    const result = await this.deps.database.db
      .updateTable('sync_runs')
      .set({ lease_until: this.leaseUntil() })
      .where('id', '=', runId)
      .where('status', '=', 'running')
      .where('lease_owner', '=', this.options.workerId)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Marks the run failed with a message that names the cause and carries no secret; undefined if it already ended. */
  private async fail(runId: string, error: unknown): Promise<SyncRunView | undefined> {
    const run = await findRun(this.deps.database.db, runId);
    if (run.status !== 'running' || run.lease_owner !== this.options.workerId) return undefined;
    this.deps.logger.warn({ run_id: runId, error: describeSyncError(error) }, 'sync run failed');
    return this.deps.snapshots.settle(run, 'failed', { error: describeSyncError(error) }, null);
  }

  private now(): string {
    return this.deps.clock().toISOString();
  }

  private leaseUntil(): string {
    return new Date(this.deps.clock().getTime() + this.options.leaseMs).toISOString();
  }
}

async function activeRun(db: Database['db'] | Tx, connectionId: string): Promise<SyncRunRow | undefined> {
  return db.selectFrom('sync_runs').selectAll().where('connection_id', '=', connectionId).where('status', 'in', [...ACTIVE_RUN_STATUSES]).executeTakeFirst();
}

function sourceOf(connection: { id: string; type: string }, runId: string): EventSource {
  return { connection_id: connection.id, connection_type: connection.type, sync_run_id: runId };
}
