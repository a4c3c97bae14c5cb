import type { CanonicalGroup, CanonicalUser } from '../core/model.ts';
import type { Database, Tx } from './database.ts';
import { eventLogHead } from './events.repo.ts';

export interface DirectorySnapshot {
  organization_id: string;
  /** Log position the snapshot is consistent with: every event at or before it is reflected, none after. */
  position: number;
  users: CanonicalUser[];
  groups: CanonicalGroup[];
  memberships: Array<{ group_id: string; user_id: string; created_at: string }>;
  /** Groups inside groups (direct), both active. */
  nested_groups: Array<{ group_id: string; child_group_id: string; created_at: string }>;
}

/**
 * Reads an organization's whole directory and the event-log position it reflects in ONE read
 * transaction (a repeatable-read snapshot on PostgreSQL; SQLite's WAL readers are snapshots already).
 * Event appends commit in position order, so no event at or below that position is still in flight.
 */
export async function readDirectorySnapshot(database: Database, organizationId: string): Promise<DirectorySnapshot> {
  const read = async (tx: Tx): Promise<DirectorySnapshot> => {
    // The whole log's head: positions are global, and the cursor is followed with an organization filter.
    const position = await eventLogHead(tx);
    const users = await tx.selectFrom('users').select('data').where('organization_id', '=', organizationId).orderBy('id').execute();
    const groups = await tx.selectFrom('groups').select('data').where('organization_id', '=', organizationId).orderBy('id').execute();
    const memberships = await tx
      .selectFrom('memberships')
      .select(['group_id', 'user_id', 'created_at'])
      .where('organization_id', '=', organizationId)
      .orderBy('group_id')
      .orderBy('user_id')
      .execute();
    const nested = await tx
      .selectFrom('group_nestings')
      .select(['group_id', 'child_group_id', 'created_at'])
      .where('organization_id', '=', organizationId)
      .orderBy('group_id')
      .orderBy('child_group_id')
      .execute();
    return {
      organization_id: organizationId,
      position,
      users: users.map((u) => JSON.parse(u.data)),
      groups: groups.map((g) => JSON.parse(g.data)),
      memberships,
      nested_groups: nested,
    };
  };
  const transaction = database.capabilities.concurrentWriters
    ? database.db.transaction().setIsolationLevel('repeatable read')
    : database.db.transaction();
  return transaction.execute(read);
}
