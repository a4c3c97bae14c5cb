import { checkFilter, matchesFilter, parseFilter, readField, type AllowedFilters, type FilterNode } from './filter-expression.ts';
import { matchPath, OKTA_ERRORS } from './http-kit.ts';
import type { EventHooks } from './event-hooks.ts';
import { lowerBound } from '../kit/sorted.ts';
import type { OktaGroup, OktaOrg, OktaUser } from './org-model.ts';
import type { SystemLog } from './system-log.ts';

export interface ApiResult {
  status: number;
  body?: unknown;
  /** Link headers go out as separate header lines, as Okta sends them. */
  links?: string[];
}

export interface ApiDeps {
  org: OktaOrg;
  log: SystemLog;
  hooks: EventHooks;
  baseUrl: () => string;
}

export interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  readJson: () => Promise<Record<string, unknown>>;
}

export interface ApiRoute {
  method: string;
  pattern: string;
  /** The OAuth scope a bearer token needs (its `.manage` twin also does). */
  scope: string;
  handle: (deps: ApiDeps, request: ApiRequest, params: Record<string, string>) => Promise<ApiResult> | ApiResult;
}

/** `filter` on /users: only these fields, only eq, except lastUpdated's range operators. */
const USER_FILTERS: AllowedFilters = {
  status: ['eq'],
  lastUpdated: ['gt', 'ge', 'lt', 'le'],
  id: ['eq'],
  'profile.login': ['eq'],
  'profile.email': ['eq'],
  'profile.firstName': ['eq'],
  'profile.lastName': ['eq'],
};

/** `search` on /users reaches every profile attribute with more operators. */
const USER_SEARCH: AllowedFilters = Object.fromEntries(
  ['status', 'lastUpdated', 'created', 'activated', 'statusChanged', 'lastLogin', 'id', 'type.id', 'profile.*'].map((field) => [field, ['eq', 'ne', 'sw', 'co', 'gt', 'ge', 'lt', 'le', 'pr'] as const]),
);

const GROUP_FILTERS: AllowedFilters = {
  id: ['eq'],
  type: ['eq'],
  lastUpdated: ['gt', 'ge', 'lt', 'le', 'eq'],
  lastMembershipUpdated: ['gt', 'ge', 'lt', 'le', 'eq'],
};

const GROUP_SEARCH: AllowedFilters = Object.fromEntries(['id', 'type', 'created', 'lastUpdated', 'lastMembershipUpdated', 'profile.*'].map((field) => [field, ['eq', 'sw', 'co', 'gt', 'ge', 'lt', 'le', 'pr'] as const]));

function readLimit(query: URLSearchParams, fallback: number, max: number): number {
  const raw = query.get('limit');
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw OKTA_ERRORS.validation('limit', ['limit: must be a positive integer']);
  // Asked for more than a page holds, Okta answers a full page.
  return Math.min(value, max);
}

function expression(query: URLSearchParams, name: 'filter' | 'search', allowed: AllowedFilters): FilterNode | undefined {
  const source = query.get(name);
  if (source === null || source.trim() === '') return undefined;
  const tree = parseFilter(source);
  checkFilter(tree, allowed);
  return tree;
}

export function renderUser(deps: ApiDeps, user: OktaUser): Record<string, unknown> {
  return { ...structuredClone(user), _links: { self: { href: `${deps.baseUrl()}/api/v1/users/${user.id}` } } };
}

export function renderGroup(deps: ApiDeps, group: OktaGroup, stats = false): Record<string, unknown> {
  const base = `${deps.baseUrl()}/api/v1/groups/${group.id}`;
  return {
    ...structuredClone(group),
    ...(stats ? { _embedded: { stats: { usersCount: deps.org.memberIdsOf(group.id).length, appsCount: 0, groupPushMappingsCount: 0, hasAdminPrivilege: false } } } : {}),
    _links: { logo: [], users: { href: `${base}/users` }, apps: { href: `${base}/apps` } },
  };
}

/** Self and next links; `next` repeats the request with `after` set to the last item's cursor. */
function linksFor(deps: ApiDeps, request: ApiRequest, limit: number, nextAfter: string | undefined): string[] {
  const self = new URL(`${deps.baseUrl()}${request.path}`);
  for (const [name, value] of request.query) self.searchParams.append(name, value);
  if (!self.searchParams.has('limit')) self.searchParams.set('limit', String(limit));
  const links = [`<${self.href}>; rel="self"`];
  if (nextAfter !== undefined) {
    const next = new URL(self.href);
    next.searchParams.set('after', nextAfter);
    links.push(`<${next.href}>; rel="next"`);
  }
  return links;
}

/** One page of items in their listing order, resuming strictly after the item whose key is `after`. */
function pageAfter<T>(items: T[], keyOf: (item: T) => string, after: string | null, limit: number, sortedByKey: boolean): { page: T[]; nextAfter: string | undefined } {
  let start = 0;
  if (after) {
    if (sortedByKey) {
      const keys = items.map(keyOf);
      start = lowerBound(keys, after);
      if (keys[start] === after) start += 1;
    } else {
      start = items.findIndex((item) => keyOf(item) === after) + 1;
    }
  }
  const page = items.slice(start, start + limit);
  const more = start + limit < items.length;
  return { page, nextAfter: more && page.length > 0 ? keyOf(page[page.length - 1]!) : undefined };
}

function listUsers(deps: ApiDeps, request: ApiRequest): ApiResult {
  const { org } = deps;
  const { query } = request;
  const filter = expression(query, 'filter', USER_FILTERS);
  const search = expression(query, 'search', USER_SEARCH);
  const q = query.get('q')?.toLowerCase();
  const limit = readLimit(query, q ? 10 : 200, 200);
  // The plain list (and q) leave DEPROVISIONED users out; a filter or search can ask for them.
  const includeDeprovisioned = filter !== undefined || search !== undefined;
  const listed = (user: OktaUser) =>
    (includeDeprovisioned || user.status !== 'DEPROVISIONED') &&
    (!filter || matchesFilter(filter, (field) => readField(user, field))) &&
    (!search || matchesFilter(search, (field) => readField(user, field))) &&
    (!q || [user.profile.login, user.profile.email, user.profile.firstName, user.profile.lastName].some((value) => typeof value === 'string' && value.toLowerCase().startsWith(q)));
  const sortBy = query.get('sortBy');
  if (search && sortBy) {
    const direction = query.get('sortOrder') === 'desc' ? -1 : 1;
    const users = org
      .userIds()
      .map((id) => org.userById(id)!)
      .filter(listed)
      .sort((a, b) => direction * compareValues(readField(a, sortBy), readField(b, sortBy)) || (a.id < b.id ? -1 : 1));
    const { page, nextAfter } = pageAfter(users, (user) => user.id, query.get('after'), limit, false);
    return { status: 200, body: page.map((user) => renderUser(deps, user)), links: linksFor(deps, request, limit, nextAfter) };
  }
  // In id order: the page starts after the cursor's id and ends once it is full and one more user is listed,
  // so a page costs what it holds, not the whole org.
  const ids = org.userIds();
  const after = query.get('after');
  let index = after ? lowerBound(ids, after) : 0;
  if (after && ids[index] === after) index += 1;
  const page: OktaUser[] = [];
  let more = false;
  for (; index < ids.length; index += 1) {
    const user = org.userById(ids[index]!)!;
    if (!listed(user)) continue;
    if (page.length === limit) {
      more = true;
      break;
    }
    page.push(user);
  }
  const nextAfter = more && page.length > 0 ? page[page.length - 1]!.id : undefined;
  return { status: 200, body: page.map((user) => renderUser(deps, user)), links: linksFor(deps, request, limit, nextAfter) };
}

function compareValues(a: unknown, b: unknown): number {
  const left = a === undefined || a === null ? '' : String(a);
  const right = b === undefined || b === null ? '' : String(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

function requireGroup(deps: ApiDeps, id: string): OktaGroup {
  const group = deps.org.groupById(id);
  if (!group) throw OKTA_ERRORS.notFound(id, 'UserGroup');
  return group;
}

function listGroups(deps: ApiDeps, request: ApiRequest): ApiResult {
  const { org } = deps;
  const { query } = request;
  const filter = expression(query, 'filter', GROUP_FILTERS);
  const search = expression(query, 'search', GROUP_SEARCH);
  const q = query.get('q')?.toLowerCase();
  // [unverified] Okta's page size for groups: up to 10,000 by default.
  const limit = readLimit(query, q ? 10 : 10_000, 10_000);
  let groups = org.groupIds().map((id) => org.groupById(id)!);
  if (filter) groups = groups.filter((group) => matchesFilter(filter, (field) => readField(group, field)));
  if (search) groups = groups.filter((group) => matchesFilter(search, (field) => readField(group, field)));
  if (q) groups = groups.filter((group) => group.profile.name.toLowerCase().startsWith(q));
  const stats = (query.get('expand') ?? '').split(',').includes('stats');
  const { page, nextAfter } = pageAfter(groups, (group) => group.id, query.get('after'), limit, true);
  return { status: 200, body: page.map((group) => renderGroup(deps, group, stats)), links: linksFor(deps, request, limit, nextAfter) };
}

function listGroupUsers(deps: ApiDeps, request: ApiRequest, groupId: string): ApiResult {
  requireGroup(deps, groupId);
  const limit = readLimit(request.query, 1000, 1000);
  const members = deps.org
    .memberIdsOf(groupId)
    .map((id) => deps.org.userById(id))
    .filter((user): user is OktaUser => user !== undefined);
  const { page, nextAfter } = pageAfter(members, (user) => user.id, request.query.get('after'), limit, true);
  return { status: 200, body: page.map((user) => renderUser(deps, user)), links: linksFor(deps, request, limit, nextAfter) };
}

function listLogs(deps: ApiDeps, request: ApiRequest): ApiResult {
  const { query } = request;
  const limit = readLimit(query, 100, 1000);
  const sortOrder = (query.get('sortOrder') ?? 'ASCENDING').toUpperCase();
  if (sortOrder !== 'ASCENDING' && sortOrder !== 'DESCENDING') throw OKTA_ERRORS.validation('sortOrder', ['sortOrder: must be ASCENDING or DESCENDING']);
  const page = deps.log.query({ since: query.get('since'), until: query.get('until'), after: query.get('after'), filter: query.get('filter'), q: query.get('q'), limit, sortOrder });
  return { status: 200, body: page.events, links: linksFor(deps, request, limit, page.nextAfter) };
}

const HOOKS_READ = 'okta.eventHooks.read';
const HOOKS_MANAGE = 'okta.eventHooks.manage';

export const API_ROUTES: ApiRoute[] = [
  { method: 'GET', pattern: '/api/v1/users', scope: 'okta.users.read', handle: listUsers },
  {
    method: 'GET',
    pattern: '/api/v1/users/:id',
    scope: 'okta.users.read',
    handle: (deps, _request, params) => {
      const user = deps.org.findUser(params.id!);
      if (!user) throw OKTA_ERRORS.notFound(params.id!, 'User');
      return { status: 200, body: renderUser(deps, user) };
    },
  },
  { method: 'GET', pattern: '/api/v1/groups', scope: 'okta.groups.read', handle: listGroups },
  {
    method: 'GET',
    pattern: '/api/v1/groups/:id',
    scope: 'okta.groups.read',
    handle: (deps, request, params) => ({ status: 200, body: renderGroup(deps, requireGroup(deps, params.id!), (request.query.get('expand') ?? '').includes('stats')) }),
  },
  { method: 'GET', pattern: '/api/v1/groups/:id/users', scope: 'okta.groups.read', handle: (deps, request, params) => listGroupUsers(deps, request, params.id!) },
  { method: 'GET', pattern: '/api/v1/logs', scope: 'okta.logs.read', handle: listLogs },
  { method: 'GET', pattern: '/api/v1/eventHooks', scope: HOOKS_READ, handle: (deps) => ({ status: 200, body: deps.hooks.list() }) },
  { method: 'POST', pattern: '/api/v1/eventHooks', scope: HOOKS_MANAGE, handle: async (deps, request) => ({ status: 200, body: deps.hooks.create(await request.readJson()) }) },
  { method: 'GET', pattern: '/api/v1/eventHooks/:id', scope: HOOKS_READ, handle: (deps, _request, params) => ({ status: 200, body: deps.hooks.get(params.id!) }) },
  {
    method: 'DELETE',
    pattern: '/api/v1/eventHooks/:id',
    scope: HOOKS_MANAGE,
    handle: (deps, _request, params) => {
      deps.hooks.delete(params.id!);
      return { status: 204 };
    },
  },
  { method: 'POST', pattern: '/api/v1/eventHooks/:id/lifecycle/verify', scope: HOOKS_MANAGE, handle: async (deps, _request, params) => ({ status: 200, body: await deps.hooks.verify(params.id!) }) },
  { method: 'POST', pattern: '/api/v1/eventHooks/:id/lifecycle/activate', scope: HOOKS_MANAGE, handle: (deps, _request, params) => ({ status: 200, body: deps.hooks.setStatus(params.id!, 'ACTIVE') }) },
  { method: 'POST', pattern: '/api/v1/eventHooks/:id/lifecycle/deactivate', scope: HOOKS_MANAGE, handle: (deps, _request, params) => ({ status: 200, body: deps.hooks.setStatus(params.id!, 'INACTIVE') }) },
];

export function findApiRoute(method: string, path: string): { route: ApiRoute; params: Record<string, string> } | 'method-not-allowed' | undefined {
  let pathMatched = false;
  for (const route of API_ROUTES) {
    const params = matchPath(route.pattern, path);
    if (!params) continue;
    pathMatched = true;
    if (route.method === method) return { route, params };
  }
  return pathMatched ? 'method-not-allowed' : undefined;
}
