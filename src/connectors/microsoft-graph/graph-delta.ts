import { z } from 'zod';
import type { IncomingRecord } from '../../reconcile/incoming.ts';
import type { ProviderHttpClient } from '../../sync/http/provider-http-client.ts';
import { CursorExpiredError, type ChangePage, type DeltaSource } from '../connector.ts';
import { isRecord } from '../definition/json-path.ts';
import type { ProviderDefinition } from '../definition/load-provider-definition.ts';
import { mapGroup, mapMember, mapUser } from '../definition/mapping-engine.ts';
import { PagingError } from '../definition/pager.ts';
import { GRAPH_GROUP_SELECT, GRAPH_USER_SELECT } from './graph.definition.ts';

/**
 * Graph delta queries as a DeltaSource (hooks graph.usersDelta, graph.groupsDelta, graph.membersDelta).
 * A round walks `/users/delta` then `/groups/delta` from their stored links, following
 * `@odata.nextLink` until a page carries `@odata.deltaLink`; the cursor is both links as JSON. Records
 * are gathered per window and merged by key (the last statement of an object wins), so the chunks of
 * one group's `members@delta` spread over pages, and duplicated or replayed items, come out once.
 */

/** Records gathered before a page is handed to the engine (a round of a quiet tenant is one page). */
const WINDOW = 2_000;

/** Statuses a delta link can answer when Graph no longer knows it: 410 Gone, or 4xx syncStateNotFound. */
const EXPIRY_STATUSES = [400, 404, 409, 410];
const EXPIRY_CODES = new Set(['syncStateNotFound', 'syncStateInvalid', 'resyncRequired', 'badRequest_ExpiredSyncState']);

export interface GraphDeltaCursor {
  v: 1;
  users: string;
  groups: string;
}

const cursorSchema = z.object({ v: z.literal(1), users: z.string().url(), groups: z.string().url() });

const pageSchema = z.object({
  value: z.array(z.unknown()),
  '@odata.nextLink': z.string().optional(),
  '@odata.deltaLink': z.string().optional(),
});

export interface GraphDeltaOptions {
  http: ProviderHttpClient;
  definition: ProviderDefinition;
  /** The API root this connection reaches (`…/v1.0`); delta links must stay on its origin. */
  baseUrl: string;
  /** The full user, for a delta item that carries only some of its properties. */
  fetchUser: (id: string, signal?: AbortSignal) => Promise<IncomingRecord>;
}

export function graphDelta(options: GraphDeltaOptions): DeltaSource {
  const { http, definition, baseUrl } = options;
  const origin = new URL(baseUrl).origin;
  // Selecting the relations is what makes delta track them: manager on users, members on groups.
  const initial = {
    users: `${baseUrl}/users/delta?$select=${encodeURIComponent(`${GRAPH_USER_SELECT},manager`)}`,
    groups: `${baseUrl}/groups/delta?$select=${encodeURIComponent(`${GRAPH_GROUP_SELECT},members`)}`,
  };

  async function get(url: string, signal: AbortSignal | undefined): Promise<z.infer<typeof pageSchema>> {
    if (new URL(url).origin !== origin) throw new PagingError(`delta link leaves ${origin}`, url);
    const response = await http.request({ url, headers: { accept: 'application/json' }, acceptStatuses: EXPIRY_STATUSES, ...(signal ? { signal } : {}) });
    if (response.status >= 400) {
      const code = errorCode(response.text);
      if (response.status === 410) throw new CursorExpiredError(`Graph answered 410 Gone${code ? ` (${code})` : ''}`);
      if (code !== undefined && EXPIRY_CODES.has(code)) throw new CursorExpiredError(`Graph answered ${response.status} ${code}`);
      throw new PagingError(`microsoft-graph delta: HTTP ${response.status}${code ? ` ${code}` : ''}`, url, response.status);
    }
    const parsed = pageSchema.safeParse(response.json());
    if (!parsed.success) throw new PagingError('microsoft-graph delta: response has no "value" item array', url);
    return parsed.data;
  }

  async function latestLink(resource: 'users' | 'groups', signal?: AbortSignal): Promise<string> {
    const page = await get(`${initial[resource]}&$deltatoken=latest`, signal);
    const link = page['@odata.deltaLink'];
    if (!link) throw new PagingError(`microsoft-graph ${resource} delta: $deltatoken=latest answered no deltaLink`, initial[resource]);
    return link;
  }

  async function userRecords(item: unknown, signal: AbortSignal | undefined): Promise<IncomingRecord[]> {
    if (!isRecord(item) || typeof item.id !== 'string') throw new PagingError('microsoft-graph users delta: an item has no id', baseUrl);
    // Both reasons deactivate. `deleted` is gone for good; `changed` is the recycle bin: restorable for 30
    // days, but the account can no longer sign in and Graph no longer lists it, so keeping it active would
    // grant access to someone the directory has removed. A restore comes back as a plain item and reactivates.
    if (isRecord(item['@removed'])) return [{ kind: 'user', external_id: item.id, deleted: true }];
    // Changed items normally carry every selected property; one that does not (a relation-only change,
    // `return=minimal`) is read whole rather than mapped with gaps that would blank attributes. So is one
    // without `manager@delta`: Graph states the relation when it changes, so its absence says nothing
    // about the manager, and mapping it as none would clear a manager the change did not touch.
    if (typeof item.userPrincipalName !== 'string' || !('manager@delta' in item)) return [await options.fetchUser(item.id, signal)];
    return [await mapUser(definition, asListedUser(item))];
  }

  async function groupRecords(item: unknown): Promise<IncomingRecord[]> {
    if (!isRecord(item) || typeof item.id !== 'string') throw new PagingError('microsoft-graph groups delta: an item has no id', baseUrl);
    if (isRecord(item['@removed'])) return [{ kind: 'group', external_id: item.id, deleted: true }];
    const records: IncomingRecord[] = [];
    const { 'members@delta': members, ...group } = item;
    // A group over several items carries its properties on one of them; the others only add members.
    if (typeof group.displayName === 'string') records.push(await mapGroup(definition, group));
    for (const member of Array.isArray(members) ? members : []) {
      const removed = isRecord(member) && isRecord(member['@removed']);
      const { '@removed': _removed, ...plain } = isRecord(member) ? member : {};
      const mapped = await mapMember(definition, item.id, plain);
      // Users are memberships and groups nestings (as in a full listing); devices and the like stay out.
      if (mapped.kind === 'ignored') continue;
      records.push(removed ? { ...mapped.record, deleted: true, raw: null } : mapped.record);
    }
    return records;
  }

  async function* walk(
    resource: 'users' | 'groups',
    from: string,
    cursorAt: (link: string) => string,
    recordsOf: (item: unknown) => Promise<IncomingRecord[]>,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ChangePage & { deltaLink?: string }> {
    const window = new Map<string, IncomingRecord>();
    let url = from;
    for (;;) {
      const page = await get(url, signal);
      for (const item of page.value) for (const record of await recordsOf(item)) window.set(recordKey(record), record);
      const next = page['@odata.nextLink'];
      const delta = page['@odata.deltaLink'];
      if (next !== undefined) {
        if (next === url) throw new PagingError(`microsoft-graph ${resource} delta: next link repeats ${url}`, url);
        url = next;
        if (window.size >= WINDOW) {
          yield { records: [...window.values()], cursor: cursorAt(next) };
          window.clear();
        }
        continue;
      }
      if (delta === undefined) throw new PagingError(`microsoft-graph ${resource} delta: a page with neither nextLink nor deltaLink`, url);
      yield { records: [...window.values()], cursor: cursorAt(delta), deltaLink: delta };
      return;
    }
  }

  return {
    latest: async (signal) => {
      const [users, groups] = await Promise.all([latestLink('users', signal), latestLink('groups', signal)]);
      return JSON.stringify({ v: 1, users, groups } satisfies GraphDeltaCursor);
    },
    async *changes(cursor, { signal } = {}) {
      const state = readCursor(cursor);
      for await (const page of walk('users', state.users, (users) => JSON.stringify({ ...state, users }), (item) => userRecords(item, signal), signal)) {
        if (page.deltaLink) state.users = page.deltaLink;
        yield { records: page.records, cursor: page.cursor };
      }
      for await (const page of walk('groups', state.groups, (groups) => JSON.stringify({ ...state, groups }), groupRecords, signal)) {
        yield { records: page.records, cursor: page.cursor };
      }
    },
  };
}

/** A stored cursor that cannot be read (another version, corrupted) is one the source cannot resume. */
function readCursor(cursor: string): GraphDeltaCursor {
  try {
    const parsed = cursorSchema.safeParse(JSON.parse(cursor));
    if (parsed.success) return { ...parsed.data };
  } catch {
    // answered below
  }
  throw new CursorExpiredError('the stored delta cursor is not a Graph delta cursor');
}

/**
 * A delta user in the shape a listing gives (`manager` expanded to its id): the same mapping applies, and
 * the stored raw payload is the same whichever way the user was read.
 */
function asListedUser(item: Record<string, unknown>): Record<string, unknown> {
  const { 'manager@delta': managers, ...user } = item;
  if (!Array.isArray(managers)) return user;
  const current = managers.find((entry) => isRecord(entry) && typeof entry.id === 'string' && !isRecord(entry['@removed'])) as Record<string, unknown> | undefined;
  return current ? { ...user, manager: { '@odata.type': '#microsoft.graph.user', id: current.id } } : user;
}

function recordKey(record: IncomingRecord): string {
  return `${record.kind}:${record.external_id}`;
}

function errorCode(text: string): string | undefined {
  try {
    const body: unknown = JSON.parse(text);
    return isRecord(body) && isRecord(body.error) && typeof body.error.code === 'string' ? body.error.code : undefined;
  } catch {
    return undefined;
  }
}
