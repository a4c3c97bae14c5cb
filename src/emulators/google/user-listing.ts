import { createHash } from 'node:crypto';
import { partitionPoint } from '../kit/sorted.ts';
import { GoogleApiError } from './http-kit.ts';
import type { GoogleOrg, GoogleUser } from './org-model.ts';
import type { PageTokens } from './page-token.ts';

export type Projection = 'basic' | 'full' | 'custom';

export interface RenderOptions {
  projection: Projection;
  customFieldMask: string[];
  domainPublic: boolean;
}

/** Fields other users in the domain may see (viewType=domain_public). */
const PUBLIC_FIELDS = ['kind', 'id', 'etag', 'primaryEmail', 'name', 'emails', 'organizations', 'relations', 'thumbnailPhotoUrl'] as const;

export function readRenderOptions(query: URLSearchParams): RenderOptions {
  const projection = (query.get('projection') ?? 'basic') as Projection;
  if (!['basic', 'full', 'custom'].includes(projection)) throw new GoogleApiError(400, 'invalid', `Invalid value for: projection ${projection}`);
  const mask = (query.get('customFieldMask') ?? '').split(',').map((part) => part.trim()).filter(Boolean);
  if (projection === 'custom' && mask.length === 0) throw new GoogleApiError(400, 'invalidCustomFieldMask', 'Invalid Input: custom field mask is required for custom projection');
  const viewType = query.get('viewType') ?? 'admin_view';
  if (viewType !== 'admin_view' && viewType !== 'domain_public') throw new GoogleApiError(400, 'invalid', `Invalid value for: viewType ${viewType}`);
  return { projection, customFieldMask: mask, domainPublic: viewType === 'domain_public' };
}

/** A copy shaped like Google's answer: custom schemas only for full/custom projections. */
export function renderUser(user: GoogleUser, options: RenderOptions): Record<string, unknown> {
  const { customSchemas, ...rest } = user;
  const out: Record<string, unknown> = structuredClone(rest);
  if (customSchemas && options.projection === 'full') out.customSchemas = structuredClone(customSchemas);
  if (customSchemas && options.projection === 'custom') {
    const picked = Object.fromEntries(options.customFieldMask.filter((name) => name in customSchemas).map((name) => [name, structuredClone(customSchemas[name])]));
    if (Object.keys(picked).length > 0) out.customSchemas = picked;
  }
  if (options.domainPublic) {
    return Object.fromEntries(Object.entries(out).filter(([key]) => (PUBLIC_FIELDS as readonly string[]).includes(key)));
  }
  return out;
}

export function readMaxResults(query: URLSearchParams, max: number, fallback: number): number {
  const raw = query.get('maxResults');
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > max) throw new GoogleApiError(400, 'invalid', `Invalid value '${raw}'. Values must be within the range: [1, ${max}]`);
  return value;
}

type OrderBy = 'id' | 'email' | 'givenName' | 'familyName';

function sortKey(user: GoogleUser, orderBy: OrderBy): string {
  if (orderBy === 'email') return user.primaryEmail;
  if (orderBy === 'givenName') return user.name.givenName.toLowerCase();
  if (orderBy === 'familyName') return user.name.familyName.toLowerCase();
  return user.id;
}

function compare(aKey: string, aId: string, bKey: string, bId: string): number {
  if (aKey !== bKey) return aKey < bKey ? -1 : 1;
  if (aId === bId) return 0;
  // Ids are decimal strings of equal length, so string order is numeric order.
  return aId < bId ? -1 : 1;
}

/** A tiny subset of Google's user query language: `field:value`, `field=value`, `value*` prefixes. */
function queryFilter(text: string | null): ((user: GoogleUser) => boolean) | undefined {
  if (!text?.trim()) return undefined;
  const terms = text.trim().split(/\s+/).map((term) => {
    const match = /^(\w+)[:=]'?([^']*)'?$/.exec(term);
    if (!match) throw new GoogleApiError(400, 'invalid', `Invalid Input: ${term}`);
    const [, field, rawValue] = match as unknown as [string, string, string];
    const prefix = rawValue.endsWith('*');
    const value = (prefix ? rawValue.slice(0, -1) : rawValue).toLowerCase();
    const test = (candidate: string) => (prefix ? candidate.toLowerCase().startsWith(value) : candidate.toLowerCase() === value);
    const fields: Record<string, (user: GoogleUser) => boolean> = {
      email: (user) => test(user.primaryEmail),
      givenName: (user) => test(user.name.givenName),
      familyName: (user) => test(user.name.familyName),
      isSuspended: (user) => String(user.suspended) === value,
      isAdmin: (user) => String(user.isAdmin) === value,
      orgUnitPath: (user) => test(user.orgUnitPath),
    };
    const predicate = fields[field];
    if (!predicate) throw new GoogleApiError(400, 'invalid', `Invalid Input: ${field}`);
    return predicate;
  });
  return (user) => terms.every((term) => term(user));
}

/** Sorting 100k users per page would dominate paging; the order is reused until the org changes. */
const sortCache = new WeakMap<GoogleOrg, { version: number; orderBy: OrderBy; ids: string[] }>();

function sortedIds(org: GoogleOrg, orderBy: OrderBy): readonly string[] {
  const cached = sortCache.get(org);
  if (cached && cached.version === org.version && cached.orderBy === orderBy) return cached.ids;
  const keyed = org.userIds().map((id) => ({ id, key: sortKey(org.userById(id)!, orderBy) }));
  keyed.sort((a, b) => compare(a.key, a.id, b.key, b.id));
  const ids = keyed.map((entry) => entry.id);
  sortCache.set(org, { version: org.version, orderBy, ids });
  return ids;
}

export interface ListUsersDeps {
  org: GoogleOrg;
  pageTokens: PageTokens;
}

/** users.list without the HTTP around it. */
export function listUsers(deps: ListUsersDeps, query: URLSearchParams): Record<string, unknown> {
  const { org } = deps;
  const customer = query.get('customer');
  const domain = query.get('domain');
  if (!customer && !domain) throw new GoogleApiError(400, 'badRequest', 'Bad Request');
  if (customer && customer !== 'my_customer' && customer !== org.customerId) throw new GoogleApiError(403, 'forbidden', 'Not Authorized to access this resource/api');
  if (!customer && domain?.toLowerCase() !== org.domain) throw new GoogleApiError(403, 'forbidden', 'Not Authorized to access this resource/api');
  const maxResults = readMaxResults(query, 500, 100);
  const render = readRenderOptions(query);
  const orderBy = (query.get('orderBy') ?? 'id') as OrderBy;
  if (!['id', 'email', 'givenName', 'familyName'].includes(orderBy) || query.get('orderBy') === 'id') throw new GoogleApiError(400, 'invalid', `Invalid value for: orderBy ${orderBy}`);
  const sortOrder = (query.get('sortOrder') ?? 'ASCENDING').toUpperCase();
  if (sortOrder !== 'ASCENDING' && sortOrder !== 'DESCENDING') throw new GoogleApiError(400, 'invalid', `Invalid value for: sortOrder ${sortOrder}`);
  const descending = sortOrder === 'DESCENDING';
  // Only the literal string "true" turns it on, and then Google lists the deleted users.
  const showDeleted = query.get('showDeleted') === 'true';
  const filter = queryFilter(query.get('query'));
  const scope = createHash('sha256').update(JSON.stringify([customer, domain, orderBy, sortOrder, showDeleted, query.get('query')])).digest('base64url').slice(0, 16);

  const ids = orderBy === 'id' ? org.userIds() : sortedIds(org, orderBy);
  const at = (index: number) => ids[descending ? ids.length - 1 - index : index]!;
  let start = 0;
  const pageToken = query.get('pageToken');
  if (pageToken) {
    const cursor = deps.pageTokens.read(pageToken, scope);
    // First position strictly after the cursor in this listing's direction.
    start = partitionPoint(ids.length, (index) => {
      const user = org.userById(at(index))!;
      return compare(sortKey(user, orderBy), user.id, cursor.key, cursor.id) * (descending ? -1 : 1) <= 0;
    });
  }
  const users: GoogleUser[] = [];
  let index = start;
  let more = false;
  for (; index < ids.length; index += 1) {
    const user = org.userById(at(index))!;
    if (Boolean(user.deletionTime) !== showDeleted || org.isPurged(user.id)) continue;
    if (filter && !filter(user)) continue;
    if (users.length === maxResults) {
      more = true;
      break;
    }
    users.push(user);
  }
  const body: Record<string, unknown> = { kind: 'admin#directory#users', etag: org.listEtag() };
  // The key is absent, not an empty array, when nothing matched: clients must cope with that.
  if (users.length > 0) body.users = users.map((user) => renderUser(user, render));
  const last = users[users.length - 1];
  if (more && last) body.nextPageToken = deps.pageTokens.issue({ key: sortKey(last, orderBy), id: last.id, scope });
  return body;
}
