import { sql } from 'kysely';
import type { PageCheckpoint } from '../connectors/definition/pager.ts';
import type { Connector, RecordPage } from '../connectors/connector.ts';
import { readInTurn } from '../connectors/read-ahead.ts';
import { ACCEPTS_RECORDS } from '../core/connection-states.ts';
import { conflictError } from '../core/errors.ts';
import type { EventSource, JsonObject } from '../core/model.ts';
import { ACTIVE_RUN_STATUSES } from '../core/sync-run-states.ts';
import { appendEvents } from '../events/event-log.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import { addCounters, type Counters } from '../reconcile/context.ts';
import type { IncomingRecord } from '../reconcile/incoming.ts';
import type { Reconciler } from '../reconcile/reconciler.ts';
import type { SnapshotService } from '../reconcile/snapshots.ts';
import { findRun, insertRun, newRunCounters, syncRunView, type RunProgress, type SyncRunRow, type SyncRunView } from '../reconcile/sync-runs.ts';
import type { Database, Tx } from '../store/database.ts';
import type { ConnectionRuntimes } from './connection-runtimes.ts';
import { describeSyncError, isNotFound } from './sync-errors.ts';

/** What a pull run reads. Only `full` may remove what it did not see (DESIGN law 7). */
export const PULL_KINDS = ['full', 'profile', 'critical'] as const;
export type PullKind = (typeof PULL_KINDS)[number];

const PHASES: Record<PullKind, readonly Phase[]> = {
  critical: ['users'],
  profile: ['users', 'groups', 'members'],
  full: ['users', 'groups', 'members'],
};
type Phase = 'users' | 'groups' | 'members';

/** Groups whose members are read at once (a connection's provider client caps its requests in flight anyway). */
const GROUPS_READ_AT_ONCE = 4;

/**
 * The next thing a run does, stored with the records of the last page it applied: a resumed run starts
 * here. Members are listed group by group in id order, so "after" a group names the rest.
 */
export type RunCheckpoint =
  | { phase: 'users' | 'groups'; page: PageCheckpoint | null }
  | { phase: 'members'; group: string; page: PageCheckpoint }
  | { phase: 'members'; after: string | null }
  | { phase: 'done' };

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

/** The run is not this worker's any more (its lease expired and another took it over). */
class LeaseLost extends Error {
  constructor(runId: string) {
    super(`lost the lease on ${runId}`);
  }
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
          .select(['id', 'organization_id', 'state'])
          .where('id', '=', connectionId)
          .where('deleted_at', 'is', null)
          .executeTakeFirstOrThrow();
        // A connection in error keeps syncing: the next success is what brings it back.
        if (!SYNCING_STATES.includes(connection.state)) {
          throw conflictError('connection_not_active', `Connection '${connectionId}' is ${connection.state}; it syncs only while active (or in error).`, { state: connection.state });
        }
        if (await activeRun(tx, connectionId)) return undefined;
        return insertRun(tx, { organization_id: connection.organization_id, connection_id: connectionId, kind, now, status: 'queued', trigger });
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
      await new RunExecution(this.deps, this.options, run, runtime.connector, abort.signal).execute();
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

/**
 * One execution of a claimed run, from its checkpoint to its end. Connectors read ahead of what is taken
 * (the next page, the next groups' members); the checkpoint only ever names pages that were taken.
 */
class RunExecution {
  private pending: IncomingRecord[] = [];
  private pendingPages = 0;
  private position: RunCheckpoint;
  private readonly progress: RunProgress;
  private readonly startedAt: number;
  /** Ends the connector's reading when the execution ends, whether by the run's signal or an error of its own. */
  private readonly reading = new AbortController();
  private readonly readSignal: AbortSignal;

  constructor(
    private readonly deps: SyncRunnerDeps,
    private readonly options: SyncRunnerOptions,
    private readonly run: SyncRunRow,
    private readonly connector: Connector,
    private readonly signal: AbortSignal,
  ) {
    this.position = run.checkpoint ? (JSON.parse(run.checkpoint) as RunCheckpoint) : { phase: 'users', page: null };
    this.progress = run.progress ? (JSON.parse(run.progress) as RunProgress) : { phase: 'users', pages: 0, records: 0, rate: 0, expected_records: null, eta_seconds: null };
    this.startedAt = Date.parse(run.started_at);
    this.readSignal = AbortSignal.any([signal, this.reading.signal]);
  }

  async execute(): Promise<void> {
    try {
      await this.read();
    } finally {
      // A page still being read ahead (a failed apply, a lost lease) is cancelled, not left running.
      this.reading.abort();
    }
  }

  private async read(): Promise<void> {
    const kind = this.run.kind as PullKind;
    if (this.progress.pages === 0) this.progress.expected_records = await this.previousRecords();
    const phases = PHASES[kind];
    for (const phase of phases) {
      if (this.position.phase === 'done') break;
      if (phases.indexOf(phase) < phases.indexOf(this.position.phase as Phase)) continue;
      if (phase === 'members') await this.members(phases);
      else await this.listing(phase, phases);
    }
    this.position = { phase: 'done' };
    await this.flush();
    this.signal.throwIfAborted();
    const { snapshots, database } = this.deps;
    if (kind === 'full') {
      await snapshots.commit(this.run.connection_id, this.run.id);
    } else {
      await snapshots.settle(await findRun(database.db, this.run.id), 'completed', {}, null);
    }
  }

  private async listing(phase: 'users' | 'groups', phases: readonly Phase[]): Promise<void> {
    const start = this.position.phase === phase && 'page' in this.position ? this.position.page : null;
    for await (const page of this.connector.pages(phase, { checkpoint: start, signal: this.readSignal })) {
      const next: RunCheckpoint = page.checkpoint ? { phase, page: page.checkpoint } : nextPhase(phases, phase);
      await this.take(phase, page, next);
    }
  }

  private async members(phases: readonly Phase[]): Promise<void> {
    // The groups to list are the ones this run has applied: what is still gathered must be applied first.
    await this.flush();
    const position = this.position.phase === 'members' ? this.position : { phase: 'members' as const, after: null };
    const resumeAt: { group: string; page: PageCheckpoint } | undefined = 'group' in position ? position : undefined;
    const after = 'after' in position ? position.after : undefined;
    const groups = await this.groupsToList(resumeAt?.group ?? after ?? null, resumeAt !== undefined);
    for await (const listed of this.memberPagesOf(groups, resumeAt)) {
      const { group } = listed;
      if (listed.page === null) {
        this.position = { phase: 'members', after: group };
        continue;
      }
      const next: RunCheckpoint = listed.page.checkpoint ? { phase: 'members', group, page: listed.page.checkpoint } : { phase: 'members', after: group };
      await this.take('members', listed.page, next);
    }
    this.position = nextPhase(phases, 'members');
  }

  /**
   * The member pages of the groups, group after group in id order, `page: null` for a group that is gone.
   * Groups page independently, so the next few are read while this one is taken: most groups are one page,
   * and one round trip at a time would leave both ends idle.
   */
  private memberPagesOf(groups: readonly string[], resumeAt: { group: string; page: PageCheckpoint } | undefined) {
    const connector = this.connector;
    const signal = this.readSignal;
    return readInTurn(
      groups.map((group) => async function* () {
        const checkpoint = resumeAt?.group === group ? resumeAt.page : null;
        try {
          for await (const page of connector.memberPages(group, { checkpoint, signal })) yield { group, page };
        } catch (error) {
          // A group deleted since it was listed has no members to list; its memberships go with the commit.
          if (!isNotFound(error)) throw error;
          yield { group, page: null };
        }
      }),
      GROUPS_READ_AT_ONCE,
    );
  }

  /** The groups this run listed, in id order, from `from` (inclusive when resuming inside it). */
  private async groupsToList(from: string | null, inclusive: boolean): Promise<string[]> {
    let query = this.deps.database.db
      .selectFrom('snapshot_records')
      .select('external_id')
      .where('run_id', '=', this.run.id)
      .where('kind', '=', 'group')
      .orderBy('external_id');
    if (from !== null) query = query.where('external_id', inclusive ? '>=' : '>', from);
    return (await query.execute()).map((row) => row.external_id);
  }

  private async take(phase: Phase, page: RecordPage, next: RunCheckpoint): Promise<void> {
    this.signal.throwIfAborted();
    this.pending.push(...page.records);
    this.pendingPages += 1;
    this.position = next;
    this.progress.phase = phase;
    if (this.pending.length >= this.options.applyBatch) await this.flush();
  }

  /** Applies what was gathered, with the run's counters, checkpoint and progress, in one transaction. */
  private async flush(): Promise<void> {
    const records = this.pending;
    const pages = this.pendingPages;
    this.pending = [];
    this.pendingPages = 0;
    this.progress.pages += pages;
    this.progress.records += records.length;
    this.updateRate();
    const finalize = async (tx: Tx, totals: Counters) => {
      const current = await findRun(tx, this.run.id);
      if (current.status !== 'running' || current.lease_owner !== this.options.workerId) throw new LeaseLost(this.run.id);
      const counters = addCounters({ ...newRunCounters(), ...JSON.parse(current.counters) }, totals) as ReturnType<typeof newRunCounters>;
      counters.pages += pages;
      await tx
        .updateTable('sync_runs')
        .set({ counters: JSON.stringify(counters), checkpoint: JSON.stringify(this.position), progress: JSON.stringify(this.progress), updated_at: this.deps.clock().toISOString() })
        .where('id', '=', this.run.id)
        .execute();
    };
    if (records.length === 0) {
      await this.deps.database.db.transaction().execute((tx) => finalize(tx, emptyCounters()));
      return;
    }
    // Every pull run marks what it saw, so its members phase knows the groups it listed; only a full run commits.
    await this.deps.reconciler.apply(this.run.connection_id, records, { sync_run_id: this.run.id, snapshot_id: this.run.id, finalize });
  }

  private updateRate(): void {
    const seconds = Math.max(0.001, (this.deps.clock().getTime() - this.startedAt) / 1000);
    const { records, expected_records: expected } = this.progress;
    this.progress.rate = Math.round((records / seconds) * 10) / 10;
    this.progress.eta_seconds = expected !== null && this.progress.rate > 0 ? Math.max(0, Math.round((expected - records) / this.progress.rate)) : null;
  }

  /** Records of the connection's last completed run of this kind: what the ETA is measured against. */
  private async previousRecords(): Promise<number | null> {
    const previous = await this.deps.database.db
      .selectFrom('sync_runs')
      .select('progress')
      .where('connection_id', '=', this.run.connection_id)
      .where('kind', '=', this.run.kind)
      .where('status', '=', 'completed')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return previous?.progress ? (JSON.parse(previous.progress) as RunProgress).records : null;
  }
}

function nextPhase(phases: readonly Phase[], phase: Phase): RunCheckpoint {
  const next = phases[phases.indexOf(phase) + 1];
  if (next === undefined) return { phase: 'done' };
  return next === 'members' ? { phase: 'members', after: null } : { phase: next, page: null };
}

function emptyCounters(): Counters {
  const { pages: _pages, ...counters } = newRunCounters();
  return counters;
}

async function activeRun(db: Database['db'] | Tx, connectionId: string): Promise<SyncRunRow | undefined> {
  return db.selectFrom('sync_runs').selectAll().where('connection_id', '=', connectionId).where('status', 'in', [...ACTIVE_RUN_STATUSES]).executeTakeFirst();
}

function sourceOf(connection: { id: string; type: string }, runId: string): EventSource {
  return { connection_id: connection.id, connection_type: connection.type, sync_run_id: runId };
}
