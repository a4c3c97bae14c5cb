/**
 * `$select` and the default property sets. Graph returns only a default set of user properties unless
 * `$select` names others (accountEnabled, department, employeeId… are never in it).
 */
import { GraphApiError } from './http-kit.ts';
import type { GraphGroup, GraphUser } from './tenant-model.ts';

export const DEFAULT_USER_PROPERTIES = [
  'businessPhones',
  'displayName',
  'givenName',
  'id',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
] as const;

const USER_PROPERTIES: ReadonlySet<string> = new Set([
  ...DEFAULT_USER_PROPERTIES,
  'accountEnabled',
  'department',
  'employeeId',
  'employeeType',
  'companyName',
  'otherMails',
  'proxyAddresses',
  'onPremisesImmutableId',
  'onPremisesSamAccountName',
  'onPremisesSyncEnabled',
  'onPremisesExtensionAttributes',
  'createdDateTime',
  'deletedDateTime',
]);

export const DEFAULT_GROUP_PROPERTIES = [
  'id',
  'displayName',
  'description',
  'mail',
  'mailEnabled',
  'mailNickname',
  'securityEnabled',
  'groupTypes',
  'membershipRule',
  'onPremisesSyncEnabled',
] as const;

const GROUP_PROPERTIES: ReadonlySet<string> = new Set([...DEFAULT_GROUP_PROPERTIES, 'createdDateTime', 'deletedDateTime']);

/** Navigation properties `$select` may name in a delta query to track the relation. */
const USER_RELATIONS = new Set(['manager']);
const GROUP_RELATIONS = new Set(['members']);

export interface Selection {
  properties: string[];
  /** Relations selected (delta: `manager` on users, `members` on groups). */
  relations: string[];
  /** `$select` was given (it costs one RU less, and baked into delta tokens). */
  explicit: boolean;
}

export function readSelection(query: URLSearchParams, kind: 'user' | 'group', allowRelations: boolean): Selection {
  const raw = query.get('$select');
  const defaults: readonly string[] = kind === 'user' ? DEFAULT_USER_PROPERTIES : DEFAULT_GROUP_PROPERTIES;
  if (raw === null || raw.trim() === '') return { properties: [...defaults], relations: [], explicit: false };
  return parseSelection(raw, kind, allowRelations);
}

export function parseSelection(raw: string, kind: 'user' | 'group', allowRelations: boolean): Selection {
  const known = kind === 'user' ? USER_PROPERTIES : GROUP_PROPERTIES;
  const relations = kind === 'user' ? USER_RELATIONS : GROUP_RELATIONS;
  const properties = new Set<string>(['id']);
  const selected: string[] = [];
  for (const name of raw.split(',').map((part) => part.trim()).filter(Boolean)) {
    // Graph matches property names case-insensitively and answers with their own spelling.
    const canonical = [...known, ...relations].find((candidate) => candidate.toLowerCase() === name.toLowerCase());
    if (canonical === undefined) {
      throw new GraphApiError(400, 'Request_BadRequest', `Could not find a property named '${name}' on type 'microsoft.graph.${kind}'.`);
    }
    if (relations.has(canonical)) {
      if (!allowRelations) throw new GraphApiError(400, 'Request_BadRequest', `Parsing OData Select and Expand failed: Property '${canonical}' is a navigation property; use $expand.`);
      selected.push(canonical);
    } else {
      properties.add(canonical);
    }
  }
  return { properties: [...properties], relations: selected, explicit: true };
}

export function renderUser(user: GraphUser, selection: Selection): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of selection.properties) out[name] = structuredClone((user as unknown as Record<string, unknown>)[name] ?? null);
  return out;
}

export function renderGroup(group: GraphGroup, selection: Selection): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of selection.properties) out[name] = structuredClone((group as unknown as Record<string, unknown>)[name] ?? null);
  return out;
}

/** `$expand=manager` or `$expand=manager($select=id,displayName)`; undefined when not asked. */
export function readManagerExpand(query: URLSearchParams): Selection | undefined {
  const raw = query.get('$expand');
  if (raw === null || raw.trim() === '') return undefined;
  const match = /^\s*manager\s*(?:\(\s*\$select\s*=\s*([^)]*)\))?\s*$/i.exec(raw);
  if (!match) throw new GraphApiError(400, 'Request_BadRequest', `Could not find a property named '${raw.split('(')[0]!.trim()}' on type 'microsoft.graph.user'.`);
  return match[1] === undefined ? { properties: [...DEFAULT_USER_PROPERTIES], relations: [], explicit: false } : parseSelection(match[1], 'user', false);
}
