import { DomainError } from './errors.ts';

export const SYNC_RUN_STATUSES = ['queued', 'running', 'completed', 'held', 'failed', 'aborted', 'discarded'] as const;
export type SyncRunStatus = (typeof SYNC_RUN_STATUSES)[number];

/** Which status a run may move to from each status; everything else is refused. */
const TRANSITIONS: Record<SyncRunStatus, readonly SyncRunStatus[]> = {
  // Requested (sync now, a due tier) and waiting for a worker; cancelled before it starts, it is aborted.
  queued: ['running', 'aborted', 'failed'],
  running: ['completed', 'held', 'failed', 'aborted'],
  held: ['completed', 'discarded'],
  completed: [],
  failed: [],
  aborted: [],
  discarded: [],
};

export function assertRunTransition(runId: string, from: SyncRunStatus, to: SyncRunStatus): void {
  if (!TRANSITIONS[from].includes(to)) {
    throw new DomainError(
      'invalid_run_state',
      `Sync run '${runId}' is ${from}; it cannot become ${to}.`,
      409,
      { status: from, requested: to },
    );
  }
}

/** Statuses of a run still under way: at most one run of a connection is in one of them (a unique index says so). */
export const ACTIVE_RUN_STATUSES = ['queued', 'running'] as const satisfies readonly SyncRunStatus[];
