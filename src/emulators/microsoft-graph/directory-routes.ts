/** Graph's directory reads: users, groups, members, one object by id, a user's manager. */
import { partitionPoint } from '../kit/sorted.ts';
import { GraphApiError, odataUrl } from './http-kit.ts';
import type { OpaqueTokens } from './opaque-tokens.ts';
import { readManagerExpand, readSelection, renderGroup, renderUser, type Selection } from './select.ts';
import type { GraphTenant, MemberType } from './tenant-model.ts';

export interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  readJson: () => Promise<Record<string, unknown>>;
}

export interface ApiResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface DirectoryDeps {
  tenant: GraphTenant;
  tokens: OpaqueTokens;
  /** The emulator's root URL, for `@odata.context` and next links. */
  baseUrl: () => string;
  now: () => number;
}

const NOT_FOUND = (id: string) => new GraphApiError(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);

/** `$top`: 100 by default, at most 999 (Graph refuses more). */
export function readTop(query: URLSearchParams): number {
  const raw = query.get('$top');
  if (raw === null) return 100;
  const top = Number(raw);
  if (!Number.isInteger(top) || top < 1 || top > 999) throw new GraphApiError(400, 'Request_BadRequest', `Invalid page size specified: '${raw}'. Must be between 1 and 999 inclusive.`);
  return top;
}

function refuseUnsupported(query: URLSearchParams): void {
  if (query.has('$skip')) throw new GraphApiError(400, 'Request_BadRequest', "'$skip' is not supported by the service.");
}

/**
 * One page of live ids after the skip token's position. Ids are listed in ascending order and a page
 * resumes strictly after the last id it returned, so objects added or removed meanwhile are neither
 * repeated nor make others skipped. Only the ids from the position on are looked at, up to one past the
 * page (is there a next one?), so a listing costs what it returns, as a real service's index does.
 */
function pageOf(
  deps: DirectoryDeps,
  ids: readonly string[],
  isLive: (id: string) => boolean,
  query: URLSearchParams,
  scope: string,
): { page: string[]; nextAfter?: string } {
  const top = readTop(query);
  const skiptoken = query.get('$skiptoken');
  let after: string | undefined;
  if (skiptoken !== null) {
    const cursor = deps.tokens.read<{ after: string; scope: string }>(skiptoken);
    if (!cursor || cursor.scope !== scope) throw new GraphApiError(400, 'Request_BadRequest', 'Invalid skip token.');
    after = cursor.after;
  }
  const bound = after;
  const page: string[] = [];
  for (let i = bound === undefined ? 0 : partitionPoint(ids.length, (k) => ids[k]! <= bound); i < ids.length; i += 1) {
    if (!isLive(ids[i]!)) continue;
    if (page.length === top) return { page, nextAfter: page[page.length - 1]! };
    page.push(ids[i]!);
  }
  return { page };
}

/** The next link repeats the request's query with a new `$skiptoken`. */
function nextLink(deps: DirectoryDeps, request: ApiRequest, after: string, scope: string): string {
  const params = [...request.query].filter(([name]) => name !== '$skiptoken');
  return odataUrl(`${deps.baseUrl()}${request.path}`, [...params, ['$skiptoken', deps.tokens.issue({ after, scope })]]);
}

function context(deps: DirectoryDeps, entitySet: string, selection: Selection): string {
  return `${deps.baseUrl()}/v1.0/$metadata#${entitySet}${selection.explicit ? `(${selection.properties.join(',')})` : ''}`;
}

function userWithManager(deps: DirectoryDeps, id: string, selection: Selection, manager: Selection | undefined): Record<string, unknown> {
  const user = deps.tenant.findUser(id)!;
  const out = renderUser(user, selection);
  if (manager) {
    const boss = deps.tenant.managerOf(user.id);
    // A user without a manager has no `manager` property at all.
    if (boss) out.manager = { '@odata.type': '#microsoft.graph.user', ...renderUser(boss, manager) };
  }
  return out;
}

function listUsers(deps: DirectoryDeps, request: ApiRequest): ApiResult {
  refuseUnsupported(request.query);
  const selection = readSelection(request.query, 'user', false);
  const manager = readManagerExpand(request.query);
  const scope = `users|${request.query.get('$select') ?? ''}|${request.query.get('$expand') ?? ''}`;
  const { page, nextAfter } = pageOf(deps, deps.tenant.userIds(), (id) => deps.tenant.findUser(id) !== undefined, request.query, scope);
  const body: Record<string, unknown> = { '@odata.context': context(deps, 'users', selection) };
  if (nextAfter !== undefined) body['@odata.nextLink'] = nextLink(deps, request, nextAfter, scope);
  body.value = page.map((id) => userWithManager(deps, id, selection, manager));
  return { status: 200, body };
}

function getUser(deps: DirectoryDeps, request: ApiRequest, params: Record<string, string>): ApiResult {
  const user = deps.tenant.findUser(params.id!);
  if (!user) throw NOT_FOUND(params.id!);
  const selection = readSelection(request.query, 'user', false);
  const body = { '@odata.context': `${context(deps, 'users', selection)}/$entity`, ...userWithManager(deps, user.id, selection, readManagerExpand(request.query)) };
  return { status: 200, body };
}

function getManager(deps: DirectoryDeps, request: ApiRequest, params: Record<string, string>): ApiResult {
  const user = deps.tenant.findUser(params.id!);
  if (!user) throw NOT_FOUND(params.id!);
  const boss = deps.tenant.managerOf(user.id);
  if (!boss) throw NOT_FOUND('manager');
  const selection = readSelection(request.query, 'user', false);
  return { status: 200, body: { '@odata.context': `${deps.baseUrl()}/v1.0/$metadata#directoryObjects/$entity`, '@odata.type': '#microsoft.graph.user', ...renderUser(boss, selection) } };
}

function listGroups(deps: DirectoryDeps, request: ApiRequest): ApiResult {
  refuseUnsupported(request.query);
  const selection = readSelection(request.query, 'group', false);
  const scope = `groups|${request.query.get('$select') ?? ''}`;
  const { page, nextAfter } = pageOf(deps, deps.tenant.groupIds(), (id) => deps.tenant.findGroup(id) !== undefined, request.query, scope);
  const body: Record<string, unknown> = { '@odata.context': context(deps, 'groups', selection) };
  if (nextAfter !== undefined) body['@odata.nextLink'] = nextLink(deps, request, nextAfter, scope);
  body.value = page.map((id) => renderGroup(deps.tenant.findGroup(id)!, selection));
  return { status: 200, body };
}

function getGroup(deps: DirectoryDeps, request: ApiRequest, params: Record<string, string>): ApiResult {
  const group = deps.tenant.findGroup(params.id!);
  if (!group) throw NOT_FOUND(params.id!);
  const selection = readSelection(request.query, 'group', false);
  return { status: 200, body: { '@odata.context': `${context(deps, 'groups', selection)}/$entity`, ...renderGroup(group, selection) } };
}

/** Live members (deleted users are not listed), direct or flattened through nested groups. */
function liveMembers(tenant: GraphTenant, groupId: string, transitive: boolean, seen = new Set<string>()): Map<string, MemberType> {
  seen.add(groupId);
  const out = new Map<string, MemberType>();
  for (const member of tenant.membersOf(groupId)) {
    if (member.type === 'user' ? !tenant.findUser(member.id) : !tenant.findGroup(member.id)) continue;
    out.set(member.id, member.type);
    if (transitive && member.type === 'group' && !seen.has(member.id)) {
      for (const [id, type] of liveMembers(tenant, member.id, true, seen)) out.set(id, type);
    }
  }
  return out;
}

/** A group's live members, ascending by id, as of one tenant version. */
interface MemberListing {
  version: number;
  ids: string[];
  types: Map<string, MemberType>;
}

/** Listings kept per tenant: the pages of one group's listing flatten and sort its members once. */
const MEMBER_LISTINGS_KEPT = 64;
const memberListings = new WeakMap<GraphTenant, Map<string, MemberListing>>();

function memberListing(tenant: GraphTenant, groupId: string, transitive: boolean): MemberListing {
  let listings = memberListings.get(tenant);
  if (!listings) memberListings.set(tenant, (listings = new Map()));
  const key = `${transitive ? 'transitive' : 'direct'}|${groupId}`;
  const cached = listings.get(key);
  if (cached && cached.version === tenant.version) return cached;
  if (listings.size >= MEMBER_LISTINGS_KEPT) listings.clear();
  const types = liveMembers(tenant, groupId, transitive);
  const listing = { version: tenant.version, ids: [...types.keys()].sort(), types };
  listings.set(key, listing);
  return listing;
}

function listMembers(transitive: boolean) {
  return (deps: DirectoryDeps, request: ApiRequest, params: Record<string, string>): ApiResult => {
    refuseUnsupported(request.query);
    const group = deps.tenant.findGroup(params.id!);
    if (!group) throw NOT_FOUND(params.id!);
    const { ids, types: members } = memberListing(deps.tenant, group.id, transitive);
    // Members are directoryObjects: $select names properties of either type, each rendered with what it has.
    const userSelection = readSelection(request.query, 'user', false);
    const groupSelection = request.query.has('$select') ? { ...userSelection, properties: userSelection.properties.filter((p) => ['id', 'displayName', 'mail'].includes(p)) } : readSelection(new URLSearchParams(), 'group', false);
    const scope = `${transitive ? 'transitive' : 'members'}|${group.id}|${request.query.get('$select') ?? ''}`;
    const { page, nextAfter } = pageOf(deps, ids, () => true, request.query, scope);
    const body: Record<string, unknown> = { '@odata.context': `${deps.baseUrl()}/v1.0/$metadata#directoryObjects` };
    if (nextAfter !== undefined) body['@odata.nextLink'] = nextLink(deps, request, nextAfter, scope);
    body.value = page.map((id) =>
      members.get(id) === 'user'
        ? { '@odata.type': '#microsoft.graph.user', ...renderUser(deps.tenant.findUser(id)!, userSelection) }
        : { '@odata.type': '#microsoft.graph.group', ...renderGroup(deps.tenant.findGroup(id)!, groupSelection) },
    );
    return { status: 200, body };
  };
}

export interface Route {
  method: string;
  pattern: string;
  handle: (deps: DirectoryDeps, request: ApiRequest, params: Record<string, string>) => ApiResult | Promise<ApiResult>;
}

export const DIRECTORY_ROUTES: Route[] = [
  { method: 'GET', pattern: '/v1.0/users', handle: listUsers },
  { method: 'GET', pattern: '/v1.0/users/:id', handle: getUser },
  { method: 'GET', pattern: '/v1.0/users/:id/manager', handle: getManager },
  { method: 'GET', pattern: '/v1.0/groups', handle: listGroups },
  { method: 'GET', pattern: '/v1.0/groups/:id', handle: getGroup },
  { method: 'GET', pattern: '/v1.0/groups/:id/members', handle: listMembers(false) },
  { method: 'GET', pattern: '/v1.0/groups/:id/transitiveMembers', handle: listMembers(true) },
];
