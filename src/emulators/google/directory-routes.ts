import { createHash } from 'node:crypto';
import { partitionPoint } from '../kit/sorted.ts';
import { GoogleApiError, matchPath } from './http-kit.ts';
import { DIRECTORY_SCOPES } from './oauth.ts';
import type { GoogleGroup, GoogleOrg, StoredMember } from './org-model.ts';
import type { PageTokens } from './page-token.ts';
import { listUsers, readMaxResults, readRenderOptions, renderUser } from './user-listing.ts';
import type { WatchChannels } from './watch-channels.ts';

export interface ApiResult {
  status: number;
  body?: unknown;
}

export interface DirectoryDeps {
  org: GoogleOrg;
  pageTokens: PageTokens;
  channels: WatchChannels;
  /**
   * A group's sorted member list, kept while the org does not change: paging a 12,500-member group by 200
   * would otherwise rebuild and sort the whole list for every page.
   */
  memberLists: Map<string, { version: string; members: LiveMember[] }>;
}

export interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  readJson: () => Promise<Record<string, unknown>>;
}

export interface DirectoryRoute {
  method: string;
  pattern: string;
  scopes: readonly string[];
  handle: (deps: DirectoryDeps, request: ApiRequest, params: Record<string, string>) => Promise<ApiResult> | ApiResult;
}

const V1 = '/admin/directory/v1';

function renderGroup(org: GoogleOrg, group: GoogleGroup): Record<string, unknown> {
  // directMembersCount is an int64, which Google's JSON renders as a string.
  return { ...structuredClone(group), directMembersCount: String(org.directMembersCount(group.id)) };
}

function requireGroup(org: GoogleOrg, key: string): GoogleGroup {
  const group = org.findGroup(key);
  if (!group) throw new GoogleApiError(404, 'notFound', 'Resource Not Found: groupKey');
  return group;
}

function scopeDigest(parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 16);
}

/** Pages a list already in ascending id order: resume strictly after the cursor id. */
function pageById<T extends { id: string }>(deps: DirectoryDeps, items: T[], query: URLSearchParams, maxResults: number, scope: string): { page: T[]; nextPageToken?: string } {
  const token = query.get('pageToken');
  const afterId = token ? deps.pageTokens.read(token, scope).id : undefined;
  const start = afterId === undefined ? 0 : partitionPoint(items.length, (i) => items[i]!.id <= afterId);
  const page = items.slice(start, start + maxResults);
  const last = page[page.length - 1];
  if (start + maxResults < items.length && last) return { page, nextPageToken: deps.pageTokens.issue({ key: last.id, id: last.id, scope }) };
  return { page };
}

function byId(a: { id: string }, b: { id: string }): number {
  // Group ids are equal-length hex and user ids equal-length decimal; ordering within each kind is enough.
  return a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function listGroups(deps: DirectoryDeps, request: ApiRequest): ApiResult {
  const { org } = deps;
  const { query } = request;
  const customer = query.get('customer');
  const domain = query.get('domain');
  const userKey = query.get('userKey');
  if (!customer && !domain && !userKey) throw new GoogleApiError(400, 'badRequest', 'Bad Request');
  if (customer && customer !== 'my_customer' && customer !== org.customerId) throw new GoogleApiError(403, 'forbidden', 'Not Authorized to access this resource/api');
  const maxResults = readMaxResults(query, 200, 200);
  let groups = org.groupIds().map((id) => org.findGroup(id)!);
  if (userKey) {
    const user = org.findUser(userKey);
    if (!user) throw new GoogleApiError(404, 'notFound', 'Resource Not Found: userKey');
    groups = groups.filter((group) => org.membersOf(group.id).some((member) => member.id === user.id));
  }
  const orderBy = query.get('orderBy');
  if (orderBy && orderBy !== 'email') throw new GoogleApiError(400, 'invalid', `Invalid value for: orderBy ${orderBy}`);
  const { page, nextPageToken } = pageById(deps, groups, query, maxResults, scopeDigest(['groups', customer, domain, userKey]));
  const body: Record<string, unknown> = { kind: 'admin#directory#groups', etag: org.listEtag() };
  if (page.length > 0) body.groups = page.map((group) => renderGroup(org, group));
  if (nextPageToken) body.nextPageToken = nextPageToken;
  return { status: 200, body };
}

interface LiveMember extends StoredMember {
  email: string;
  status: 'ACTIVE' | 'SUSPENDED';
}

/** Members as Google shows them now: deleted users are gone; derived membership flattens nested groups. */
function liveMembers(org: GoogleOrg, groupId: string, derived: boolean, seen = new Set<string>()): LiveMember[] {
  seen.add(groupId);
  const out = new Map<string, LiveMember>();
  for (const member of org.membersOf(groupId)) {
    if (member.type === 'USER') {
      const user = org.userById(member.id);
      if (!user || user.deletionTime) continue;
      out.set(member.id, { ...member, email: user.primaryEmail, status: user.suspended ? 'SUSPENDED' : 'ACTIVE' });
    } else {
      const group = org.findGroup(member.id);
      if (!group) continue;
      out.set(member.id, { ...member, email: group.email, status: 'ACTIVE' });
      if (derived && !seen.has(member.id)) {
        for (const inner of liveMembers(org, member.id, true, seen)) if (!out.has(inner.id)) out.set(inner.id, inner);
      }
    }
  }
  return [...out.values()];
}

const MEMBER_LISTS_KEPT = 64;

function listMembers(deps: DirectoryDeps, request: ApiRequest, params: Record<string, string>): ApiResult {
  const { org } = deps;
  const { query } = request;
  const group = requireGroup(org, params.groupKey!);
  const maxResults = readMaxResults(query, 200, 200);
  const roles = query.get('roles')?.split(',').map((role) => role.trim().toUpperCase()).filter(Boolean);
  if (roles?.some((role) => !['OWNER', 'MANAGER', 'MEMBER'].includes(role))) throw new GoogleApiError(400, 'invalid', 'Invalid Input: roles');
  const derived = query.get('includeDerivedMembership') === 'true';
  const key = JSON.stringify([group.id, roles ?? null, derived]);
  let cached = deps.memberLists.get(key);
  if (cached?.version !== org.listEtag()) {
    cached = { version: org.listEtag(), members: liveMembers(org, group.id, derived).filter((member) => !roles || roles.includes(member.role)).sort(byId) };
    if (deps.memberLists.size >= MEMBER_LISTS_KEPT) deps.memberLists.delete(deps.memberLists.keys().next().value!);
    deps.memberLists.set(key, cached);
  }
  const members = cached.members;
  const { page, nextPageToken } = pageById(deps, members, query, maxResults, scopeDigest(['members', group.id, roles, derived]));
  const body: Record<string, unknown> = { kind: 'admin#directory#members', etag: group.etag };
  if (page.length > 0) {
    body.members = page.map((member) => ({
      kind: 'admin#directory#member',
      etag: `"${createHash('sha1').update(`${group.etag}|${member.id}|${member.role}|${member.status}`).digest('base64url').slice(0, 20)}"`,
      id: member.id,
      email: member.email,
      role: member.role,
      type: member.type,
      status: member.status,
      delivery_settings: 'ALL_MAIL',
    }));
  }
  if (nextPageToken) body.nextPageToken = nextPageToken;
  return { status: 200, body };
}

export const DIRECTORY_ROUTES: DirectoryRoute[] = [
  { method: 'GET', pattern: `${V1}/users`, scopes: DIRECTORY_SCOPES.user, handle: (deps, request) => ({ status: 200, body: listUsers(deps, request.query) }) },
  {
    method: 'POST',
    pattern: `${V1}/users/watch`,
    scopes: DIRECTORY_SCOPES.user,
    handle: async (deps, request) => {
      if (!request.query.get('customer') && !request.query.get('domain')) throw new GoogleApiError(400, 'badRequest', 'Bad Request');
      return { status: 200, body: deps.channels.create(await request.readJson(), request.query) };
    },
  },
  {
    method: 'GET',
    pattern: `${V1}/users/:userKey`,
    scopes: DIRECTORY_SCOPES.user,
    handle: (deps, request, params) => {
      const user = deps.org.findUser(params.userKey!);
      if (!user || user.deletionTime || deps.org.isPurged(user.id)) throw new GoogleApiError(404, 'notFound', 'Resource Not Found: userKey');
      return { status: 200, body: renderUser(user, readRenderOptions(request.query)) };
    },
  },
  { method: 'GET', pattern: `${V1}/groups`, scopes: DIRECTORY_SCOPES.group, handle: listGroups },
  {
    method: 'GET',
    pattern: `${V1}/groups/:groupKey`,
    scopes: DIRECTORY_SCOPES.group,
    handle: (deps, _request, params) => ({ status: 200, body: renderGroup(deps.org, requireGroup(deps.org, params.groupKey!)) }),
  },
  { method: 'GET', pattern: `${V1}/groups/:groupKey/members`, scopes: DIRECTORY_SCOPES.member, handle: listMembers },
  {
    method: 'GET',
    pattern: `${V1}/groups/:groupKey/hasMember/:memberKey`,
    scopes: DIRECTORY_SCOPES.member,
    handle: (deps, _request, params) => {
      const group = requireGroup(deps.org, params.groupKey!);
      const member = deps.org.findUser(params.memberKey!) ?? deps.org.findGroup(params.memberKey!);
      if (!member || ('deletionTime' in member && member.deletionTime)) throw new GoogleApiError(404, 'notFound', 'Resource Not Found: memberKey');
      return { status: 200, body: { isMember: deps.org.hasMember(group.id, member.id) } };
    },
  },
  {
    // Google serves channels.stop under directory_v1 with an underscore, unlike every other Directory path.
    method: 'POST',
    pattern: '/admin/directory_v1/channels/stop',
    scopes: DIRECTORY_SCOPES.user,
    handle: async (deps, request) => {
      deps.channels.stop(await request.readJson());
      return { status: 204 };
    },
  },
];

export function findDirectoryRoute(method: string, path: string): { route: DirectoryRoute; params: Record<string, string> } | 'method-not-allowed' | undefined {
  let pathMatched = false;
  for (const route of DIRECTORY_ROUTES) {
    const params = matchPath(route.pattern, path);
    if (!params) continue;
    pathMatched = true;
    if (route.method === method) return { route, params };
  }
  return pathMatched ? 'method-not-allowed' : undefined;
}
