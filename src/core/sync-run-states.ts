import { DomainError } from './errors.ts';

export const SYNC_RUN_STATUSES = ['running', 'completed', 'held', 'failed', 'aborted', 'discarded'] as const;
export type SyncRunStatus = (typeof SYNC_RUN_STATUSES)[number];

/** Which status a run may move to from each status; everything else is refused. */
const TRANSITIONS: Record<SyncRunStatus, readonly SyncRunStatus[]> = {
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
