import type { Connector, PageOptions, RecordPage } from '../connector.ts';
import { readAhead } from '../read-ahead.ts';
import { ITEM_ID_PLACEHOLDER, type ProviderDefinition } from './load-provider-definition.ts';
import { mapGroup, mapListedMembers, mapListedPage, mapUser } from './mapping-engine.ts';
import { pages, PagingError, resourceUrl, type FetchJson } from './pager.ts';

export interface DefinitionConnectorOptions {
  definition: ProviderDefinition;
  /** The connection's settings, filling the definition's `{placeholders}`. */
  config: Readonly<Record<string, string>>;
  /** The connection's provider HTTP client (auth, pacing, retries), as the pager sees it. */
  fetchJson: FetchJson;
}

/**
 * Pages read ahead of the one being mapped and applied. A listing pages by cursor, one request after the
 * other; reading several ahead keeps the provider answering while Roster applies a batch, instead of
 * leaving it idle until the next page is asked for.
 */
const PAGES_READ_AHEAD = 8;

/**
 * Maps a page's items one after the other. JSONata evaluates asynchronously, node by node; started all at
 * once, a page's evaluations interleave and keep each other's intermediate values alive, which costs
 * about three times as much as evaluating them in turn. (Listed users and groups: `mapListedPage`.)
 */
async function mapEach<T>(items: unknown[], map: (item: unknown) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (const item of items) out.push(await map(item));
  return out;
}

/**
 * A connector made of a provider definition alone: the pager walks the definition's resources, the
 * mapping engine turns each item into a source record, and `itemPath` fetches one object.
 */
export function definitionConnector(options: DefinitionConnectorOptions): Omit<Connector, 'push'> {
  const { definition, config, fetchJson } = options;

  async function* walk(resource: 'users' | 'deletedUsers' | 'groups' | 'members', map: (items: unknown[]) => Promise<RecordPage['records']>, page: PageOptions, groupId?: string) {
    const context = { config, groupId, checkpoint: page.checkpoint, signal: page.signal };
    for await (const { items, checkpoint } of readAhead(pages(definition, resource, context, fetchJson), PAGES_READ_AHEAD)) {
      yield { records: await map(items), checkpoint } satisfies RecordPage;
    }
  }

  return {
    pages: (resource, page = {}) => walk(resource, (items) => mapListedPage(definition, resource, items, page.restated), page),
    // A definition that declares deleted users (Google showDeleted=true) lists them, as tombstones.
    ...(definition.resources.deletedUsers
      ? { deletedUsers: (page: PageOptions = {}) => walk('deletedUsers', (items) => mapEach(items, (item) => mapUser(definition, item, 'deletedUsers')), page) }
      : {}),
    // Users are memberships and groups nestings; members that are neither (Google CUSTOMER) stay out.
    memberPages: (groupId, page = {}) => walk('members', (items) => mapListedMembers(definition, groupId, items, page.restated), page, groupId),
    fetchObject: async (kind, externalId, signal) => {
      const resource = definition.resources[kind === 'user' ? 'users' : 'groups'];
      if (resource?.itemPath === undefined) throw new Error(`Provider "${definition.id}" cannot fetch one ${kind} (no itemPath)`);
      const values = { ...config, [ITEM_ID_PLACEHOLDER]: externalId };
      const url = resourceUrl(definition, resource.itemPath, resource.itemParams, values);
      const response = await fetchJson(url.href, { method: 'GET', headers: { accept: 'application/json' }, signal, acceptStatuses: [404] });
      // Asked by its id, the source says the object does not exist: that is a statement, not an absence.
      if (response.status === 404) return { kind, external_id: externalId, deleted: true };
      if (response.status < 200 || response.status > 299) throw new PagingError(`${definition.id} ${kind} ${externalId}: HTTP ${response.status}`, url.href, response.status);
      return kind === 'user' ? mapUser(definition, response.body) : mapGroup(definition, response.body);
    },
  };
}
