import type { JsonObject } from '../src/core/model.ts';
import { definitionSpecOf, loadProviderDefinition, type ProviderDefinition } from '../src/connectors/definition/load-provider-definition.ts';
import type { FetchJson, Page } from '../src/connectors/definition/pager.ts';
import { readConnectionConfig } from '../src/connectors/pull-connection-type.ts';
import { pullConnectionType } from '../src/connectors/pull-connection-types.ts';
import { readInTurn } from '../src/connectors/read-ahead.ts';
import { TokenManager } from '../src/sync/credentials/token-manager.ts';
import { GROUPS_READ_AT_ONCE } from '../src/sync/run-execution.ts';
import { fetchJsonVia } from '../src/sync/http/fetch-json.ts';
import { ProviderHttpClient } from '../src/sync/http/provider-http-client.ts';

/** What the floor reads a provider with: its definition at the emulator and an authorized provider client. */
export interface PullSource {
  definition: ProviderDefinition;
  /** The connection's settings, filling the definition's placeholders. */
  config: Readonly<Record<string, string>>;
  fetchJson: FetchJson;
}

/** A pull connection as the API creates one. */
export interface ConnectionBody {
  type: string;
  name: string;
  config: Record<string, unknown>;
  credentials: JsonObject;
}

/**
 * The source a connection of this body would read: its type's definition at the connection's API root, its
 * type's credential strategy behind a token manager, and a provider client with its type's throttle profile
 * (the engine's default of 4 requests in flight), as ConnectionRuntimes builds them.
 */
export function connectionSource(body: ConnectionBody, label: string): PullSource {
  const type = pullConnectionType(body.type);
  if (!type) throw new Error(`'${body.type}' is not a pull connection type`);
  const { settings, endpoints } = readConnectionConfig(type, body.config);
  const definition = loadProviderDefinition({ ...definitionSpecOf(type.definition), baseUrl: endpoints.apiBaseUrl });
  const tokens = new TokenManager({
    strategy: type.credentialStrategy(body.credentials, { http: new ProviderHttpClient({ maxConcurrent: 2 }), endpoints, onRefreshTokenRotated: async () => {} }),
  });
  const http = new ProviderHttpClient({ label, throttle: type.throttle, authorize: () => tokens.getAuthHeader(), onUnauthorized: () => tokens.invalidate() });
  return { definition, config: settings, fetchJson: fetchJsonVia(http) };
}

/** The listings a full run makes, in its order, as pages of raw items. */
export interface FloorPlan {
  /** Listings of users, one after the other (Okta: the plain list, then the DEPROVISIONED users). */
  userListings: Array<() => AsyncIterable<Page>>;
  /** A listed user the sync keeps (Google: one not deleted); every one by default. */
  keepsUser?: (item: unknown) => boolean;
  /** The id of a listed user a change round may edit, undefined for one it leaves alone. */
  changeableUserId?: (item: unknown) => string | undefined;
  groups: () => AsyncIterable<Page>;
  groupId: (item: unknown) => string;
  members: (groupId: string) => AsyncIterable<Page>;
  /** A member the sync keeps as a membership: a person, not a nested group or a device. */
  isUserMember: (item: unknown) => boolean;
}

export interface FloorResult {
  seconds: number;
  requests: number;
  users: number;
  groups: number;
  /** The memberships a sync keeps. */
  userMemberships: number;
  secondsByResource: Record<string, number>;
  requestsByResource: Record<string, number>;
  /** Users a change round may edit, in listing order. */
  changeableUserIds: string[];
}

/** Every page the sync reads, in the same order, fetched and parsed; nothing mapped, nothing stored. */
export async function floor(plan: FloorPlan): Promise<FloorResult> {
  const result: FloorResult = { seconds: 0, requests: 0, users: 0, groups: 0, userMemberships: 0, secondsByResource: {}, requestsByResource: {}, changeableUserIds: [] };
  const keeps = plan.keepsUser ?? (() => true);
  const started = performance.now();
  let mark = started;
  let requestsBefore = 0;
  const lap = (resource: string) => {
    const now = performance.now();
    result.secondsByResource[resource] = (now - mark) / 1000;
    result.requestsByResource[resource] = result.requests - requestsBefore;
    mark = now;
    requestsBefore = result.requests;
  };
  for (const listing of plan.userListings) {
    for await (const page of listing()) {
      result.requests++;
      for (const item of page.items) {
        if (!keeps(item)) continue;
        result.users++;
        const id = plan.changeableUserId?.(item);
        if (id !== undefined) result.changeableUserIds.push(id);
      }
    }
  }
  lap('users');
  const groupIds: string[] = [];
  for await (const page of plan.groups()) {
    result.requests++;
    for (const group of page.items) groupIds.push(plan.groupId(group));
  }
  result.groups = groupIds.length;
  lap('groups');
  // As many groups at once as the engine reads: the floor is the same reading as the sync's.
  const memberPages = readInTurn(
    groupIds.map((groupId) => () => plan.members(groupId)),
    GROUPS_READ_AT_ONCE,
  );
  for await (const page of memberPages) {
    result.requests++;
    result.userMemberships += page.items.filter(plan.isUserMember).length;
  }
  lap('members');
  result.seconds = (performance.now() - started) / 1000;
  return result;
}
