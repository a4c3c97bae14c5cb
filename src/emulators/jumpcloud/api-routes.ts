import type { DriftSwitch } from './drift.ts';
import { JumpCloudApiError, matchPath, OBJECT_ID } from './http-kit.ts';
import { projectFields, readFilter, readPaging, readSearch, sortItems, type ListOptions } from './list-query.ts';
import type { JumpCloudOrg, SystemUser } from './org-model.ts';

/** v1 (`/api/…`) system users and v2 (`/api/v2/…`) user groups, as JumpCloud serves them. */

export interface ApiDeps {
  org: JumpCloudOrg;
  drift: DriftSwitch;
  list: ListOptions;
}

export interface ApiRequest {
  query: URLSearchParams;
}

export interface ApiRoute {
  method: 'GET';
  pattern: string;
  handle: (deps: ApiDeps, request: ApiRequest, params: Record<string, string>) => unknown;
}

const SEARCH_FIELDS = ['username', 'email', 'firstname', 'lastname', 'displayname'] as const;

function requireObjectId(id: string, what: string): string {
  if (!OBJECT_ID.test(id)) throw new JumpCloudApiError(400, `invalid ${what} id "${id}"`);
  return id;
}

/**
 * The last systemusers listing computed, per org: pages of one scan ask the same filter, search and sort
 * of an unchanged org, so only the first filters and sorts every user; a change to the org (its version)
 * or another query computes it again.
 */
const userListings = new WeakMap<object, { key: string; sorted: Record<string, unknown>[] }>();

function listSystemUsers(deps: ApiDeps, { query }: ApiRequest): unknown {
  deps.drift.beforeList('systemusers');
  const { limit, skip } = readPaging(query, deps.list);
  const filter = readFilter(query, 'v1');
  const search = readSearch(query, SEARCH_FIELDS);
  // Everything that shapes the listing (filter, filter[n], filter[or][n], search, sort), not the page or projection.
  const key = JSON.stringify([deps.org.version, [...query].filter(([name]) => name !== 'skip' && name !== 'limit' && name !== 'fields')]);
  let listing = userListings.get(deps.org);
  if (listing?.key !== key) {
    const matching = deps.org.listUsers().filter((user) => filter(user as unknown as Record<string, unknown>) && search(user as unknown as Record<string, unknown>));
    listing = { key, sorted: sortItems(matching as unknown as Record<string, unknown>[], query.get('sort')) };
    userListings.set(deps.org, listing);
  }
  const fields = query.get('fields');
  return {
    totalCount: listing.sorted.length,
    results: listing.sorted.slice(skip, skip + limit).map((user) => projectFields(user, fields)),
  };
}

function getSystemUser(deps: ApiDeps, { query }: ApiRequest, params: Record<string, string>): unknown {
  const user = deps.org.user(requireObjectId(params.id!, 'systemuser'));
  if (!user) throw new JumpCloudApiError(404, 'systemuser not found');
  return projectFields(user as unknown as Record<string, unknown>, query.get('fields'));
}

function listUserGroups(deps: ApiDeps, { query }: ApiRequest): unknown {
  deps.drift.beforeList('usergroups');
  const { limit, skip } = readPaging(query, deps.list);
  const filter = readFilter(query, 'v2');
  const groups = deps.org.listGroups().filter((group) => filter(group as unknown as Record<string, unknown>));
  const fields = query.get('fields');
  return sortItems(groups as unknown as Record<string, unknown>[], query.get('sort'))
    .slice(skip, skip + limit)
    .map((group) => projectFields(group, fields));
}

function requireGroup(deps: ApiDeps, id: string) {
  const group = deps.org.group(requireObjectId(id, 'usergroup'));
  if (!group) throw new JumpCloudApiError(404, 'usergroup not found');
  return group;
}

/** Direct members as graph connections, in the order they were added (the members list takes no sort). */
function listMembers(deps: ApiDeps, { query }: ApiRequest, params: Record<string, string>): unknown {
  const group = requireGroup(deps, params.id!);
  const { limit, skip } = readPaging(query, deps.list);
  return deps.org
    .membersOf(group.id)
    .slice(skip, skip + limit)
    .map((id) => ({ attributes: null, to: { attributes: null, id, type: 'user' } }));
}

/** Resolved members: for static groups the same users, each with the path that makes them one. */
function listMembership(deps: ApiDeps, { query }: ApiRequest, params: Record<string, string>): unknown {
  const group = requireGroup(deps, params.id!);
  const { limit, skip } = readPaging(query, deps.list);
  return deps.org
    .membersOf(group.id)
    .slice(skip, skip + limit)
    .map((id) => ({ id, type: 'user', compiledAttributes: {}, paths: [[{ attributes: null, to: { attributes: null, id, type: 'user' } }]] }));
}

function listMemberOf(deps: ApiDeps, { query }: ApiRequest, params: Record<string, string>): unknown {
  const user: SystemUser | undefined = deps.org.user(requireObjectId(params.id!, 'user'));
  if (!user) throw new JumpCloudApiError(404, 'user not found');
  const { limit, skip } = readPaging(query, deps.list);
  return deps.org
    .groupsOf(user._id)
    .slice(skip, skip + limit)
    .map((id) => ({ id, type: 'user_group', compiledAttributes: {}, paths: [[{ attributes: null, to: { attributes: null, id, type: 'user_group' } }]] }));
}

export const API_ROUTES: ApiRoute[] = [
  { method: 'GET', pattern: '/api/systemusers', handle: listSystemUsers },
  { method: 'GET', pattern: '/api/systemusers/:id', handle: getSystemUser },
  { method: 'GET', pattern: '/api/v2/usergroups', handle: listUserGroups },
  { method: 'GET', pattern: '/api/v2/usergroups/:id', handle: (deps, request, params) => projectFields(requireGroup(deps, params.id!) as unknown as Record<string, unknown>, request.query.get('fields')) },
  { method: 'GET', pattern: '/api/v2/usergroups/:id/members', handle: listMembers },
  { method: 'GET', pattern: '/api/v2/usergroups/:id/membership', handle: listMembership },
  { method: 'GET', pattern: '/api/v2/users/:id/memberof', handle: listMemberOf },
];

/** The route for a request; `method-not-allowed` when the path exists under another method. */
export function findApiRoute(method: string, path: string): { route: ApiRoute; params: Record<string, string> } | 'method-not-allowed' | undefined {
  // JumpCloud's v1 paths answer with or without a trailing slash (`/api/commands/` is documented).
  const normalized = path.length > 1 ? path.replace(/\/+$/, '') : path;
  let pathMatched = false;
  for (const route of API_ROUTES) {
    const params = matchPath(route.pattern, normalized);
    if (!params) continue;
    pathMatched = true;
    if (route.method === method) return { route, params };
  }
  return pathMatched ? 'method-not-allowed' : undefined;
}
