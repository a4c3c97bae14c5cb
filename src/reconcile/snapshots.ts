import { assertAcceptsRecords } from '../core/connection-states.ts';
import { ACTIVE_RUN_STATUSES } from '../core/sync-run-states.ts';
import { DomainError, notFound } from '../core/errors.ts';
import type { EventSource, JsonObject } from '../core/model.ts';
import { tripsDeprovisionGuard } from '../core/policy.ts';
import { appendEvents } from '../events/event-log.ts';
import { appendAudit } from '../store/audit.repo.ts';
import type { Database, Tx } from '../store/database.ts';
import type { IncomingRecord } from './incoming.ts';
import type { Reconciler } from './reconciler.ts';
import { addPageCounters, findRun, insertRun, SNAPSHOT_KINDS, syncRunView, transitionRun, type SyncRunRow, type SyncRunView } from './sync-runs.ts';

/** Thrown inside a transaction that would deactivate too many people, to roll it back and hold the run. */
export class DeprovisionHold extends Error {
  constructor(readonly summary: JsonObject) {
    super('deprovision guard tripped');
  }
}

/**
 * Snapshot framing: a source begins a snapshot, sends every page of what it has, and commits. Pages are
 * applied as they arrive (upserts are facts); only the commit — proof that the enumeration was complete —
 * tombstones what the snapshot did not contain, and only within the organization's deprovision guard.
 * A commit that would deactivate too many people is held until an admin confirms or discards it.
 */
export class SnapshotService {
  constructor(
    private readonly database: Database,
    private readonly reconciler: Reconciler,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async begin(connectionId: string): Promise<SyncRunView> {
    return this.database.db.transaction().execute(async (tx) => {
      const connection = await activeConnection(tx, connectionId);
      // One run of a connection at a time, pushed or pulled; the unique index backs this check.
      const running = await tx
        .selectFrom('sync_runs')
        .select(['id', 'kind'])
        .where('connection_id', '=', connectionId)
        .where('status', 'in', [...ACTIVE_RUN_STATUSES])
        .executeTakeFirst();
      if (running) {
        throw new DomainError(
          'snapshot_in_progress',
          `Connection '${connectionId}' already has ${running.kind === 'snapshot' ? 'snapshot' : `a ${running.kind} sync run`} '${running.id}' under way; commit or abort it first.`,
          409,
          { snapshot_id: running.id },
        );
      }
      const now = this.now().toISOString();
      const run = await insertRun(tx, { organization_id: connection.organization_id, connection_id: connectionId, kind: 'snapshot', now });
      await appendEvents(
        tx,
        run.organization_id,
        [{ type: 'sync.started', data: syncRunView(run) as unknown as JsonObject, changes: null }],
        sourceOf(connection, run.id),
        now,
        this.database.capabilities,
      );
      return syncRunView(run);
    });
  }

  async addRecords(connectionId: string, snapshotId: string, records: readonly IncomingRecord[]) {
    await this.runningSnapshot(connectionId, snapshotId);
    const counters = await this.reconciler.apply(connectionId, records, {
      sync_run_id: snapshotId,
      snapshot_id: snapshotId,
      finalize: async (tx, totals) => {
        const run = await findRun(tx, snapshotId);
        if (run.status !== 'running') throw snapshotNotRunning(run);
        await addPageCounters(tx, snapshotId, totals, this.now().toISOString());
      },
    });
    return { counters, snapshot: syncRunView(await findRun(this.database.db, snapshotId)) };
  }

  async commit(connectionId: string, snapshotId: string): Promise<SyncRunView> {
    const run = await this.runningSnapshot(connectionId, snapshotId);
    let missing = 0;
    try {
      await this.reconciler.apply(connectionId, async (tx) => {
        const unseen = await unseenRecords(tx, run);
        missing = unseen.length;
        return unseen;
      }, {
        sync_run_id: run.id,
        tombstone_reason: 'removed_from_source',
        countActiveUsers: true,
        finalize: async (tx, totals, scope) => {
          const current = await findRun(tx, run.id);
          if (current.status !== 'running') throw snapshotNotRunning(current);
          if (tripsDeprovisionGuard(scope.policy, totals.users_deactivated, scope.active_users_before!)) {
            throw new DeprovisionHold({
              would_deactivate: totals.users_deactivated,
              active_users: scope.active_users_before,
              records_missing: missing,
              threshold: scope.policy.deprovision_guard as unknown as JsonObject,
            });
          }
          const { event } = await transitionRun(tx, current, 'completed', { now: this.now().toISOString(), counters: totals });
          return [event];
        },
      });
    } catch (error) {
      if (!(error instanceof DeprovisionHold)) throw error;
      return this.settle(run, 'held', { held: error.summary }, null);
    }
    return syncRunView(await findRun(this.database.db, run.id));
  }

  async abort(connectionId: string, snapshotId: string, actor: string): Promise<SyncRunView> {
    const run = await this.runningSnapshot(connectionId, snapshotId);
    return this.settle(run, 'aborted', { error: 'aborted_by_source' }, actor);
  }

  /** An admin confirms a held run: what it would have removed is removed now, recorded as confirmed. */
  async confirm(runId: string, actor: string): Promise<SyncRunView> {
    const run = await findRun(this.database.db, runId);
    if (run.status !== 'held') throw snapshotNotHeld(run);
    await this.reconciler.apply(run.connection_id, async (tx) => (run.kind === 'delta' ? heldRemovals(run) : unseenRecords(tx, run)), {
      sync_run_id: run.id,
      tombstone_reason: 'deprovision_confirmed',
      finalize: async (tx, totals) => {
        const current = await findRun(tx, run.id);
        if (current.status !== 'held') throw snapshotNotHeld(current);
        const now = this.now().toISOString();
        await appendAudit(tx, { organizationId: run.organization_id, actor, action: 'sync_run.confirmed', targetType: 'sync_run', targetId: run.id }, now);
        const { event } = await transitionRun(tx, current, 'completed', { now, counters: totals });
        return [event];
      },
    });
    return syncRunView(await findRun(this.database.db, run.id));
  }

  /** An admin discards a held run: nothing it would have removed is touched. */
  async discard(runId: string, actor: string): Promise<SyncRunView> {
    const run = await findRun(this.database.db, runId);
    if (run.status !== 'held') throw snapshotNotHeld(run);
    return this.settle(run, 'discarded', {}, actor);
  }

  /**
   * Moves a run to a status outside a reconciliation and appends its sync event, with an audit entry
   * when an admin did it — one transaction.
   */
  async settle(
    run: SyncRunRow,
    to: 'aborted' | 'discarded' | 'held' | 'failed' | 'completed',
    changes: { error?: string; held?: JsonObject },
    actor: string | null,
  ): Promise<SyncRunView> {
    return this.database.db.transaction().execute(async (tx) => {
      const now = this.now().toISOString();
      const { row, event } = await transitionRun(tx, await findRun(tx, run.id), to, { now, ...changes });
      if (actor) {
        await appendAudit(tx, { organizationId: run.organization_id, actor, action: `sync_run.${to}`, targetType: 'sync_run', targetId: run.id }, now);
      }
      const connection = await tx.selectFrom('connections').select(['id', 'type']).where('id', '=', run.connection_id).executeTakeFirstOrThrow();
      await appendEvents(tx, run.organization_id, [event], sourceOf(connection, run.id), now, this.database.capabilities);
      return syncRunView(row);
    });
  }

  private async runningSnapshot(connectionId: string, snapshotId: string): Promise<SyncRunRow> {
    const run = await this.database.db
      .selectFrom('sync_runs')
      .selectAll()
      .where('id', '=', snapshotId)
      .where('connection_id', '=', connectionId)
      .where('kind', 'in', [...SNAPSHOT_KINDS])
      .executeTakeFirst();
    if (!run) throw notFound('snapshot', snapshotId);
    if (run.status !== 'running') throw snapshotNotRunning(run);
    return run;
  }

}

/**
 * What the connection still holds live that the snapshot did not contain. Records the source
 * re-stated after the snapshot began (a push during the snapshot) are current and kept.
 */
async function unseenRecords(tx: Tx, run: SyncRunRow): Promise<IncomingRecord[]> {
  const rows = await tx
      .selectFrom('source_records')
      .select(['kind', 'external_id', 'group_external_id', 'user_external_id', 'child_group_external_id'])
      .where('connection_id', '=', run.connection_id)
      .where('tombstoned_at', 'is', null)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('snapshot_records as s')
              .select('s.run_id')
              .where('s.run_id', '=', run.id)
              .whereRef('s.kind', '=', 'source_records.kind')
              .whereRef('s.external_id', '=', 'source_records.external_id'),
          ),
        ),
      )
      .execute();
    return rows.map((r) => tombstoneOf(r));
}

/** The tombstone of a stored record, from the columns that name it. */
export function tombstoneOf(r: { kind: string; external_id: string; group_external_id: string | null; user_external_id: string | null; child_group_external_id: string | null }): IncomingRecord {
  if (r.kind === 'membership') return { kind: 'membership', external_id: r.external_id, deleted: true, group_external_id: r.group_external_id!, user_external_id: r.user_external_id!, raw: null };
  if (r.kind === 'group_nesting') {
    return { kind: 'group_nesting', external_id: r.external_id, deleted: true, group_external_id: r.group_external_id!, child_group_external_id: r.child_group_external_id!, raw: null };
  }
  return { kind: r.kind as 'user' | 'group', external_id: r.external_id, deleted: true };
}

/** What a held delta round would have removed: the people its source reported gone, kept in its summary. */
function heldRemovals(run: SyncRunRow): IncomingRecord[] {
  const held = run.held ? (JSON.parse(run.held) as { removals?: string[] }) : {};
  return (held.removals ?? []).map((id): IncomingRecord => ({ kind: 'user', external_id: id, deleted: true }));
}

async function activeConnection(tx: Tx, connectionId: string) {
  const connection = await tx
    .selectFrom('connections')
    .select(['id', 'organization_id', 'type', 'state'])
    .where('id', '=', connectionId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (!connection) throw notFound('connection', connectionId);
  assertAcceptsRecords(connection);
  return connection;
}

function sourceOf(connection: { id: string; type: string }, runId: string): EventSource {
  return { connection_id: connection.id, connection_type: connection.type, sync_run_id: runId };
}

function snapshotNotRunning(run: SyncRunRow) {
  return new DomainError('snapshot_not_running', `Snapshot '${run.id}' is ${run.status}; it no longer accepts records or a commit.`, 409, { status: run.status });
}

function snapshotNotHeld(run: SyncRunRow) {
  return new DomainError('sync_run_not_held', `Sync run '${run.id}' is ${run.status}; only a held run can be confirmed or discarded.`, 409, { status: run.status });
}
