import { notFound } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { EventDraft, JsonObject } from '../core/model.ts';
import { assertRunTransition, type SyncRunStatus } from '../core/sync-run-states.ts';
import type { Db, Tx } from '../store/database.ts';
import type { SyncRunsTable } from '../store/schema.ts';
import { addCounters, newCounters, type Counters } from './context.ts';

export type SyncRunRow = SyncRunsTable;

/**
 * Runs whose commit removes what they did not see: a pushed snapshot, and a pull's full run. Records a
 * source states while one is open count as seen by it.
 */
export const SNAPSHOT_KINDS = ['snapshot', 'full'] as const;

export interface SyncRunView {
  id: string;
  organization_id: string;
  connection_id: string;
  kind: string;
  status: SyncRunStatus;
  counters: Record<string, number>;
  held: JsonObject | null;
  error: string | null;
  started_at: string;
  finished_at: string | null;
  updated_at: string;
  trigger: string | null;
  progress: RunProgress | null;
  /** How many times a worker started or took over this run (more than 1: resumed from its checkpoint). */
  attempts: number;
}

/** Where a pull run is, for people watching it. */
export interface RunProgress {
  phase: string;
  pages: number;
  records: number;
  /** Records per second since the run started. */
  rate: number;
  /** Records the previous run of this kind had, when there was one: what `eta_seconds` is measured against. */
  expected_records: number | null;
  eta_seconds: number | null;
  /** Why a delta run became a full run (no cursor yet, the cursor expired). */
  fallback?: string;
}

export function syncRunView(row: SyncRunRow): SyncRunView {
  return {
    id: row.id,
    organization_id: row.organization_id,
    connection_id: row.connection_id,
    kind: row.kind,
    status: row.status as SyncRunStatus,
    counters: JSON.parse(row.counters),
    held: row.held ? JSON.parse(row.held) : null,
    error: row.error,
    started_at: row.started_at,
    finished_at: row.finished_at,
    updated_at: row.updated_at,
    trigger: row.trigger,
    progress: row.progress ? (JSON.parse(row.progress) as RunProgress) : null,
    attempts: row.attempts,
  };
}

export interface RunCounters extends Counters {
  pages: number;
}

export function newRunCounters(): RunCounters {
  return { ...newCounters(), pages: 0 };
}

export async function insertRun(
  tx: Tx,
  run: { organization_id: string; connection_id: string; kind: string; now: string; status?: SyncRunStatus; trigger?: string },
): Promise<SyncRunRow> {
  const row: SyncRunRow = {
    id: newId('syncRun'),
    organization_id: run.organization_id,
    connection_id: run.connection_id,
    kind: run.kind,
    status: run.status ?? 'running',
    counters: JSON.stringify(newRunCounters()),
    held: null,
    error: null,
    started_at: run.now,
    finished_at: null,
    updated_at: run.now,
    trigger: run.trigger ?? null,
    checkpoint: null,
    progress: null,
    lease_owner: null,
    lease_until: null,
    attempts: 0,
    follow_up: null,
  };
  await tx.insertInto('sync_runs').values(row).execute();
  return row;
}

export async function findRun(db: Db | Tx, runId: string): Promise<SyncRunRow> {
  const row = await db.selectFrom('sync_runs').selectAll().where('id', '=', runId).executeTakeFirst();
  if (!row) throw notFound('sync_run', runId);
  return row;
}

/** Moves a run to a new status (checked against the transition table) and returns the sync event for it. */
export async function transitionRun(
  tx: Tx,
  run: SyncRunRow,
  to: SyncRunStatus,
  changes: { now: string; counters?: Counters; held?: JsonObject | null; error?: string | null },
): Promise<{ row: SyncRunRow; event: EventDraft }> {
  assertRunTransition(run.id, run.status as SyncRunStatus, to);
  const counters = changes.counters ? addCounters({ ...newRunCounters(), ...JSON.parse(run.counters) }, changes.counters) : JSON.parse(run.counters);
  const finished = to === 'held' ? null : changes.now;
  const row: SyncRunRow = {
    ...run,
    status: to,
    counters: JSON.stringify(counters),
    held: changes.held === undefined ? run.held : changes.held === null ? null : JSON.stringify(changes.held),
    error: changes.error ?? run.error,
    finished_at: finished,
    updated_at: changes.now,
  };
  await tx
    .updateTable('sync_runs')
    .set({ status: row.status, counters: row.counters, held: row.held, error: row.error, finished_at: row.finished_at, updated_at: row.updated_at })
    .where('id', '=', run.id)
    .where('status', '=', run.status)
    .execute();
  // A run that has ended no longer decides removals: what it saw can go.
  if (to !== 'held') await tx.deleteFrom('snapshot_records').where('run_id', '=', run.id).execute();
  const type = to === 'held' ? 'sync.deprovision_held' : to === 'failed' || to === 'aborted' ? 'sync.failed' : 'sync.completed';
  return { row, event: { type, data: syncRunView(row) as unknown as JsonObject, changes: null } };
}

/** Adds a page's counters to a running run. */
export async function addPageCounters(tx: Tx, runId: string, counters: Counters, now: string): Promise<void> {
  const run = await findRun(tx, runId);
  const total = addCounters({ ...newRunCounters(), ...JSON.parse(run.counters) }, counters) as RunCounters;
  total.pages += 1;
  await tx.updateTable('sync_runs').set({ counters: JSON.stringify(total), updated_at: now }).where('id', '=', runId).execute();
}
