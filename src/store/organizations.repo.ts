import { newId, isId } from '../core/ids.ts';
import type { JsonObject } from '../core/model.ts';
import type { PolicyInput } from '../core/policy.ts';
import { appendAudit } from './audit.repo.ts';
import type { Database, Db } from './database.ts';
import type { OrganizationsTable } from './schema.ts';

/**
 * Organizations (tenants) and their directory policy. The policy is stored as the admin wrote it (already
 * validated); defaults are filled when it is read for use, so improving a default reaches every organization
 * that did not override it.
 */
export interface OrganizationRecord {
  id: string;
  name: string;
  policy: PolicyInput;
  created_at: string;
  updated_at: string;
}

export interface OrganizationPatch {
  name?: string | undefined;
  policy?: PolicyInput | undefined;
}

export class OrganizationsRepo {
  private readonly db: Db;

  constructor(private readonly database: Database) {
    this.db = database.db;
  }

  async get(id: string): Promise<OrganizationRecord | undefined> {
    if (!isId('organization', id)) return undefined;
    const row = await this.db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async exists(id: string): Promise<boolean> {
    if (!isId('organization', id)) return false;
    const row = await this.db.selectFrom('organizations').select('id').where('id', '=', id).executeTakeFirst();
    return row !== undefined;
  }

  /** At most `limit + 1` organizations after `after`; `onlyId` narrows to one (a scoped caller's own). */
  async list(filter: { onlyId?: string | undefined }, page: { limit: number; after: string | null }): Promise<OrganizationRecord[]> {
    let query = this.db.selectFrom('organizations').selectAll();
    if (filter.onlyId !== undefined) query = query.where('id', '=', filter.onlyId);
    if (page.after !== null) query = query.where('id', '>', page.after);
    const rows = await query.orderBy('id').limit(page.limit + 1).execute();
    return rows.map(toRecord);
  }

  async create(input: { name: string; policy: PolicyInput }, actor: string, now: string): Promise<OrganizationRecord> {
    const row: OrganizationsTable = {
      id: newId('organization'),
      name: input.name,
      policy: JSON.stringify(input.policy),
      event_sequence: 0,
      created_at: now,
      updated_at: now,
    };
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('organizations').values(row).execute();
      await appendAudit(
        tx,
        {
          organizationId: row.id,
          actor,
          action: 'organization.created',
          targetType: 'organization',
          targetId: row.id,
          details: { name: input.name, policy: input.policy as JsonObject },
        },
        now,
      );
    });
    return toRecord(row);
  }

  /** Applies a patch; each changed aspect (name, policy) gets its own audit entry. Undefined when absent. */
  async update(id: string, patch: OrganizationPatch, actor: string, now: string): Promise<OrganizationRecord | undefined> {
    if (!isId('organization', id)) return undefined;
    return this.db.transaction().execute(async (tx) => {
      let select = tx.selectFrom('organizations').selectAll().where('id', '=', id);
      // Concurrent patches of one organization apply one after the other, so each audit `from` is accurate.
      if (this.database.capabilities.concurrentWriters) select = select.forUpdate();
      const current = await select.executeTakeFirst();
      if (!current) return undefined;
      const next: OrganizationsTable = {
        ...current,
        name: patch.name ?? current.name,
        policy: patch.policy === undefined ? current.policy : JSON.stringify(patch.policy),
        updated_at: now,
      };
      // event_sequence is not written back: the reconciler may bump it concurrently under its own lock.
      await tx
        .updateTable('organizations')
        .set({ name: next.name, policy: next.policy, updated_at: now })
        .where('id', '=', id)
        .execute();
      const audit = { organizationId: id, actor, targetType: 'organization', targetId: id };
      if (next.name !== current.name) {
        await appendAudit(tx, { ...audit, action: 'organization.updated', details: { name: { from: current.name, to: next.name } } }, now);
      }
      if (next.policy !== current.policy) {
        const details = { from: JSON.parse(current.policy) as JsonObject, to: JSON.parse(next.policy) as JsonObject };
        await appendAudit(tx, { ...audit, action: 'organization.policy_updated', details }, now);
      }
      return toRecord(next);
    });
  }
}

function toRecord(row: OrganizationsTable): OrganizationRecord {
  return { id: row.id, name: row.name, policy: JSON.parse(row.policy) as PolicyInput, created_at: row.created_at, updated_at: row.updated_at };
}
