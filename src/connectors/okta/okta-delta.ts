import { z } from 'zod';
import type { IncomingRecord } from '../../reconcile/incoming.ts';
import { isNotFound } from '../../sync/sync-errors.ts';
import { CursorExpiredError, type ChangePage, type Connector, type DeltaSource } from '../connector.ts';
import { ITEM_ID_PLACEHOLDER, type ProviderDefinition } from '../definition/load-provider-definition.ts';
import { mapGroup, mapUser } from '../definition/mapping-engine.ts';
import { headerValue, PagingError, requireResource, resourceUrl, type FetchJson } from '../definition/pager.ts';
import { type ResourceName } from '../definition/provider-definition.ts';
import { expandTemplate } from '../definition/url-template.ts';
import { SYNCED_GROUP_TYPES } from './okta.definition.ts';
import { linkPages } from './okta-link-pages.ts';
import { pollSystemLog, systemLogUrl } from './okta-system-log.ts';

/**
 * Okta's changes since a cursor, from three sources:
 * - `filter=lastUpdated gt "…"` on /users, which (being a filter) lists every status, DEPROVISIONED included;
 * - `lastUpdated gt … or lastMembershipUpdated gt …` on /groups; a group whose membership moved is listed
 *   again in full and named in `completeGroups`, so memberships it no longer states are removed;
 * - the System Log, for what no listing can show: a user or group deleted for good (fetched by id, Okta
 *   answers 404, a tombstone), and as a cross-check of the listings (named objects are fetched).
 *
 * The cursor is JSON: the newest `lastUpdated` seen of users and of groups (Okta's own times, so clocks
 * need not agree) and the System Log's next link. The listings ask for what is newer than those times; a
 * change they miss all the same (one committed in the millisecond of the newest seen, or committed late)
 * is in the log, which comes after the cursor's link, and whatever it names is fetched.
 */

export const OKTA_CURSOR_VERSION = 1;

const cursorSchema = z.strictObject({
  v: z.literal(OKTA_CURSOR_VERSION),
  users: z.iso.datetime(),
  groups: z.iso.datetime(),
  log: z.url(),
});
export type OktaDeltaCursor = z.infer<typeof cursorSchema>;

/**
 * `latest()` starts this far before Okta's now: what changes while a full run starts is read again,
 * harmlessly, and the `Date` header Okta's now is read from counts whole seconds.
 */
export const LOOKBACK_MS = 10_000;
/** The System Log keeps 90 days; a cursor near that no longer covers what happened since. */
const LOG_RETENTION_MS = 89 * 24 * 3600_000;
/** Objects fetched by id are yielded in pages of this many. */
const FETCH_PAGE = 100;

export interface OktaDeltaOptions {
  definition: ProviderDefinition;
  config: Readonly<Record<string, string>>;
  fetchJson: FetchJson;
  /** For members listings and fetches by id, mapped as the definition connector maps them. */
  connector: Pick<Connector, 'memberPages' | 'fetchObject'>;
  now?: () => number;
}

export function encodeCursor(cursor: OktaDeltaCursor): string {
  return JSON.stringify(cursor);
}

export function decodeCursor(text: string): OktaDeltaCursor | undefined {
  try {
    const parsed = cursorSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const later = (a: string, b: string | undefined) => (b !== undefined && Date.parse(b) > Date.parse(a) ? b : a);

export function oktaDeltaSource(options: OktaDeltaOptions): DeltaSource {
  const { definition, config, fetchJson, connector } = options;
  const now = options.now ?? Date.now;
  const apiBaseUrl = expandTemplate(definition.baseUrl, config);

  async function* changes(text: string, { signal }: { signal?: AbortSignal } = {}): AsyncGenerator<ChangePage, void, undefined> {
    const cursor = decodeCursor(text);
    if (!cursor) throw new CursorExpiredError('the cursor is not an Okta cursor this version reads');
    if (new URL(cursor.log).origin !== new URL(apiBaseUrl).origin) throw new CursorExpiredError('the cursor belongs to another Okta API root');
    if (Math.min(Date.parse(cursor.users), Date.parse(cursor.groups)) < now() - LOG_RETENTION_MS) {
      throw new CursorExpiredError('the cursor is older than the System Log keeps events (90 days)');
    }
    // Until the round ends, every page resumes at the round's start: reading it again changes nothing.
    const page = (records: IncomingRecord[], completeGroups?: string[]): ChangePage => ({ records, cursor: text, ...(completeGroups ? { completeGroups } : {}) });

    let log: Awaited<ReturnType<typeof pollSystemLog>>;
    try {
      log = await pollSystemLog(fetchJson, cursor.log, signal);
    } catch (error) {
      if (error instanceof PagingError && error.status === 400) throw new CursorExpiredError('the System Log refused the cursor');
      throw error;
    }

    let usersSeen = cursor.users;
    const seenUsers = new Set<string>();
    const usersUrl = firstPageUrl(definition, 'users', config, { filter: `lastUpdated gt "${cursor.users}"` });
    for await (const listed of linkPages(fetchJson, usersUrl, signal)) {
      const records: IncomingRecord[] = [];
      for (const item of listed.items) {
        records.push(await mapUser(definition, item));
        seenUsers.add(records[records.length - 1]!.external_id);
        usersSeen = later(usersSeen, (item as { lastUpdated?: string }).lastUpdated);
      }
      yield page(records);
    }
    // Named by the log but not listed: deleted for good (404, a tombstone), or changed too late for the listing.
    const toFetch = [...log.changes.users].filter((id) => !seenUsers.has(id));
    for (let start = 0; start < toFetch.length; start += FETCH_PAGE) {
      const records: IncomingRecord[] = [];
      for (const id of toFetch.slice(start, start + FETCH_PAGE)) records.push(await connector.fetchObject('user', id, signal));
      yield page(records);
    }

    let groupsSeen = cursor.groups;
    const seenGroups = new Set<string>();
    const relist = new Set<string>();
    const since = cursor.groups;
    const groupsUrl = firstPageUrl(definition, 'groups', config, { filter: `(${SYNCED_GROUP_TYPES}) and (lastUpdated gt "${since}" or lastMembershipUpdated gt "${since}")` });
    for await (const listed of linkPages(fetchJson, groupsUrl, signal)) {
      const records: IncomingRecord[] = [];
      for (const item of listed.items) {
        const group = item as { id?: string; lastUpdated?: string; lastMembershipUpdated?: string };
        records.push(await mapGroup(definition, item));
        if (typeof group.id === 'string') seenGroups.add(group.id);
        if (group.lastMembershipUpdated !== undefined && Date.parse(group.lastMembershipUpdated) > Date.parse(since)) relist.add(group.id!);
        groupsSeen = later(later(groupsSeen, group.lastUpdated), group.lastMembershipUpdated);
      }
      yield page(records);
    }
    const namedGroups = [...new Set([...log.changes.groups, ...log.changes.memberships])].filter((id) => !seenGroups.has(id));
    for (let start = 0; start < namedGroups.length; start += FETCH_PAGE) {
      const records: IncomingRecord[] = [];
      for (const id of namedGroups.slice(start, start + FETCH_PAGE)) {
        const fetched = await fetchGroup(id, signal);
        if (fetched === 'not_synced') continue;
        records.push(fetched);
        if (!fetched.deleted && log.changes.memberships.has(id)) relist.add(id);
      }
      yield page(records);
    }

    for (const groupId of [...relist].sort()) {
      try {
        let last: IncomingRecord[] | undefined;
        for await (const members of connector.memberPages(groupId, { signal })) {
          if (last) yield page(last);
          last = members.records;
        }
        // The last page says the group's member list is complete: what it did not state is gone.
        yield page(last ?? [], [groupId]);
      } catch (error) {
        // Deleted since it was listed: its memberships go with the group.
        if (!isNotFound(error)) throw error;
      }
    }

    yield { records: [], cursor: encodeCursor({ v: OKTA_CURSOR_VERSION, users: usersSeen, groups: groupsSeen, log: log.next }) };
  }

  /** One group by id: a record, a tombstone (404), or `not_synced` for a type Roster leaves out (BUILT_IN). */
  async function fetchGroup(id: string, signal: AbortSignal | undefined): Promise<IncomingRecord | 'not_synced'> {
    const itemPath = definition.resources.groups?.itemPath ?? '/groups/{id}';
    const url = apiBaseUrl + expandTemplate(itemPath, { ...config, [ITEM_ID_PLACEHOLDER]: id });
    const response = await fetchJson(url, { method: 'GET', headers: { accept: 'application/json' }, signal, acceptStatuses: [404] });
    if (response.status === 404) return { kind: 'group', external_id: id, deleted: true };
    if (response.status < 200 || response.status > 299) throw new PagingError(`okta group ${id}: HTTP ${response.status}`, url, response.status);
    const type = (response.body as { type?: unknown } | null)?.type;
    if (type !== 'OKTA_GROUP' && type !== 'APP_GROUP') return 'not_synced';
    return mapGroup(definition, response.body);
  }

  /** Okta's time, from the `Date` header of a one-user listing; this machine's when Okta sends none. */
  async function oktaNow(signal: AbortSignal | undefined): Promise<number> {
    const response = await fetchJson(`${apiBaseUrl}/users?limit=1`, { method: 'GET', headers: { accept: 'application/json' }, ...(signal ? { signal } : {}) });
    const stated = Date.parse(headerValue(response.headers, 'date') ?? '');
    return Number.isNaN(stated) ? now() : stated;
  }

  return {
    latest: async (signal) => {
      // Okta's clock, not this one: a cursor ahead of Okta's would skip what changed in between, in the
      // listings' filters and in the log alike.
      const from = new Date((await oktaNow(signal)) - LOOKBACK_MS).toISOString();
      return encodeCursor({ v: OKTA_CURSOR_VERSION, users: from, groups: from, log: systemLogUrl(apiBaseUrl, from) });
    },
    changes,
  };
}

/** The first page of a resource's listing with some parameters replaced (a `filter`), as the pager would start it. */
function firstPageUrl(definition: ProviderDefinition, resource: ResourceName, config: Readonly<Record<string, string>>, extraParams: Record<string, string> = {}): string {
  const spec = requireResource(definition, resource);
  return resourceUrl(definition, spec.path, { ...spec.params, ...extraParams }, config).href;
}
