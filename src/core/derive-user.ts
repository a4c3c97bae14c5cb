import type {
  ConnectionRef,
  JsonObject,
  JsonValue,
  NormalizedUser,
  OwnedUserAttribute,
  UserState,
} from './model.ts';
import { OWNED_USER_ATTRIBUTES } from './model.ts';
import { rankIn, type Policy } from './policy.ts';

/** A source record linked to a canonical user, with the connection it came from. */
export interface LinkedUserRecord {
  connection: ConnectionRef;
  external_id: string;
  attributes: NormalizedUser;
  raw: JsonValue;
  tombstoned_at: string | null;
  tombstone_reason: string | null;
}

export interface AttributeValue {
  connection_id: string;
  value: JsonValue;
}

/** Two or more owners of one attribute hold different values. */
export interface Disagreement {
  attribute: OwnedUserAttribute;
  winner: AttributeValue;
  values: AttributeValue[];
}

export interface DerivedUser {
  attributes: Record<OwnedUserAttribute, JsonValue>;
  /** Which connection supplied each attribute (absent when no source had a value). */
  sources: Partial<Record<OwnedUserAttribute, string>>;
  state: UserState;
  state_reason: string | null;
  emails: string[];
  custom_attributes: JsonObject;
  disagreements: Disagreement[];
}

/** A record that states a value of the attribute being derived. */
interface Candidate {
  record: LinkedUserRecord;
  value: JsonValue;
}

export interface DeriveContext {
  policy: Policy;
  /** Admin choices from resolved conflicts: attribute → connection id that wins for this user. */
  pins: Partial<Record<OwnedUserAttribute, string>>;
  /** Manager references resolved to canonical user ids, keyed by `managerKey`. */
  managers: ReadonlyMap<string, string>;
  /** Today as YYYY-MM-DD, for future-dated hires. */
  today: string;
}

/**
 * Keys naming a person the way records refer to them: by a connection's record id, or by an identifier.
 * Manager references and the index of unresolved references both use them.
 */
export const referenceKey = {
  external: (connectionId: string, externalId: string) => `ext:${connectionId}:${externalId}`,
  identifier: (kind: 'employee_id' | 'email', value: string) => `${kind}:${value}`,
};

export function managerKey(record: Pick<LinkedUserRecord, 'connection' | 'attributes'>): string | null {
  const ref = record.attributes.manager;
  if (!ref) return null;
  if (ref.external_id) return referenceKey.external(record.connection.id, ref.external_id);
  if (ref.employee_id) return referenceKey.identifier('employee_id', ref.employee_id);
  if (ref.email) return referenceKey.identifier('email', ref.email.trim().toLowerCase());
  return null;
}

const CASE_INSENSITIVE: ReadonlySet<OwnedUserAttribute> = new Set(['email', 'username']);

function present(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

/**
 * What one record says about one attribute; undefined when it says nothing. A removed record says the
 * person is inactive; its other values are only its last word (see `lastKnown`).
 */
function valueOf(record: LinkedUserRecord, attribute: OwnedUserAttribute, ctx: DeriveContext): JsonValue | undefined {
  if (attribute === 'state') {
    if (record.tombstoned_at) return 'inactive';
    return record.attributes.state ?? 'active';
  }
  if (record.tombstoned_at) return undefined;
  return statedValue(record, attribute, ctx);
}

function statedValue(record: LinkedUserRecord, attribute: OwnedUserAttribute, ctx: DeriveContext): JsonValue | undefined {
  if (attribute === 'manager_id') {
    const key = managerKey(record);
    return key ? ctx.managers.get(key) : undefined;
  }
  const value = record.attributes[attribute];
  return present(value) ? value.trim() : undefined;
}

function comparable(attribute: OwnedUserAttribute, value: JsonValue): JsonValue {
  return CASE_INSENSITIVE.has(attribute) && typeof value === 'string' ? value.toLowerCase() : value;
}

function byRank(refs: readonly string[]) {
  return (a: LinkedUserRecord, b: LinkedUserRecord) =>
    rankIn(refs, a.connection) - rankIn(refs, b.connection) ||
    a.connection.created_at.localeCompare(b.connection.created_at) ||
    a.connection.id.localeCompare(b.connection.id);
}

function stateReason(record: LinkedUserRecord, state: UserState): string | null {
  if (record.tombstoned_at) return record.tombstone_reason ?? 'removed_from_source';
  switch (state) {
    case 'active':
      return null;
    case 'suspended':
      return 'suspended_in_source';
    case 'pending':
      return 'pending_in_source';
    case 'inactive':
      if (record.connection.category === 'hris') return 'terminated_in_hris';
      if (record.connection.category === 'idp') return 'deactivated_in_idp';
      return 'deactivated_in_source';
  }
}

/**
 * The canonical attributes of one person from every record linked to them: per attribute, a pinned
 * connection first, then the first owner with a value, then the first fallback with a value.
 * Owners that hold different values are reported as disagreements (the winner still applies).
 */
export function deriveUser(records: readonly LinkedUserRecord[], ctx: DeriveContext): DerivedUser {
  const attributes = {} as Record<OwnedUserAttribute, JsonValue>;
  const sources: DerivedUser['sources'] = {};
  const disagreements: Disagreement[] = [];
  let winningStateRecord: LinkedUserRecord | undefined;

  // Refilled for each attribute: nothing keeps them past it (a disagreement copies the owners).
  const owners: Candidate[] = [];
  const fallbacks: Candidate[] = [];
  for (const attribute of OWNED_USER_ATTRIBUTES) {
    const rule = ctx.policy.attribute_ownership[attribute];
    // One pass over the records (a person has one or a few): owners and fallbacks in record order, then
    // ranked; the pinned connection's value, if it has one.
    owners.length = 0;
    fallbacks.length = 0;
    let pinned: Candidate | undefined;
    for (const record of records) {
      const value = valueOf(record, attribute, ctx);
      if (value === undefined) continue;
      const candidate = { record, value };
      if (pinned === undefined && record.connection.id === ctx.pins[attribute]) pinned = candidate;
      if (rankIn(rule.owners, record.connection) >= 0) owners.push(candidate);
      else if (rankIn(rule.fallback, record.connection) >= 0) fallbacks.push(candidate);
    }
    if (owners.length > 1) owners.sort((a, b) => byRank(rule.owners)(a.record, b.record));
    if (fallbacks.length > 1) fallbacks.sort((a, b) => byRank(rule.fallback)(a.record, b.record));
    const winner = pinned ?? owners[0] ?? fallbacks[0];

    // A person removed from every source that knew a value keeps it, so a deactivation still says who left.
    const lastKnown = winner ? undefined : lastKnownValue(records, attribute, rule, ctx);
    attributes[attribute] = winner?.value ?? lastKnown?.value ?? null;
    const supplier = winner?.record ?? lastKnown?.record;
    if (supplier) sources[attribute] = supplier.connection.id;
    if (attribute === 'state') winningStateRecord = winner?.record;

    if (winner && owners.length > 1 && new Set(owners.map((o) => JSON.stringify(comparable(attribute, o.value)))).size > 1) {
      disagreements.push({
        attribute,
        winner: { connection_id: winner.record.connection.id, value: winner.value },
        values: owners.map((o) => ({ connection_id: o.record.connection.id, value: o.value })),
      });
    }
  }

  let state = (attributes.state as UserState | null) ?? 'inactive';
  let reason = winningStateRecord ? stateReason(winningStateRecord, state) : 'no_sources';
  const startDate = attributes.start_date;
  if (state === 'active' && ctx.policy.pending_until_start_date && typeof startDate === 'string' && startDate > ctx.today) {
    state = 'pending';
    reason = 'future_start_date';
  }
  attributes.state = state;

  return {
    attributes,
    sources,
    state,
    state_reason: reason,
    emails: collectEmails(records, attributes.email),
    custom_attributes: deriveCustomAttributes(records, ctx.policy),
    disagreements,
  };
}

function lastKnownValue(
  records: readonly LinkedUserRecord[],
  attribute: OwnedUserAttribute,
  rule: Policy['attribute_ownership'][OwnedUserAttribute],
  ctx: DeriveContext,
): { record: LinkedUserRecord; value: JsonValue } | undefined {
  const order = [...rule.owners, ...rule.fallback];
  return records
    .filter((r) => r.tombstoned_at && rankIn(order, r.connection) >= 0)
    .sort(byRank(order))
    .map((record) => ({ record, value: statedValue(record, attribute, ctx) }))
    .find((c): c is { record: LinkedUserRecord; value: JsonValue } => c.value !== undefined);
}

function collectEmails(records: readonly LinkedUserRecord[], primary: JsonValue): string[] {
  const all = new Set<string>();
  if (typeof primary === 'string') all.add(primary.toLowerCase());
  for (const record of records) {
    if (record.tombstoned_at) continue;
    for (const email of userEmails(record.attributes)) all.add(email);
  }
  return [...all];
}

/** Every address a record gives for a person, lower-cased: the email identity-join keys. */
export function userEmails(attributes: NormalizedUser): string[] {
  const out = new Set<string>();
  if (present(attributes.email)) out.add(attributes.email.trim().toLowerCase());
  for (const email of attributes.emails ?? []) if (present(email)) out.add(email.trim().toLowerCase());
  return [...out];
}

const DEFAULT_CUSTOM_SOURCES = ['hris', 'idp', 'directory', 'file'];

function readPath(record: LinkedUserRecord, path: string): JsonValue | undefined {
  const [root, ...rest] = path.split('.');
  let current: unknown = root === 'raw' ? record.raw : record.attributes;
  for (const key of rest) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current === undefined ? undefined : (current as JsonValue);
}

/**
 * Custom attributes: what the records carry themselves (HRIS first), then the organization's mapping of
 * any source field, which wins over the pass-through values.
 */
function deriveCustomAttributes(records: readonly LinkedUserRecord[], policy: Policy): JsonObject {
  const live = records.filter((r) => !r.tombstoned_at);
  const out: JsonObject = {};
  const passThrough = live.length > 1 ? [...live].sort(byRank(DEFAULT_CUSTOM_SOURCES)).reverse() : live;
  for (const record of passThrough) Object.assign(out, record.attributes.custom_attributes ?? {});
  for (const [name, rule] of Object.entries(policy.custom_attributes)) {
    const order = rule.sources ?? DEFAULT_CUSTOM_SOURCES;
    const candidates = live.filter((r) => rankIn(order, r.connection) >= 0).sort(byRank(order));
    for (const record of candidates) {
      const value = readPath(record, rule.path);
      if (value !== undefined && value !== null) {
        out[name] = value;
        break;
      }
    }
  }
  return out;
}
