import { setMaxListeners } from 'node:events';
import type { Connector, DeltaSource, RecordPage, RestatedLookup } from '../connectors/connector.ts';
import { CursorExpiredError } from '../connectors/connector.ts';
import type { PageCheckpoint } from '../connectors/definition/pager.ts';
import { readInTurn } from '../connectors/read-ahead.ts';
import { addCounters, type Counters } from '../reconcile/context.ts';
import type { IncomingRecord } from '../reconcile/incoming.ts';
import { findRun, newRunCounters, type RunProgress, type SyncRunRow } from '../reconcile/sync-runs.ts';
import { DeprovisionHold, tombstoneOf } from '../reconcile/snapshots.ts';
import { tripsDeprovisionGuard } from '../core/policy.ts';
import type { JsonObject } from '../core/model.ts';
import { inSlices } from '../store/batching.ts';
import type { Tx } from '../store/database.ts';
import { isNotFound } from './sync-errors.ts';
import type { PullKind, SyncRunnerDeps, SyncRunnerOptions } from './sync-runner.ts';

/** What one execution of a run needs of the runner's surroundings. */
export type RunExecutionDeps = Pick<SyncRunnerDeps, 'database' | 'reconciler' | 'snapshots' | 'clock' | 'logger'>;
export type RunExecutionOptions = Pick<SyncRunnerOptions, 'workerId' | 'applyBatch'>;

const PHASES: Record<PullKind, readonly Phase[]> = {
  critical: ['users'],
  profile: ['users', 'groups', 'members'],
  full: ['users', 'groups', 'members'],
  delta: ['changes'],
};
type Phase = 'users' | 'groups' | 'members' | 'changes';

/** What a run reads from: the connection's connector, and the groups whose memberships are critical. */
export interface RunSource {
  connector: Connector;
  /** Read again by critical runs (the provider's ids); their members not stated are removed. */
  criticalGroups: readonly string[];
}

/**
 * Groups whose members are read ahead of the one being taken. Most groups are one page, so this is how
 * many requests wait their turn while a batch is applied: enough to keep the provider answering through
 * it. The connection's provider client still caps the requests in flight.
 */
export const GROUPS_READ_AT_ONCE = 32;

/**
 * The next thing a run does, stored with the records of the last page it applied: a resumed run starts
 * here. Members are listed group by group in id order, so "after" a group names the rest.
 */
export type RunPosition =
  | { phase: 'users' | 'groups'; page: PageCheckpoint | null }
  | { phase: 'members'; group: string; page: PageCheckpoint }
  | { phase: 'members'; after: string | null }
  | { phase: 'changes'; cursor: string; complete_groups: string[]; removals: string[] }
  | { phase: 'done' };

/**
 * A run's checkpoint: its position, and for a source with a delta protocol the cursor the run will leave
 * behind (a full run's "latest" taken before it listed; a delta round's last page's).
 */
export type RunCheckpoint = RunPosition & { next_cursor?: string };

/** The run is not this worker's any more (its lease expired and another took it over). */
export class LeaseLost extends Error {
  constructor(runId: string) {
    super(`lost the lease on ${runId}`);
  }
}


/**
 * One execution of a claimed run, from its checkpoint to its end. Connectors read ahead of what is taken
 * (the next page, the next groups' members); the checkpoint only ever names pages that were taken.
 */
export class RunExecution {
  private pending: IncomingRecord[] = [];
  private pendingPages = 0;
  private position: RunPosition;
  /** The delta cursor this run leaves behind once it ends; stored with its last batch. */
  private nextCursor: string | undefined;
  private readonly progress: RunProgress;
  private readonly startedAt: number;
  /** Ends the connector's reading when the execution ends, whether by the run's signal or an error of its own. */
  private readonly reading = new AbortController();
  private readonly readSignal: AbortSignal;
  private readonly connector: Connector;

  constructor(
    private readonly deps: RunExecutionDeps,
    private readonly options: RunExecutionOptions,
    private readonly run: SyncRunRow,
    private readonly source: RunSource,
    private readonly signal: AbortSignal,
  ) {
    this.connector = source.connector;
    const checkpoint = run.checkpoint ? (JSON.parse(run.checkpoint) as RunCheckpoint) : undefined;
    this.position = checkpoint ?? { phase: 'users', page: null };
    this.nextCursor = checkpoint?.next_cursor;
    this.progress = run.progress ? (JSON.parse(run.progress) as RunProgress) : { phase: 'users', pages: 0, records: 0, rate: 0, expected_records: null, eta_seconds: null };
    this.startedAt = Date.parse(run.started_at);
    this.readSignal = AbortSignal.any([signal, this.reading.signal]);
    // Every read under way listens to it twice (waiting for a request slot, then its request): up to
    // one read per group read ahead, plus the listing's own, which is more than the default ten.
    setMaxListeners(2 * (GROUPS_READ_AT_ONCE + 2), this.readSignal);
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
    const delta = this.connector.delta;
    if (kind === 'delta') {
      const outcome = await this.deltaRound(delta);
      if (outcome === 'held') return;
      if (outcome !== 'done') return this.fallBackToFull(outcome);
    } else {
      // What changes while a full run lists comes again in the next delta round, from the cursor taken now.
      if (kind === 'full' && delta && this.nextCursor === undefined) this.nextCursor = await delta.latest(this.readSignal);
      // A critical run also reads the members of the connection's critical groups.
      const phases: readonly Phase[] = kind === 'critical' && this.source.criticalGroups.length > 0 ? [...PHASES.critical, 'members'] : PHASES[kind];
      for (const phase of phases) {
        if (this.position.phase === 'done') break;
        if (phases.indexOf(phase) < phases.indexOf(this.position.phase as Phase)) continue;
        if (phase === 'members') await this.members(phases);
        else await this.listing(phase as 'users' | 'groups', phases);
      }
      // A full run removes what it did not see; the others act on what the source says it deleted.
      if (kind !== 'full') await this.removeListedDeletions();
    }
    this.position = { phase: 'done' };
    await this.flush();
    // Users a stopped run deferred, if this run's listing did not create them.
    await this.createDeferredUsers();
    this.signal.throwIfAborted();
    // Each critical group was listed whole (or is gone): whom it no longer lists is no longer a member.
    if (kind === 'critical' && this.source.criticalGroups.length > 0) await this.removeUnstatedMemberships([...this.source.criticalGroups]);
    const { snapshots, database } = this.deps;
    if (kind === 'full') {
      await snapshots.commit(this.run.connection_id, this.run.id);
    } else {
      await snapshots.settle(await findRun(database.db, this.run.id), 'completed', {}, null);
    }
  }

  /**
   * Applies what the source reports changed since the stored cursor, page by page, the cursor checkpointed
   * with each batch and stored for the next round with the last. Groups the round stated in full lose the
   * memberships it did not state. Answers why a full run must take over instead, if it must.
   */
  private async deltaRound(delta: DeltaSource | undefined): Promise<'done' | 'held' | 'no_cursor' | 'no_delta_protocol' | `cursor_expired: ${string}`> {
    if (!delta) return 'no_delta_protocol';
    const position = this.position.phase === 'changes' ? this.position : undefined;
    const cursor = position?.cursor ?? (await this.storedCursor());
    if (cursor === undefined) return 'no_cursor';
    const complete = new Set(position?.complete_groups ?? []);
    // People the source reports gone wait for the end of the round, where the deprovision guard weighs them all.
    const removals = new Set(position?.removals ?? []);
    this.progress.phase = 'changes';
    try {
      for await (const page of delta.changes(cursor, { signal: this.readSignal })) {
        for (const group of page.completeGroups ?? []) complete.add(group);
        const records = page.records.filter((record) => {
          if (record.kind !== 'user') return true;
          if (record.deleted) removals.add(record.external_id);
          else removals.delete(record.external_id);
          return !record.deleted;
        });
        this.nextCursor = page.cursor;
        await this.take('changes', { records, checkpoint: null }, { phase: 'changes', cursor: page.cursor, complete_groups: [...complete], removals: [...removals] });
      }
    } catch (error) {
      if (error instanceof CursorExpiredError) return `cursor_expired: ${error.providerReason}`;
      throw error;
    }
    await this.flush();
    if (complete.size > 0) await this.removeUnstatedMemberships([...complete]);
    if (removals.size > 0) {
      const held = await this.applyRemovals([...removals]);
      if (held) return this.hold(held);
    }
    return 'done';
  }

  /**
   * Removes the users the source lists as deleted (see `Connector.deletedUsers`), within the deprovision
   * guard. Past it, nobody is removed here: the next full run sees them missing too, and holds them for an
   * admin. Users already removed are skipped by the reconciler, so a deletion listed for days costs nothing.
   */
  private async removeListedDeletions(): Promise<void> {
    if (!this.connector.deletedUsers) return;
    const ids: string[] = [];
    for await (const page of this.connector.deletedUsers({ signal: this.readSignal })) {
      for (const record of page.records) if (record.kind === 'user' && record.deleted) ids.push(record.external_id);
    }
    if (ids.length === 0) return;
    const held = await this.applyRemovals(ids);
    if (held) this.deps.logger.warn({ run_id: this.run.id, would_deactivate: held.would_deactivate }, 'users the source lists as deleted would trip the deprovision guard: left for the next full run to hold');
  }

  /** Deactivates the people the round reported gone, unless that trips the deprovision guard: then nobody, and the summary. */
  private async applyRemovals(ids: string[]): Promise<JsonObject | undefined> {
    const tombstones = ids.map((id): IncomingRecord => ({ kind: 'user', external_id: id, deleted: true }));
    try {
      await this.deps.reconciler.apply(this.run.connection_id, tombstones, {
        sync_run_id: this.run.id,
        tombstone_reason: 'removed_from_source',
        countActiveUsers: true,
        finalize: async (_tx, totals, scope) => {
          if (tripsDeprovisionGuard(scope.policy, totals.users_deactivated, scope.active_users_before!)) {
            throw new DeprovisionHold({
              would_deactivate: totals.users_deactivated,
              active_users: scope.active_users_before,
              threshold: scope.policy.deprovision_guard as unknown as JsonObject,
              removals: ids,
            });
          }
        },
      });
      return undefined;
    } catch (error) {
      if (error instanceof DeprovisionHold) return error.summary;
      throw error;
    }
  }

  /**
   * Holds the round for an admin with what it would have removed; everything else it read stays applied, and
   * its cursor is kept, so the next round does not report the same removals into a second held run.
   */
  private async hold(summary: JsonObject): Promise<'held'> {
    const { database, snapshots, clock } = this.deps;
    if (this.nextCursor !== undefined) {
      const cursor = this.nextCursor;
      await database.db.transaction().execute((tx) => storeCursor(tx, this.run, cursor, clock().toISOString()));
    }
    await snapshots.settle(await findRun(database.db, this.run.id), 'held', { held: summary }, null);
    return 'held';
  }

  /** Members (users and nested groups) of groups this run listed in full (a delta round's complete groups, a critical run's critical ones) that it did not state are gone. */
  private async removeUnstatedMemberships(groups: string[]): Promise<void> {
    await this.deps.reconciler.apply(
      this.run.connection_id,
      async (tx) => {
        const rows = await tx
          .selectFrom('source_records')
          .select(['kind', 'external_id', 'group_external_id', 'user_external_id', 'child_group_external_id'])
          .where('connection_id', '=', this.run.connection_id)
          .where('kind', 'in', ['membership', 'group_nesting'])
          .where('tombstoned_at', 'is', null)
          .where('group_external_id', 'in', groups)
          .where(({ not, exists, selectFrom }) =>
            not(exists(selectFrom('snapshot_records as s').select('s.run_id').where('s.run_id', '=', this.run.id).whereRef('s.kind', '=', 'source_records.kind').whereRef('s.external_id', '=', 'source_records.external_id'))),
          )
          .execute();
        return rows.map((row) => tombstoneOf(row));
      },
      { sync_run_id: this.run.id, tombstone_reason: 'removed_from_source' },
    );
  }

  /** The delta round cannot be had: the run becomes a full run, says why, and starts listing. */
  private async fallBackToFull(reason: string): Promise<void> {
    this.deps.logger.info({ run_id: this.run.id, reason }, 'delta round not possible: falling back to a full sync');
    const progress: RunProgress = { ...this.progress, phase: 'users', fallback: reason };
    await this.deps.database.db.transaction().execute(async (tx) => {
      // What the delta round applied was marked seen by this run; the full listing must see it again, or
      // an object the round brought but the listing no longer holds would escape the snapshot's removals.
      await tx.deleteFrom('snapshot_records').where('run_id', '=', this.run.id).execute();
      await tx
        .updateTable('sync_runs')
        .set({ kind: 'full', checkpoint: null, progress: JSON.stringify(progress), updated_at: this.deps.clock().toISOString() })
        .where('id', '=', this.run.id)
        .where('lease_owner', '=', this.options.workerId)
        .execute();
    });
    const run = await findRun(this.deps.database.db, this.run.id);
    await new RunExecution(this.deps, this.options, run, this.source, this.signal).execute();
  }

  private async storedCursor(): Promise<string | undefined> {
    const row = await this.deps.database.db.selectFrom('sync_cursors').select('cursor').where('connection_id', '=', this.run.connection_id).executeTakeFirst();
    return row?.cursor;
  }

  private async listing(phase: 'users' | 'groups', phases: readonly Phase[]): Promise<void> {
    const start = this.position.phase === phase && 'page' in this.position ? this.position.page : null;
    for await (const page of this.connector.pages(phase, { checkpoint: start, signal: this.readSignal, restated: this.restated() })) {
      const next: RunPosition = page.checkpoint ? { phase, page: page.checkpoint } : nextPhase(phases, phase);
      await this.take(phase, page, next);
    }
    if (phase === 'users') {
      // Every user is listed now: whoever still awaits a manager will not see them in this listing.
      await this.flush();
      await this.createDeferredUsers();
    }
  }

  /**
   * What the run's listings ask about unchanged items. A full run maps every item: it is the daily check that
   * the stored records are what today's mapping makes of today's items. The frequent tiers restate what is
   * unchanged since it was stored.
   */
  private restated(): RestatedLookup | undefined {
    return this.run.kind === 'full' ? undefined : this.restatedLookup;
  }

  /** Of a listed page's items, those whose live record of this connection holds their source hash. */
  private readonly restatedLookup: RestatedLookup = async (kind, items) => {
    const hashes = new Map(items.map((item) => [item.external_id, item.source_hash]));
    const rows = await inSlices([...hashes.keys()], (slice) =>
      this.deps.database.db
        .selectFrom('source_records')
        .select(['external_id', 'source_hash'])
        .where('connection_id', '=', this.run.connection_id)
        .where('kind', '=', kind)
        .where('external_id', 'in', slice)
        .where('tombstoned_at', 'is', null)
        .execute(),
    );
    return new Set(rows.filter((row) => row.source_hash !== null && row.source_hash === hashes.get(row.external_id)).map((row) => row.external_id));
  };

  private async createDeferredUsers(): Promise<void> {
    await this.deps.reconciler.createDeferredUsers(this.run.connection_id, { sync_run_id: this.run.id, finalize: this.recordInRun(0) });
  }

  private async members(phases: readonly Phase[]): Promise<void> {
    // The groups to list are the ones this run has applied: what is still gathered must be applied first.
    await this.flush();
    const position = this.position.phase === 'members' ? this.position : { phase: 'members' as const, after: null };
    const resumeAt: { group: string; page: PageCheckpoint } | undefined = 'group' in position ? position : undefined;
    const after = 'after' in position ? position.after : undefined;
    const from = resumeAt?.group ?? after ?? null;
    const groups = this.run.kind === 'critical' ? criticalGroupsFrom(this.source.criticalGroups, from, resumeAt !== undefined) : await this.groupsToList(from, resumeAt !== undefined);
    for await (const listed of this.memberPagesOf(groups, resumeAt)) {
      const { group } = listed;
      if (listed.page === null) {
        this.position = { phase: 'members', after: group };
        continue;
      }
      const next: RunPosition = listed.page.checkpoint ? { phase: 'members', group, page: listed.page.checkpoint } : { phase: 'members', after: group };
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
    const restated = this.restated();
    return readInTurn(
      groups.map((group) => async function* () {
        const checkpoint = resumeAt?.group === group ? resumeAt.page : null;
        try {
          for await (const page of connector.memberPages(group, { checkpoint, signal, restated })) yield { group, page };
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

  private checkpoint(): RunCheckpoint {
    return this.nextCursor === undefined ? this.position : { ...this.position, next_cursor: this.nextCursor };
  }

  private async take(phase: Phase, page: RecordPage, next: RunPosition): Promise<void> {
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
    // A listing of every user: a new user's manager is probably on a later page, so the user waits for it.
    // (What is pending is of the phase last taken: the users phase ends with a flush of its own.)
    const deferNewUsersAwaitingManager = this.progress.phase === 'users';
    this.pending = [];
    this.pendingPages = 0;
    this.progress.pages += pages;
    this.progress.records += records.length;
    this.updateRate();
    const finalize = this.recordInRun(pages);
    if (records.length === 0) {
      await this.deps.database.db.transaction().execute((tx) => finalize(tx, emptyCounters()));
      return;
    }
    // Every pull run marks what it saw, so its members phase knows the groups it listed; only a full run commits.
    await this.deps.reconciler.apply(this.run.connection_id, records, { sync_run_id: this.run.id, snapshot_id: this.run.id, finalize, deferNewUsersAwaitingManager });
  }

  /**
   * What a transaction of this run does last: check the lease, add its counters (and pages) to the run's,
   * store the checkpoint and progress, and with the last batch the cursor for the next delta round.
   */
  private recordInRun(pages: number) {
    return async (tx: Tx, totals: Counters) => {
      const current = await findRun(tx, this.run.id);
      if (current.status !== 'running' || current.lease_owner !== this.options.workerId) throw new LeaseLost(this.run.id);
      const counters = addCounters({ ...newRunCounters(), ...JSON.parse(current.counters) }, totals) as ReturnType<typeof newRunCounters>;
      counters.pages += pages;
      await tx
        .updateTable('sync_runs')
        .set({ counters: JSON.stringify(counters), checkpoint: JSON.stringify(this.checkpoint()), progress: JSON.stringify(this.progress), updated_at: this.deps.clock().toISOString() })
        .where('id', '=', this.run.id)
        .execute();
      // The last batch: the cursor the next delta round starts from goes in with it.
      if (this.position.phase === 'done' && this.nextCursor !== undefined) await storeCursor(tx, current, this.nextCursor, this.deps.clock().toISOString());
    };
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

/** The critical groups in id order (the order a members phase keeps), from `from` (inclusive when resuming inside it). */
function criticalGroupsFrom(groups: readonly string[], from: string | null, inclusive: boolean): string[] {
  const sorted = [...new Set(groups)].sort();
  return from === null ? sorted : sorted.filter((group) => (inclusive ? group >= from : group > from));
}

function nextPhase(phases: readonly Phase[], phase: Phase): RunPosition {
  const next = phases[phases.indexOf(phase) + 1];
  if (next === undefined || next === 'changes') return { phase: 'done' };
  return next === 'members' ? { phase: 'members', after: null } : { phase: next, page: null };
}

async function storeCursor(tx: Tx, run: SyncRunRow, cursor: string, now: string): Promise<void> {
  await tx
    .insertInto('sync_cursors')
    .values({ connection_id: run.connection_id, organization_id: run.organization_id, cursor, updated_at: now })
    .onConflict((oc) => oc.column('connection_id').doUpdateSet({ cursor, updated_at: now }))
    .execute();
}

function emptyCounters(): Counters {
  const { pages: _pages, ...counters } = newRunCounters();
  return counters;
}

