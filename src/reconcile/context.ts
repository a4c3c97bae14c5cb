import type { ConnectionRef, EventDraft } from '../core/model.ts';
import type { Policy } from '../core/policy.ts';
import type { Tx } from '../store/database.ts';

/** Everything one reconciliation transaction needs to know besides the records themselves. */
export interface ReconcileContext {
  tx: Tx;
  organization_id: string;
  policy: Policy;
  /** The connection whose records are being applied. */
  connection: ConnectionRef;
  /** Every live connection of the organization, by id. */
  connections: ReadonlyMap<string, ConnectionRef>;
  sync_run_id: string | null;
  /** Snapshot runs (the one being fed, or any running or held one of the connection) that record what they saw. */
  seen_run_ids: readonly string[];
  /**
   * New users whose manager is not known yet are not created yet (a full listing, where the manager is
   * usually on a later page); see `recomputeUsers`.
   */
  defer_new_users_awaiting_manager: boolean;
  /** Reason recorded on tombstones written by this transaction. */
  tombstone_reason: string;
  now: string;
  today: string;
  maxParameters: number;
  /** Events accumulated by the steps, appended in order at the end of the transaction. */
  events: EventDraft[];
  counters: Counters;
}

export function newCounters() {
  return {
    records_received: 0,
    records_changed: 0,
    records_unchanged: 0,
    users_created: 0,
    users_updated: 0,
    users_deactivated: 0,
    users_reactivated: 0,
    groups_created: 0,
    groups_updated: 0,
    groups_deleted: 0,
    memberships_added: 0,
    memberships_removed: 0,
    conflicts_opened: 0,
    conflicts_resolved: 0,
    events: 0,
  };
}
export type Counters = ReturnType<typeof newCounters>;

/** Adds `from` into `into`, key by key; keys `from` lacks (a run's `pages`) are left as they are. */
export function addCounters<T extends Counters>(into: T, from: Counters): T {
  for (const key of Object.keys(from) as Array<keyof Counters>) into[key] += from[key];
  return into;
}
