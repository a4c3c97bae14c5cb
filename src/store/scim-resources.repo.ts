import type { JsonObject } from '../core/model.ts';
import { inSlices } from './batching.ts';
import type { Db, Tx } from './database.ts';

/**
 * What a SCIM connection serves back to its IdP: its own source records (the raw payload is the SCIM
 * resource as the IdP set it), found through the narrow `scim_index` of lookup keys. Only live resources
 * are indexed, so the index is also the list of what exists.
 */
export type ScimResourceType = 'User' | 'Group';

/** One lookup key of a resource: `username`, `externalid`, `emails.value`, `displayname` or `id`. */
export interface ScimIndexEntry {
  attribute: string;
  value_key: string;
}

export interface StoredMember {
  group_id: string;
  member_id: string;
  /** The member object as the IdP sent it (`display`, `type`), without its `value`. */
  raw: JsonObject;
}

const KIND: Record<ScimResourceType, 'user' | 'group'> = { User: 'user', Group: 'group' };

type Executor = Db | Tx;

export class ScimResourcesRepo {
  constructor(private readonly db: Db) {}

  /** A live resource's stored body, or undefined. */
  async get(connectionId: string, type: ScimResourceType, id: string, executor: Executor = this.db): Promise<JsonObject | undefined> {
    const row = await executor
      .selectFrom('source_records')
      .select('raw')
      .where('connection_id', '=', connectionId)
      .where('kind', '=', KIND[type])
      .where('external_id', '=', id)
      .where('tombstoned_at', 'is', null)
      .executeTakeFirst();
    return row ? (JSON.parse(row.raw) as JsonObject) : undefined;
  }

  /** Live resources by id, in the order of `ids` (missing ones skipped). */
  async getMany(connectionId: string, type: ScimResourceType, ids: readonly string[]): Promise<JsonObject[]> {
    const rows = await inSlices(ids, (slice) =>
      this.db
        .selectFrom('source_records')
        .select(['external_id', 'raw'])
        .where('connection_id', '=', connectionId)
        .where('kind', '=', KIND[type])
        .where('external_id', 'in', slice)
        .where('tombstoned_at', 'is', null)
        .execute(),
    );
    const byId = new Map(rows.map((r) => [r.external_id, JSON.parse(r.raw) as JsonObject]));
    return ids.flatMap((id) => {
      const resource = byId.get(id);
      return resource ? [resource] : [];
    });
  }

  /** How many live resources of a type the connection has. */
  async count(connectionId: string, type: ScimResourceType): Promise<number> {
    const row = await this.db
      .selectFrom('scim_index')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('connection_id', '=', connectionId)
      .where('resource_type', '=', type)
      .where('attribute', '=', 'id')
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Ids of live resources in the order of a lookup key (`id`: creation order), one page at an offset. */
  async pageIds(connectionId: string, type: ScimResourceType, orderBy: string, offset: number, limit: number, descending = false): Promise<string[]> {
    const rows = await this.db
      .selectFrom('scim_index')
      .select('resource_id')
      .where('connection_id', '=', connectionId)
      .where('resource_type', '=', type)
      .where('attribute', '=', orderBy)
      .orderBy('value_key', descending ? 'desc' : 'asc')
      .orderBy('resource_id', descending ? 'desc' : 'asc')
      .offset(offset)
      .limit(limit)
      .execute();
    return rows.map((r) => r.resource_id);
  }

  /** Ids of resources whose key equals `valueKey`, or starts with it when `prefix` is set. */
  async findIds(
    connectionId: string,
    type: ScimResourceType,
    attribute: string,
    valueKey: string,
    options: { prefix?: boolean; executor?: Executor } = {},
  ): Promise<string[]> {
    let query = (options.executor ?? this.db)
      .selectFrom('scim_index')
      .select('resource_id')
      .distinct()
      .where('connection_id', '=', connectionId)
      .where('resource_type', '=', type)
      .where('attribute', '=', attribute);
    // A prefix range rather than LIKE: no escaping, and an index range on both engines. The upper bound is the
    // prefix followed by the highest code point, so every extension of the prefix sorts inside the range.
    query = options.prefix
      ? query.where('value_key', '>=', valueKey).where('value_key', '<', `${valueKey}\u{10FFFF}`)
      : query.where('value_key', '=', valueKey);
    const rows = await query.execute();
    return rows.map((r) => r.resource_id);
  }

  /** Which of these ids are live resources of the connection, and of which type. */
  async resourceTypesOf(tx: Tx, connectionId: string, ids: readonly string[]): Promise<Map<string, ScimResourceType>> {
    const rows = await inSlices(ids, (slice) =>
      tx
        .selectFrom('scim_index')
        .select(['resource_id', 'resource_type'])
        .where('connection_id', '=', connectionId)
        // Named so the primary key (connection, type, attribute, value) serves the lookup.
        .where('resource_type', 'in', ['User', 'Group'])
        .where('attribute', '=', 'id')
        .where('value_key', 'in', slice)
        .execute(),
    );
    return new Map(rows.map((r) => [r.resource_id, r.resource_type as ScimResourceType]));
  }

  /** Every live resource, in id order, a batch at a time (filters the index cannot answer). */
  async *scan(connectionId: string, type: ScimResourceType, batchSize = 1000): AsyncGenerator<JsonObject[]> {
    let after = '';
    for (;;) {
      const rows = await this.db
        .selectFrom('source_records')
        .select(['external_id', 'raw'])
        .where('connection_id', '=', connectionId)
        .where('kind', '=', KIND[type])
        .where('external_id', '>', after)
        .where('tombstoned_at', 'is', null)
        .orderBy('external_id')
        .limit(batchSize)
        .execute();
      if (rows.length === 0) return;
      yield rows.map((r) => JSON.parse(r.raw) as JsonObject);
      after = rows[rows.length - 1]!.external_id;
    }
  }

  /** Replaces a resource's lookup keys (an empty list removes the resource from the index). */
  async writeIndex(tx: Tx, scope: { organizationId: string; connectionId: string }, type: ScimResourceType, id: string, entries: ScimIndexEntry[]) {
    await tx
      .deleteFrom('scim_index')
      .where('connection_id', '=', scope.connectionId)
      .where('resource_type', '=', type)
      .where('resource_id', '=', id)
      .execute();
    if (entries.length === 0) return;
    const unique = new Map(entries.map((e) => [`${e.attribute}\u0000${e.value_key}`, e]));
    await tx
      .insertInto('scim_index')
      .values(
        [...unique.values()].map((e) => ({
          organization_id: scope.organizationId,
          connection_id: scope.connectionId,
          resource_type: type,
          attribute: e.attribute,
          value_key: e.value_key,
          resource_id: id,
        })),
      )
      .execute();
  }

  /** The live members of groups, by group id, in member id order. */
  async members(connectionId: string, groupIds: readonly string[], executor: Executor = this.db): Promise<Map<string, StoredMember[]>> {
    // Sorted here, not by the query: an ORDER BY on the member id would lead SQLite to the by-member index
    // and a scan of every membership of the connection.
    const rows = await inSlices(groupIds, (slice) =>
      executor
        .selectFrom('source_records')
        .select(['group_external_id', 'user_external_id', 'raw'])
        .where('connection_id', '=', connectionId)
        .where('kind', '=', 'membership')
        .where('group_external_id', 'in', slice)
        .where('tombstoned_at', 'is', null)
        .execute(),
    );
    const out = new Map<string, StoredMember[]>(groupIds.map((id) => [id, []]));
    for (const row of rows) {
      out.get(row.group_external_id!)?.push({ group_id: row.group_external_id!, member_id: row.user_external_id!, raw: parseObject(row.raw) });
    }
    for (const members of out.values()) members.sort((a, b) => compareText(a.member_id, b.member_id));
    return out;
  }

  /** The live groups each user is a direct member of, with the group's displayName, in group id order. */
  async groupsOf(connectionId: string, userIds: readonly string[]): Promise<Map<string, Array<{ id: string; displayName: string }>>> {
    // Two lookups by index rather than a join, whose plan SQLite may start from the groups' side.
    const memberships = await inSlices(userIds, (slice) =>
      this.db
        .selectFrom('source_records')
        .select(['user_external_id', 'group_external_id'])
        .where('connection_id', '=', connectionId)
        .where('kind', '=', 'membership')
        .where('user_external_id', 'in', slice)
        .where('tombstoned_at', 'is', null)
        .execute(),
    );
    const groupIds = [...new Set(memberships.map((m) => m.group_external_id!))];
    const groups = await inSlices(groupIds, (slice) =>
      this.db
        .selectFrom('source_records')
        .select(['external_id', 'normalized'])
        .where('connection_id', '=', connectionId)
        .where('kind', '=', 'group')
        .where('external_id', 'in', slice)
        .where('tombstoned_at', 'is', null)
        .execute(),
    );
    const names = new Map(groups.map((g) => [g.external_id, (JSON.parse(g.normalized) as { name?: string }).name ?? '']));
    const out = new Map<string, Array<{ id: string; displayName: string }>>(userIds.map((id) => [id, []]));
    for (const m of memberships) {
      const displayName = names.get(m.group_external_id!);
      if (displayName !== undefined) out.get(m.user_external_id!)?.push({ id: m.group_external_id!, displayName });
    }
    for (const list of out.values()) list.sort((a, b) => compareText(a.id, b.id));
    return out;
  }

  /** Groups a resource is a live member of, for removing a deleted resource from every group it was in. */
  async groupIdsOfMember(tx: Tx, connectionId: string, memberId: string): Promise<string[]> {
    const rows = await tx
      .selectFrom('source_records')
      .select('group_external_id')
      .where('connection_id', '=', connectionId)
      .where('kind', '=', 'membership')
      .where('user_external_id', '=', memberId)
      .where('tombstoned_at', 'is', null)
      .execute();
    return rows.map((r) => r.group_external_id!);
  }
}

const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function parseObject(text: string): JsonObject {
  const value = JSON.parse(text) as unknown;
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : {};
}
