import { z } from 'zod';
import type { JsonObject } from '../../core/model.ts';
import { jumpCloudApiKey } from '../../sync/credentials/static-header.strategy.ts';
import { fetchJsonVia } from '../../sync/http/fetch-json.ts';
import { throttleProfileFor } from '../../sync/http/throttle-classifiers.ts';
import type { Connector, RecordPage } from '../connector.ts';
import { anchoredOffsetPages } from '../definition/anchored-offset-pager.ts';
import { definitionConnector } from '../definition/definition-connector.ts';
import { getPath } from '../definition/json-path.ts';
import { loadProviderDefinition, type ProviderDefinition } from '../definition/load-provider-definition.ts';
import { mapListedMembers, mapListedPage } from '../definition/mapping-engine.ts';
import type { FetchJson, Page } from '../definition/pager.ts';
import type { PullConnectionType } from '../pull-connection-type.ts';
import { readAhead } from '../read-ahead.ts';
import { jumpCloudDefinition } from './jumpcloud.definition.ts';

const definition = loadProviderDefinition(jumpCloudDefinition);

/** An admin's API key (the console's "API Settings"). */
const credentialsSchema = z.strictObject({
  method: z.literal('api_key'),
  api_key: z.string().min(1).max(512).regex(/^\S+$/, 'must not contain whitespace'),
});

/**
 * For an admin of a multi-tenant portal, the organization to read (sent as `x-org-id`; JumpCloud refuses
 * such a key's calls without it). Not a secret: a setting of the connection.
 */
const settingsSchema = z.strictObject({
  org_id: z
    .string()
    .regex(/^[0-9a-f]{24}$/, 'must be a JumpCloud organization id (24 hex characters)')
    .optional()
    .describe('Only for an API key of a multi-tenant admin: the organization to read.'),
});

/** Every call of the connector names the organization when the credentials do. */
function withOrgId(fetchJson: FetchJson, orgId: string | undefined): FetchJson {
  if (orgId === undefined) return fetchJson;
  return (url, init) => fetchJson(url, { ...init, headers: { ...init.headers, 'x-org-id': orgId } });
}

/** The stable ids the pages are anchored and deduplicated on: the strings at the resource's declared `idPath`. */
function anchorIdOf(definition: ProviderDefinition, resource: 'users' | 'groups' | 'members'): (item: unknown) => string | undefined {
  const idPath = definition.resources[resource]?.idPath;
  return (item) => {
    const id = idPath === undefined ? undefined : getPath(item, idPath);
    return typeof id === 'string' ? id : undefined;
  };
}

/**
 * The definition's connector with its listings paged by anchored offsets: JumpCloud has no cursors, and a
 * scan during which users come and go must neither skip nor invent anyone (see anchored-offset-pager.ts).
 */
export function jumpCloudConnector(options: { definition: ProviderDefinition; settings: Readonly<Record<string, string>>; fetchJson: FetchJson; maxScans?: number }): Connector {
  const { definition: connectionDefinition, settings, fetchJson } = options;
  const base = definitionConnector({ definition: connectionDefinition, config: settings, fetchJson });

  async function* walk(resource: 'users' | 'groups' | 'members', map: (items: unknown[]) => Promise<RecordPage['records']>, page: { checkpoint?: Page['checkpoint'] | undefined; signal?: AbortSignal | undefined }, groupId?: string) {
    const context = { config: settings, groupId, checkpoint: page.checkpoint, signal: page.signal };
    const listing = anchoredOffsetPages(connectionDefinition, resource, context, fetchJson, {
      idOf: anchorIdOf(connectionDefinition, resource),
      // v1 states the listing's size; v2 answers bare arrays.
      totalPath: resource === 'users' ? 'totalCount' : undefined,
      maxScans: options.maxScans,
    });
    // The next page is fetched while this one is mapped and applied.
    for await (const { items, checkpoint } of readAhead(listing)) yield { records: await map(items), checkpoint } satisfies RecordPage;
  }

  return {
    fetchObject: base.fetchObject,
    pages: (resource, page = {}) =>
      walk(resource, (items) => mapListedPage(connectionDefinition, resource, items, page.restated), page),
    // JumpCloud lists user members only; the connector keeps memberships.
    memberPages: (groupId, page = {}) =>
      walk('members', async (items) => (await mapListedMembers(connectionDefinition, groupId, items, page.restated)).filter((record) => record.kind === 'membership'), page, groupId),
  };
}

export const jumpCloudType: PullConnectionType = {
  type: 'jumpcloud',
  displayName: 'JumpCloud',
  description:
    'Roster pulls system users (v1) and user groups with their members (v2) from JumpCloud with an admin API key ' +
    '(and, for a multi-tenant admin, the organization id as the org_id setting). JumpCloud has no delta API: the critical and profile tiers list again. ' +
    'EU organizations set api_base_url to https://console.eu.jumpcloud.com/api.',
  defaultCategory: 'idp',
  settingsSchema,
  supportsDelta: false,
  definition,
  throttle: throttleProfileFor(definition.id, definition.rateLimit),
  credentialsSchema: credentialsSchema as unknown as z.ZodType<JsonObject>,
  awaitsConsent: () => false,
  credentialStrategy: (credentials) => jumpCloudApiKey(String(credentials.api_key)),
  connector: ({ http, definition: connectionDefinition, settings }) =>
    jumpCloudConnector({ definition: connectionDefinition, settings, fetchJson: withOrgId(fetchJsonVia(http), settings.org_id) }),
};
