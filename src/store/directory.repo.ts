import { sql } from 'kysely';
import type { CanonicalGroup, CanonicalUser, JsonObject } from '../core/model.ts';
import type { Db } from './database.ts';

export interface PageQuery {
  limit: number;
  after: string | null;
}

export interface UserFilter {
  organization_id?: string | undefined;
  state?: string | undefined;
  /** Any address of the person, case-insensitive. */
  email?: string | undefined;
  /** Member of this group (id). */
  group_id?: string | undefined;
  updated_after?: string | undefined;
}

export interface SourceView extends JsonObject {
  connection_id: string;
  connection_type: string;
  external_id: string;
  link_method: string;
  attributes: JsonObject;
  first_seen_at: string;
  last_seen_at: string;
  tombstoned_at: string | null;
  tombstone_reason: string | null;
}

/** Reads of the canonical directory: users, groups, memberships, and the records behind a user. */
export class DirectoryRepo {
  constructor(private readonly db: Db) {}

  async listUsers(filter: UserFilter, page: PageQuery): Promise<Array<CanonicalUser & { id: string }>> {
    let query = this.db.selectFrom('users').select(['id', 'data']).orderBy('id').limit(page.limit + 1);
    if (filter.organization_id !== undefined) query = query.where('organization_id', '=', filter.organization_id);
    if (filter.state !== undefined) query = query.where('state', '=', filter.state);
    if (filter.updated_after !== undefined) query = query.where('updated_at', '>', filter.updated_after);
    if (page.after !== null) query = query.where('id', '>', page.after);
    if (filter.email !== undefined) {
      const email = filter.email.trim().toLowerCase();
      query = query.where((eb) =>
        eb.or([
          eb('email', '=', email),
          eb('id', 'in', eb.selectFrom('user_identifiers').select('user_id').where('kind', '=', 'email').where('value', '=', email)),
        ]),
      );
    }
    if (filter.group_id !== undefined) {
      const groupId = filter.group_id;
      query = query.where('id', 'in', (eb) => eb.selectFrom('memberships').select('user_id').where('group_id', '=', groupId));
    }
    return (await query.execute()).map((row) => JSON.parse(row.data));
  }

  async getUser(id: string): Promise<CanonicalUser | undefined> {
    const row = await this.db.selectFrom('users').select('data').where('id', '=', id).executeTakeFirst();
    return row ? JSON.parse(row.data) : undefined;
  }

  /** The source records linked to a user, optionally with their raw payloads. */
  async userSources(userId: string, includeRaw: boolean): Promise<SourceView[]> {
    const rows = await this.db
      .selectFrom('identity_links as l')
      .innerJoin('source_records as r', (join) =>
        join.onRef('r.connection_id', '=', 'l.connection_id').onRef('r.kind', '=', 'l.kind').onRef('r.external_id', '=', 'l.external_id'),
      )
      .innerJoin('connections as c', 'c.id', 'l.connection_id')
      .select([
        'r.connection_id',
        'c.type as connection_type',
        'r.external_id',
        'l.method',
        'r.normalized',
        'r.raw',
        'r.first_seen_at',
        'r.last_seen_at',
        'r.tombstoned_at',
        'r.tombstone_reason',
      ])
      .where('l.canonical_id', '=', userId)
      .where('l.kind', '=', 'user')
      .orderBy('l.created_at')
      .execute();
    return rows.map((r) => ({
      connection_id: r.connection_id,
      connection_type: r.connection_type,
      external_id: r.external_id,
      link_method: r.method,
      attributes: JSON.parse(r.normalized),
      ...(includeRaw ? { raw: JSON.parse(r.raw) } : {}),
      first_seen_at: r.first_seen_at,
      last_seen_at: r.last_seen_at,
      tombstoned_at: r.tombstoned_at,
      tombstone_reason: r.tombstone_reason,
    }));
  }

  async listGroups(filter: { organization_id?: string | undefined; state?: string | undefined }, page: PageQuery): Promise<CanonicalGroup[]> {
    let query = this.db.selectFrom('groups').select('data').orderBy('id').limit(page.limit + 1);
    if (filter.organization_id !== undefined) query = query.where('organization_id', '=', filter.organization_id);
    if (filter.state !== undefined) query = query.where('state', '=', filter.state);
    if (page.after !== null) query = query.where('id', '>', page.after);
    return (await query.execute()).map((row) => JSON.parse(row.data));
  }

  async getGroup(id: string): Promise<CanonicalGroup | undefined> {
    const row = await this.db.selectFrom('groups').select('data').where('id', '=', id).executeTakeFirst();
    return row ? JSON.parse(row.data) : undefined;
  }

  /** Memberships ordered by (group, user); the page key is `group_id/user_id`. */
  async listMemberships(
    filter: { organization_id?: string | undefined; group_id?: string | undefined; user_id?: string | undefined },
    page: PageQuery,
  ): Promise<Array<{ id: string; organization_id: string; group_id: string; user_id: string; created_at: string }>> {
    let query = this.db
      .selectFrom('memberships')
      .select(['organization_id', 'group_id', 'user_id', 'created_at'])
      .orderBy('group_id')
      .orderBy('user_id')
      .limit(page.limit + 1);
    if (filter.organization_id !== undefined) query = query.where('organization_id', '=', filter.organization_id);
    if (filter.group_id !== undefined) query = query.where('group_id', '=', filter.group_id);
    if (filter.user_id !== undefined) query = query.where('user_id', '=', filter.user_id);
    if (page.after !== null) {
      const [groupId, userId] = page.after.split('/');
      query = query.where((eb) =>
        eb.or([eb('group_id', '>', groupId!), eb.and([eb('group_id', '=', groupId!), eb('user_id', '>', userId ?? '')])]),
      );
    }
    return (await query.execute()).map((m) => ({ id: `${m.group_id}/${m.user_id}`, ...m }));
  }

  /** The active groups directly inside `groupId`, by id. */
  async listChildGroups(groupId: string, page: PageQuery): Promise<CanonicalGroup[]> {
    let query = this.db
      .selectFrom('group_nestings as n')
      .innerJoin('groups as g', 'g.id', 'n.child_group_id')
      .select('g.data')
      .where('n.group_id', '=', groupId)
      .where('g.state', '=', 'active')
      .orderBy('g.id')
      .limit(page.limit + 1);
    if (page.after !== null) query = query.where('g.id', '>', page.after);
    return (await query.execute()).map((row) => JSON.parse(row.data));
  }

  /**
   * Everyone in the group or in an active group nested inside it, at any depth, once each, by user id;
   * `created_at` is their earliest membership among those groups. Nestings that loop end where they close.
   */
  async listTransitiveMembers(
    group: { id: string; organization_id: string },
    page: PageQuery,
  ): Promise<Array<{ id: string; organization_id: string; group_id: string; user_id: string; created_at: string }>> {
    let query = this.db
      .withRecursive('tree(group_id)', (db) =>
        db
          .selectNoFrom(sql<string>`cast(${group.id} as text)`.as('group_id'))
          .union(
            db
              .selectFrom('group_nestings as n')
              .innerJoin('tree as t', 't.group_id', 'n.group_id')
              .innerJoin('groups as g', 'g.id', 'n.child_group_id')
              .select('n.child_group_id as group_id')
              .where('g.state', '=', 'active'),
          ),
      )
      .selectFrom('memberships as m')
      .select(['m.user_id', (eb) => eb.fn.min<string>('m.created_at').as('created_at')])
      .where('m.group_id', 'in', (eb) => eb.selectFrom('tree').select('tree.group_id'))
      .groupBy('m.user_id')
      .orderBy('m.user_id')
      .limit(page.limit + 1);
    if (page.after !== null) query = query.where('m.user_id', '>', page.after);
    return (await query.execute()).map((m) => ({ id: m.user_id, organization_id: group.organization_id, group_id: group.id, user_id: m.user_id, created_at: m.created_at }));
  }
}
