import { assertTransition, transitionEventTypes, type ConnectionState } from '../core/connection-states.ts';
import { newId, isId } from '../core/ids.ts';
import type { ConnectionCategory, Event, EventDraft, EventSource, JsonObject } from '../core/model.ts';
import { appendEvents } from '../events/event-log.ts';
import { appendAudit } from './audit.repo.ts';
import type { Database, Db, Tx } from './database.ts';
import type { ConnectionsTable } from './schema.ts';

/**
 * Connections and their life cycle. Every change of state is checked against the transition table and
 * appends its events in the same transaction; admin actions also write their audit entry there.
 */
export interface ConnectionRecord {
  id: string;
  organization_id: string;
  type: string;
  category: ConnectionCategory;
  name: string;
  state: ConnectionState;
  state_reason: string | null;
  config: JsonObject;
  created_at: string;
  updated_at: string;
}

export interface NewConnection {
  organizationId: string;
  type: string;
  category: ConnectionCategory;
  name: string;
  config: JsonObject;
  /** Push connections start `active`; connections that must validate credentials start `draft`. */
  state: ConnectionState;
}

/** Who asked for a change, for the audit log; absent when the engine itself changes a state. */
export interface AuditedBy {
  actor: string;
  action: string;
}

export interface ConnectionsRepoOptions {
  /** Called after a transaction that appended events has committed (metrics). */
  onEventsWritten?: (events: Event[]) => void;
}

export class ConnectionsRepo {
  private readonly db: Db;

  constructor(
    private readonly database: Database,
    private readonly options: ConnectionsRepoOptions = {},
  ) {
    this.db = database.db;
  }

  /** A connection that has not been deleted, or undefined. */
  async get(id: string): Promise<ConnectionRecord | undefined> {
    if (!isId('connection', id)) return undefined;
    const row = await this.db
      .selectFrom('connections')
      .selectAll()
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async list(filter: { organizationId?: string | undefined }, page: { limit: number; after: string | null }): Promise<ConnectionRecord[]> {
    let query = this.db.selectFrom('connections').selectAll().where('deleted_at', 'is', null);
    if (filter.organizationId !== undefined) query = query.where('organization_id', '=', filter.organizationId);
    if (page.after !== null) query = query.where('id', '>', page.after);
    const rows = await query.orderBy('id').limit(page.limit + 1).execute();
    return rows.map(toRecord);
  }

  /** Creates a connection; `within` runs in the same transaction (a SCIM connection's token is issued there). */
  async create(
    input: NewConnection,
    audited: AuditedBy,
    now: string,
    within?: (tx: Tx, record: ConnectionRecord) => Promise<void>,
  ): Promise<ConnectionRecord> {
    const row: ConnectionsTable = {
      id: newId('connection'),
      organization_id: input.organizationId,
      type: input.type,
      category: input.category,
      name: input.name,
      state: input.state,
      state_reason: null,
      config: JSON.stringify(input.config),
      created_at: now,
      updated_at: now,
      deleted_at: null,
    };
    const record = toRecord(row);
    const drafts = transitionEventTypes(null, input.state).map((type) => draft(type, record, { state: { from: null, to: input.state } }));
    const events = await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('connections').values(row).execute();
      await within?.(tx, record);
      const written = await this.append(tx, record, drafts, now);
      await this.audit(tx, record, audited, { name: record.name, type: record.type, category: record.category }, now);
      return written;
    });
    this.options.onEventsWritten?.(events);
    return record;
  }

  /** Renames or reconfigures; the state is not touched here. Undefined when there is no such connection. */
  async update(id: string, patch: { name?: string | undefined; config?: JsonObject | undefined }, audited: AuditedBy, now: string) {
    return this.db.transaction().execute(async (tx) => {
      const current = await this.lock(tx, id);
      if (!current) return undefined;
      const next: ConnectionRecord = { ...current, name: patch.name ?? current.name, config: patch.config ?? current.config, updated_at: now };
      await tx
        .updateTable('connections')
        .set({ name: next.name, config: JSON.stringify(next.config), updated_at: now })
        .where('id', '=', id)
        .execute();
      // Config can hold provider settings an auditor needs to see changed; it holds no secrets (those are encrypted apart).
      const changes: JsonObject = {};
      if (next.name !== current.name) changes.name = { from: current.name, to: next.name };
      if (patch.config !== undefined) changes.config = { from: current.config, to: next.config };
      await this.audit(tx, next, audited, changes, now);
      return next;
    });
  }

  /**
   * Moves a connection to `target` if the transition table allows it (409 `invalid_state_transition`
   * otherwise), appending `connection.state_changed` (and the specific events of that transition).
   */
  async transition(
    id: string,
    target: ConnectionState | ((current: ConnectionRecord) => ConnectionState),
    change: { reason?: string | null; audited?: AuditedBy },
    now: string,
    options: { unchangedIsNoop?: boolean } = {},
  ): Promise<ConnectionRecord | undefined> {
    const result = await this.db.transaction().execute(async (tx) => {
      const current = await this.lock(tx, id);
      if (!current) return undefined;
      // A function target decides from the locked row, so the decision cannot race another change.
      const to = typeof target === 'function' ? target(current) : target;
      // The engine reacting to what happened asks "move there if not there yet": staying is no transition.
      if (options.unchangedIsNoop && to === current.state) return { record: current, events: [] };
      const { record, events } = await this.applyTransition(tx, current, to, change.reason ?? null, now);
      if (change.audited) await this.audit(tx, record, change.audited, { state: { from: current.state, to } }, now);
      return { record, events };
    });
    if (!result) return undefined;
    this.options.onEventsWritten?.(result.events);
    return result.record;
  }

  /**
   * Soft delete: the connection goes to `deleting` (its teardown) and is then marked deleted; afterwards it
   * answers 404. Push connections have nothing to tear down, so both happen in one transaction.
   */
  async delete(id: string, audited: AuditedBy, now: string): Promise<boolean> {
    const events = await this.db.transaction().execute(async (tx) => {
      const current = await this.lock(tx, id);
      if (!current) return undefined;
      const { record, events: stateEvents } = await this.applyTransition(tx, current, 'deleting', null, now);
      await tx.updateTable('connections').set({ deleted_at: now }).where('id', '=', id).execute();
      const deleted = await this.append(tx, record, [draft('connection.deleted', record, null)], now);
      await this.audit(tx, record, audited, { name: record.name, previous_state: current.state }, now);
      return [...stateEvents, ...deleted];
    });
    if (!events) return false;
    this.options.onEventsWritten?.(events);
    return true;
  }

  private async applyTransition(tx: Tx, current: ConnectionRecord, to: ConnectionState, reason: string | null, now: string) {
    assertTransition(current.id, current.state, to);
    const record: ConnectionRecord = { ...current, state: to, state_reason: reason, updated_at: now };
    await tx.updateTable('connections').set({ state: to, state_reason: reason, updated_at: now }).where('id', '=', current.id).execute();
    const changes: Record<string, { from: string | null; to: string | null }> = { state: { from: current.state, to } };
    if (reason !== current.state_reason) changes.state_reason = { from: current.state_reason, to: reason };
    const drafts = transitionEventTypes(current.state, to).map((type) => draft(type, record, changes));
    return { record, events: await this.append(tx, record, drafts, now) };
  }

  /** Reads a live connection inside the transaction, locking its row where writers run concurrently. */
  private async lock(tx: Tx, id: string): Promise<ConnectionRecord | undefined> {
    if (!isId('connection', id)) return undefined;
    let select = tx.selectFrom('connections').selectAll().where('id', '=', id).where('deleted_at', 'is', null);
    if (this.database.capabilities.concurrentWriters) select = select.forUpdate();
    const row = await select.executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  private append(tx: Tx, record: ConnectionRecord, drafts: EventDraft[], now: string): Promise<Event[]> {
    const source: EventSource = { connection_id: record.id, connection_type: record.type, sync_run_id: null };
    return appendEvents(tx, record.organization_id, drafts, source, now, this.database.capabilities);
  }

  private audit(tx: Tx, record: ConnectionRecord, audited: AuditedBy, details: JsonObject, now: string): Promise<void> {
    return appendAudit(
      tx,
      { organizationId: record.organization_id, actor: audited.actor, action: audited.action, targetType: 'connection', targetId: record.id, details },
      now,
    );
  }
}

function draft(type: EventDraft['type'], record: ConnectionRecord, changes: EventDraft['changes']): EventDraft {
  return { type, data: record as unknown as JsonObject, changes };
}

function toRecord(row: ConnectionsTable): ConnectionRecord {
  return {
    id: row.id,
    organization_id: row.organization_id,
    type: row.type,
    category: row.category as ConnectionCategory,
    name: row.name,
    state: row.state as ConnectionState,
    state_reason: row.state_reason,
    config: JSON.parse(row.config) as JsonObject,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}
