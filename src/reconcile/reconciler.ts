import { assertAcceptsRecords } from '../core/connection-states.ts';
import { notFound } from '../core/errors.ts';
import type { ConnectionCategory, ConnectionRef, EventDraft, EventSource } from '../core/model.ts';
import { effectivePolicy, type Policy, type PolicyInput } from '../core/policy.ts';
import { appendEvents } from '../events/event-log.ts';
import { sql } from 'kysely';
import { chunks } from '../store/batching.ts';
import type { Database, Tx } from '../store/database.ts';
import { addCounters, newCounters, type Counters, type ReconcileContext } from './context.ts';
import { reconcileGroups } from './group-step.ts';
import { linkUserRecords } from './identity-step.ts';
import type { IncomingRecord } from './incoming.ts';
import { reconcileMemberships } from './membership-step.ts';
import { reconcileNestings } from './nesting-step.ts';
import { reconcileRoles } from './role-step.ts';
import { writeSourceRecords } from './source-record-writer.ts';
import { recomputeUsers, usersAwaiting, usersDeferred } from './user-step.ts';
import { SNAPSHOT_KINDS } from './sync-runs.ts';

/** Records processed per step inside one transaction; bounds memory and statement sizes. */
const CHUNK_SIZE = 5000;
/** Users re-derived per transaction when a policy changes. */
const REDERIVE_CHUNK = 2000;

export interface ReconcileMetrics {
  observeReconcile(seconds: number): void;
  recordsIngested(kind: string, count: number): void;
  eventsWritten(events: readonly EventDraft[]): void;
}

export interface ApplyOptions {
  sync_run_id?: string | null;
  /** The snapshot these records are a page of; otherwise the connection's open snapshots see them. */
  snapshot_id?: string | null;
  tombstone_reason?: string;
  /**
   * Runs inside the transaction after every change is planned and before the events are appended.
   * Throwing rolls everything back (the deprovision guard); returning drafts appends them after the
   * reconciliation events (e.g. `sync.completed`).
   */
  finalize?: (tx: Tx, totals: Counters, scope: TransactionScope) => Promise<EventDraft[] | void>;
  /** Count the organization's active users before applying (the deprovision guard needs it). */
  countActiveUsers?: boolean;
  /**
   * New users whose manager is not known yet wait for it (a full listing's users phase, which ends with
   * `createDeferredUsers`), so each is created once, with its manager.
   */
  deferNewUsersAwaitingManager?: boolean;
}

/** What a transaction knows about the organization it works on. */
export interface TransactionScope {
  organization_id: string;
  policy: Policy;
  connection: ConnectionRef;
  /** Active users before this transaction changed anything; counted only when `countActiveUsers` asked. */
  active_users_before: number | null;
}

export interface ReconcilerDeps {
  database: Database;
  now?: () => Date;
  metrics?: ReconcileMetrics;
}

/** Rows written before the planner statistics are first refreshed; later, when the tables grew by half. */
const STATISTICS_FIRST_REFRESH = 2_000;

/** The one write path to canonical state: source records in, canonical changes and their events out. */
export class Reconciler {
  private written = 0;
  private nextStatisticsRefresh = STATISTICS_FIRST_REFRESH;
  /** The statistics refresh under way, if any: at most one at a time. */
  private refreshing: Promise<void> | undefined;

  constructor(private readonly deps: ReconcilerDeps) {}

  /**
   * Refreshes planner statistics as the tables grow geometrically, so bulk loads keep using indexes. The
   * refresh runs beside the writes (on PostgreSQL, on a connection and a server process of its own), not
   * before the next one: it only has to land before the tables have grown much further.
   */
  private noteWritten(rows: number): void {
    this.written += rows;
    if (this.written < this.nextStatisticsRefresh || this.refreshing) return;
    this.nextStatisticsRefresh = Math.max(this.written * 1.5, this.written + STATISTICS_FIRST_REFRESH);
    this.refreshing = this.deps.database
      .refreshStatistics()
      // Stale statistics slow queries down; they never make one wrong. The next growth step retries.
      .catch((error: unknown) => process.emitWarning(`Refreshing planner statistics failed: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => (this.refreshing = undefined));
  }

  /** Settles once no statistics refresh is under way (before the database is closed). */
  async idle(): Promise<void> {
    await this.refreshing;
  }

  private now(): Date {
    return this.deps.now ? this.deps.now() : new Date();
  }

  /**
   * Applies a connection's statements in ONE transaction: the source records, every canonical change
   * they cause, and the events describing those changes commit together or not at all.
   */
  async apply(
    connectionId: string,
    input: readonly IncomingRecord[] | ((tx: Tx) => Promise<IncomingRecord[]>),
    options: ApplyOptions = {},
  ): Promise<Counters> {
    let applied: readonly IncomingRecord[] = [];
    const totals = await this.transact(connectionId, { requireActive: true, ...options }, async (tx, nextContext) => {
      // Records computed from stored state (a snapshot's unseen records) are read under the lock.
      applied = typeof input === 'function' ? await input(tx) : input;
      for (const chunk of chunks(applied, CHUNK_SIZE)) await reconcileChunk(nextContext(), chunk);
    });
    this.noteIngested(applied);
    return totals;
  }

  private noteIngested(records: readonly IncomingRecord[]): void {
    for (const kind of ['user', 'group', 'membership', 'group_nesting'] as const) {
      const count = records.filter((r) => r.kind === kind).length;
      if (count > 0) this.deps.metrics?.recordsIngested(kind, count);
    }
  }

  /**
   * Applies several independent statements of one connection in ONE transaction, each in a savepoint of
   * its own: a statement that throws (a uniqueness check, a bad PATCH) is rolled back alone and its error
   * returned in its place; the others commit together with their events, in the order given. This is how
   * many small concurrent writes (SCIM requests) share one organization lock, one event append and one
   * commit instead of queueing for one each.
   */
  async applyEach(
    connectionId: string,
    works: ReadonlyArray<(tx: Tx) => Promise<IncomingRecord[]>>,
  ): Promise<Array<{ ok: true } | { ok: false; error: unknown }>> {
    const outcomes: Array<{ ok: true } | { ok: false; error: unknown }> = [];
    const applied: IncomingRecord[] = [];
    await this.transact(connectionId, { requireActive: true }, async (tx, nextContext) => {
      for (const [index, work] of works.entries()) {
        const savepoint = sql.id(`statement_${index}`);
        await sql`savepoint ${savepoint}`.execute(tx);
        const ctx = nextContext();
        try {
          const records = await work(tx);
          for (const chunk of chunks(records, CHUNK_SIZE)) await reconcileChunk(ctx, chunk);
          await sql`release savepoint ${savepoint}`.execute(tx);
          applied.push(...records);
          outcomes.push({ ok: true });
        } catch (error) {
          await sql`rollback to savepoint ${savepoint}`.execute(tx);
          await sql`release savepoint ${savepoint}`.execute(tx);
          // What the failed statement planned is gone with its savepoint; so are its events and counts.
          ctx.events.length = 0;
          ctx.counters = newCounters();
          outcomes.push({ ok: false, error });
        }
      }
    });
    this.noteIngested(applied);
    return outcomes;
  }

  /**
   * Runs an admin adjustment of one connection's links or one user's preferences (manual link, pinned
   * winner) through the same path: one transaction, organization locked, events appended with the change.
   */
  async adjust(connectionId: string, work: (ctx: ReconcileContext) => Promise<void>): Promise<Counters> {
    return this.transact(connectionId, { requireActive: false }, async (_tx, nextContext) => work(nextContext()));
  }

  /**
   * Re-derives every user of an organization from the records already stored — after its policy changed
   * (ownership, roles, custom attributes), nothing is fetched again. Chunked, one transaction per chunk;
   * events say what changed, with no connection as their source. Links are kept: a changed join rule
   * applies to records linked from now on.
   */
  async rederiveOrganization(organizationId: string): Promise<Counters> {
    const { db } = this.deps.database;
    const anchor = await db
      .selectFrom('connections')
      .select('id')
      .where('organization_id', '=', organizationId)
      .where('deleted_at', 'is', null)
      .orderBy('created_at')
      .executeTakeFirst();
    const totals = newCounters();
    if (!anchor) return totals;
    let after = '';
    for (;;) {
      const page = await db
        .selectFrom('users')
        .select('id')
        .where('organization_id', '=', organizationId)
        .where('id', '>', after)
        .orderBy('id')
        .limit(REDERIVE_CHUNK)
        .execute();
      if (page.length === 0) return totals;
      const ids = page.map((u) => u.id);
      const counters = await this.transact(anchor.id, { requireActive: false, sourceless: true }, async (_tx, nextContext) => {
        const ctx = nextContext();
        await recomputeUsers(ctx, ids);
        await reconcileRoles(ctx, new Set(ids));
      });
      addCounters(totals, counters);
      after = ids[ids.length - 1]!;
    }
  }

  /**
   * Creates the connection's users that were deferred awaiting a manager who never came (or whose run
   * stopped before it came), without that manager, in chunks: one transaction each, their events with
   * the connection (and run) as source. Answers the counters.
   */
  async createDeferredUsers(connectionId: string, options: Pick<ApplyOptions, 'sync_run_id' | 'finalize'> = {}): Promise<Counters> {
    const totals = newCounters();
    for (;;) {
      let remaining = 0;
      const counters = await this.transact(connectionId, { requireActive: false, ...options }, async (_tx, nextContext) => {
        const ctx = nextContext();
        const deferred = await usersDeferred(ctx);
        remaining = deferred.length;
        await createUsers(ctx, deferred.slice(0, REDERIVE_CHUNK));
      });
      addCounters(totals, counters);
      if (remaining <= REDERIVE_CHUNK) return totals;
    }
  }

  /**
   * After a connection is deleted its records no longer speak for anyone: every person it was linked to
   * is re-derived without it (someone known only there becomes inactive, `connection_deleted`, keeping
   * their last-known attributes), and its groups are deleted with their memberships.
   */
  async detachDeletedConnection(connectionId: string): Promise<Counters> {
    return this.transact(connectionId, { requireActive: false, deletedConnection: true }, async (tx, nextContext) => {
      const ctx = nextContext();
      const users = await tx
        .selectFrom('identity_links')
        .select('canonical_id')
        .distinct()
        .where('connection_id', '=', connectionId)
        .where('kind', '=', 'user')
        .execute();
      await recomputeUsers(ctx, users.map((u) => u.canonical_id));
      const groups = await tx
        .selectFrom('identity_links')
        .select('external_id')
        .where('connection_id', '=', connectionId)
        .where('kind', '=', 'group')
        .execute();
      await reconcileGroups(ctx, groups.map((g) => ({ external_id: g.external_id, attributes: { name: '' }, tombstoned: true })), { force: true });
      await reconcileRoles(ctx, new Set(users.map((u) => u.canonical_id)));
    });
  }

  private async transact(
    connectionId: string,
    options: ApplyOptions & { requireActive: boolean; deletedConnection?: boolean; sourceless?: boolean },
    body: (tx: Tx, nextContext: () => ReconcileContext) => Promise<void>,
  ): Promise<Counters> {
    const started = performance.now();
    const { database } = this.deps;
    const result = await database.db.transaction().execute(async (tx) => {
      const scope = await this.lockScope(tx, connectionId, options.requireActive, options.deletedConnection ?? false);
      if (options.countActiveUsers) scope.active_users_before = await countActiveUsers(tx, scope.organization_id);
      // What is stated now is current for every snapshot still deciding what to remove, held ones included,
      // whichever run or push states it: confirming a held run must not remove what came (back) since.
      const open = await openSnapshots(tx, scope.connection.id);
      const seenRunIds = options.snapshot_id && !open.includes(options.snapshot_id) ? [options.snapshot_id, ...open] : open;
      const now = this.now();
      const contexts: ReconcileContext[] = [];
      const nextContext = (): ReconcileContext => {
        const ctx: ReconcileContext = {
          tx,
          organization_id: scope.organization_id,
          policy: scope.policy,
          connection: scope.connection,
          connections: scope.connections,
          sync_run_id: options.sync_run_id ?? null,
          seen_run_ids: seenRunIds,
          defer_new_users_awaiting_manager: options.deferNewUsersAwaitingManager ?? false,
          tombstone_reason: options.tombstone_reason ?? 'removed_from_source',
          now: now.toISOString(),
          today: now.toISOString().slice(0, 10),
          maxParameters: database.capabilities.maxParameters,
          events: [],
          counters: newCounters(),
        };
        contexts.push(ctx);
        return ctx;
      };
      await body(tx, nextContext);
      const totals = newCounters();
      const drafts: EventDraft[] = [];
      for (const ctx of contexts) {
        drafts.push(...ctx.events);
        addCounters(totals, ctx.counters);
      }
      totals.events = drafts.length;
      const extra = (await options.finalize?.(tx, totals, scope)) ?? [];
      const source: EventSource = options.sourceless
        ? { connection_id: null, connection_type: null, sync_run_id: null }
        : { connection_id: scope.connection.id, connection_type: scope.connection.type, sync_run_id: options.sync_run_id ?? null };
      await appendEvents(tx, scope.organization_id, [...drafts, ...extra], source, now.toISOString(), database.capabilities);
      return { totals, drafts: [...drafts, ...extra] };
    });
    this.deps.metrics?.observeReconcile((performance.now() - started) / 1000);
    this.deps.metrics?.eventsWritten(result.drafts);
    this.noteWritten(result.totals.records_changed + result.totals.events);
    return result.totals;
  }

  /**
   * Locks the organization for this transaction (reconciliations of one organization are serialized;
   * others proceed) and loads what every step needs.
   */
  private async lockScope(tx: Tx, connectionId: string, requireActive: boolean, deleted: boolean) {
    const connection = await tx
      .selectFrom('connections')
      .select(['id', 'organization_id', 'type', 'category', 'state', 'created_at'])
      .where('id', '=', connectionId)
      .where('deleted_at', deleted ? 'is not' : 'is', null)
      .executeTakeFirst();
    if (!connection) throw notFound('connection', connectionId);
    if (requireActive) assertAcceptsRecords(connection);
    let orgQuery = tx.selectFrom('organizations').select(['id', 'policy']).where('id', '=', connection.organization_id);
    if (this.deps.database.capabilities.concurrentWriters) orgQuery = orgQuery.forUpdate();
    const organization = await orgQuery.executeTakeFirstOrThrow();
    const all = await tx
      .selectFrom('connections')
      .select(['id', 'type', 'category', 'created_at', 'deleted_at'])
      .where('organization_id', '=', organization.id)
      .execute();
    const connections = new Map<string, ConnectionRef>(
      all.map((c) => [
        c.id,
        { id: c.id, type: c.type, category: c.category as ConnectionCategory, created_at: c.created_at, deleted_at: c.deleted_at },
      ]),
    );
    return {
      organization_id: organization.id,
      policy: effectivePolicy(JSON.parse(organization.policy) as PolicyInput),
      connection: connections.get(connection.id)!,
      connections,
      active_users_before: null as number | null,
    };
  }
}

/** Snapshots of the connection still deciding what to remove: records stated now are current for them. */
async function openSnapshots(tx: Tx, connectionId: string): Promise<string[]> {
  const rows = await tx
    .selectFrom('sync_runs')
    .select('id')
    .where('connection_id', '=', connectionId)
    .where('kind', 'in', [...SNAPSHOT_KINDS])
    .where('status', 'in', ['running', 'held'])
    .execute();
  return rows.map((r) => r.id);
}

async function countActiveUsers(tx: Tx, organizationId: string): Promise<number> {
  const active = await tx
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('organization_id', '=', organizationId)
    .where('state', '=', 'active')
    .executeTakeFirstOrThrow();
  return Number(active.n);
}

async function reconcileChunk(ctx: ReconcileContext, records: readonly IncomingRecord[]): Promise<void> {
  const changes = await writeSourceRecords(ctx, records);

  const identity = await linkUserRecords(ctx, changes.users);
  const affected = new Set<string>();
  for (const record of changes.users) {
    const owner = identity.owners.get(record.external_id);
    if (owner) affected.add(owner);
  }
  const { deferred } = await recomputeUsers(ctx, [...affected]);
  for (const id of deferred) affected.delete(id);
  // Reports whose manager only now became known are re-derived (or, deferred until now, created) here;
  // recomputing them creates no new identifiers, so one pass settles every reference.
  const waiting = (await usersAwaiting(ctx, identity.newReferenceKeys)).filter((id) => !affected.has(id) && !deferred.has(id));
  const later = await recomputeUsers(ctx, waiting);
  for (const id of waiting) if (!later.deferred.has(id)) affected.add(id);

  const groups = await reconcileGroups(ctx, changes.groups);
  const touched = await reconcileMemberships(ctx, {
    changed: changes.memberships,
    // Only a record that just got its person, or came back, can have memberships waiting for it; a
    // person not created yet gets them when created.
    linkedUsers: [
      ...identity.newLinks.filter((l) => !deferred.has(l.user_id)).map((l) => l.external_id),
      ...later.createdRecords,
      ...changes.users.filter((u) => u.revived).map((u) => u.external_id),
    ],
    removedUsers: changes.users.filter((u) => u.tombstoned).map((u) => u.external_id),
    activatedGroups: groups.activated,
  });
  await reconcileNestings(ctx, { changed: changes.nestings, activatedGroups: groups.activated });
  for (const id of touched) affected.add(id);
  await reconcileRoles(ctx, affected);
}

/** Creates deferred users (see `recomputeUsers`): derived now, whatever they still await, with the memberships waiting for them. */
async function createUsers(ctx: ReconcileContext, userIds: readonly string[]): Promise<void> {
  const { createdRecords } = await recomputeUsers(ctx, userIds);
  const touched = await reconcileMemberships(ctx, { changed: [], linkedUsers: createdRecords, removedUsers: [], activatedGroups: [] });
  await reconcileRoles(ctx, new Set([...userIds, ...touched]));
}
