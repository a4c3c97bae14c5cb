import { z } from 'zod';
import { contentHash } from '../../core/content-hash.ts';
import { type JsonValue } from '../../core/model.ts';
import { groupAttributesSchema, membershipKey, nestingKey, userAttributesSchema, type IncomingRecord, type RestatedRecord } from '../../reconcile/incoming.ts';
import type { RestatedLookup } from '../connector.ts';
import { getPath, isRecord, withoutPaths } from './json-path.ts';
import { formatPath, REQUIRED_WORDING, type CompiledExpression, type DefinitionIssue, type ProviderDefinition } from './load-provider-definition.ts';
import { type ResourceName } from './provider-definition.ts';

/**
 * Provider item → IncomingRecord through the definition's compiled JSONata. The mapping's output is
 * checked with the same schemas the record API uses, so a declarative connector cannot feed the
 * reconciler anything a pushed record could not be.
 */

const externalId = z.string().min(1).max(512);
/** What a user or group mapping yields. */
const objectEnvelope = z.strictObject({ id: externalId, deleted: z.boolean().optional(), attributes: z.unknown().optional() });
/** What a member mapping yields: `other` covers members that are neither (Google CUSTOMER, EXTERNAL). */
const memberEnvelope = z.strictObject({ type: z.enum(['user', 'group', 'other']), id: externalId });

export type MappedMember =
  | { kind: 'membership'; record: Exclude<IncomingRecord, RestatedRecord> & { kind: 'membership' } }
  /** A group inside a group: a nesting record, never a user membership. */
  | { kind: 'nested_group'; record: Exclude<IncomingRecord, RestatedRecord> & { kind: 'group_nesting' } }
  | { kind: 'ignored'; group_external_id: string; member_external_id: string; raw: JsonValue };

/** A mapping that yields an invalid record: the item is not ingested, and the error says why. */
export class MappingError extends Error {
  override readonly name = 'MappingError';
  readonly code = 'mapping_invalid';
  constructor(
    readonly providerId: string,
    readonly resource: ResourceName,
    readonly itemId: string,
    readonly issues: DefinitionIssue[],
    options?: { cause?: unknown },
  ) {
    super(`${providerId} ${resource} item "${itemId}": ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, options);
  }
}

/**
 * The payload as stored: the item without the resource's volatile fields. Items are parsed JSON that
 * nothing mutates, so the payload shares what it keeps with the item instead of copying it; it is
 * serialized when stored, which is also what drops anything JSON cannot hold.
 */
export function storedRaw(definition: ProviderDefinition, resource: ResourceName, item: unknown): JsonValue {
  return withoutPaths(item, definition.resources[resource]?.volatileFields ?? []) as JsonValue;
}

/** What mapping a user or group item yields: an upsert or a tombstone (never a restatement). */
export type MappedRecord = Exclude<Extract<IncomingRecord, { kind: 'user' | 'group' }>, RestatedRecord>;

/** Maps an item of `users` (or of `deletedUsers`, whose volatile fields then apply). */
export async function mapUser(definition: ProviderDefinition, item: unknown, resource: 'users' | 'deletedUsers' = 'users'): Promise<MappedRecord> {
  const { id, deleted, attributes } = await mapObject(definition, resource, definition.compiled.user, item);
  if (deleted) return { kind: 'user', external_id: id, deleted: true };
  const parsed = userAttributesSchema.safeParse(attributes, REQUIRED_WORDING);
  if (!parsed.success) throw invalid(definition, resource, id, parsed.error, ['attributes']);
  return { kind: 'user', external_id: id, deleted: false, attributes: parsed.data, raw: storedRaw(definition, resource, item) };
}

export async function mapGroup(definition: ProviderDefinition, item: unknown): Promise<MappedRecord> {
  const { id, deleted, attributes } = await mapObject(definition, 'groups', required(definition, 'group'), item);
  if (deleted) return { kind: 'group', external_id: id, deleted: true };
  const parsed = groupAttributesSchema.safeParse(attributes, REQUIRED_WORDING);
  if (!parsed.success) throw invalid(definition, 'groups', id, parsed.error, ['attributes']);
  return { kind: 'group', external_id: id, deleted: false, attributes: parsed.data, raw: storedRaw(definition, 'groups', item) };
}

/**
 * The hash of what an item's record is mapped from: the whole item as received (volatile fields too, which
 * a mapping could read) under the definition's mapping fingerprint.
 */
export function sourceHashOf(definition: ProviderDefinition, item: unknown): string {
  return contentHash(definition.mappingFingerprint, JSON.stringify(item) ?? 'null');
}

/**
 * Maps a listed page of users or groups, item after item (see `mapEach` in definition-connector.ts). With
 * the resource's `idPath`, every record carries its source hash; given `restated`, the items whose hash
 * their live record already holds come back restated and are not mapped at all.
 */
export async function mapListedPage(definition: ProviderDefinition, resource: 'users' | 'groups', items: readonly unknown[], restated?: RestatedLookup): Promise<IncomingRecord[]> {
  const kind = resource === 'users' ? 'user' : 'group';
  const map = (item: unknown) => (resource === 'users' ? mapUser(definition, item) : mapGroup(definition, item));
  return mapListed(definition, resource, kind, items, (id) => id, map, restated);
}

/**
 * Maps a listed page of one group's members, item after item: users become memberships, groups nestings,
 * the others stay out. With the members' `idPath`, every record carries its source hash; given `restated`,
 * the items whose hash their live membership already holds come back restated, unmapped. (Nestings, rare,
 * are always mapped.)
 */
export async function mapListedMembers(definition: ProviderDefinition, groupExternalId: string, items: readonly unknown[], restated?: RestatedLookup): Promise<IncomingRecord[]> {
  const map = async (item: unknown) => {
    const member = await mapMember(definition, groupExternalId, item);
    return member.kind === 'ignored' ? undefined : member.record;
  };
  return mapListed(definition, 'members', 'membership', items, (id) => membershipKey(groupExternalId, id), map, restated);
}

/** The id an item carries at its resource's `idPath`, when the definition declares one and the item has it. */
function listedItemId(definition: ProviderDefinition, resource: ResourceName, item: unknown): string | undefined {
  const idPath = definition.resources[resource]?.idPath;
  if (idPath === undefined) return undefined;
  const value = getPath(item, idPath);
  return typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined;
}

/**
 * A listed page, item after item: restated where the store holds the item's record unchanged (asked once,
 * as `kind`, by the record id `keyOf` makes of the item's id), mapped otherwise, with its source hash when
 * the resource declares an id path. `map` answers nothing for an item that makes no record.
 */
async function mapListed(
  definition: ProviderDefinition,
  resource: ResourceName,
  kind: RestatedRecord['kind'],
  items: readonly unknown[],
  keyOf: (id: string) => string,
  map: (item: unknown) => Promise<Exclude<IncomingRecord, RestatedRecord> | undefined>,
  restated: RestatedLookup | undefined,
): Promise<IncomingRecord[]> {
  const out: IncomingRecord[] = [];
  if (definition.resources[resource]?.idPath === undefined) {
    for (const item of items) {
      const record = await map(item);
      if (record) out.push(record);
    }
    return out;
  }
  const listed = items.map((item) => {
    const id = listedItemId(definition, resource, item);
    return { item, key: id === undefined ? undefined : keyOf(id), source_hash: sourceHashOf(definition, item) };
  });
  // Only critical and profile runs ask; a full run maps every item.
  const known = restated ? await restated(kind, listed.flatMap(({ key, source_hash }) => (key === undefined ? [] : [{ external_id: key, source_hash }]))) : new Set<string>();
  for (const { item, key, source_hash } of listed) {
    if (key !== undefined && known.has(key)) {
      out.push({ kind, external_id: key, deleted: false, restated: source_hash });
      continue;
    }
    const record = await map(item);
    // A tombstone is no statement of an item's content: it carries no hash.
    if (record) out.push(record.deleted ? record : { ...record, source_hash });
  }
  return out;
}

/** Maps one member of the group the source knows as `groupExternalId`. */
export async function mapMember(definition: ProviderDefinition, groupExternalId: string, item: unknown): Promise<MappedMember> {
  const output = await evaluate(definition, 'members', required(definition, 'member'), item);
  const parsed = memberEnvelope.safeParse(output, REQUIRED_WORDING);
  if (!parsed.success) throw invalid(definition, 'members', itemIdOf(output, item), parsed.error, []);
  const raw = storedRaw(definition, 'members', item);
  const { type, id } = parsed.data;
  if (type === 'group') {
    return {
      kind: 'nested_group',
      record: { kind: 'group_nesting', external_id: nestingKey(groupExternalId, id), deleted: false, group_external_id: groupExternalId, child_group_external_id: id, raw },
    };
  }
  if (type === 'other') return { kind: 'ignored', group_external_id: groupExternalId, member_external_id: id, raw };
  return {
    kind: 'membership',
    record: {
      kind: 'membership',
      external_id: membershipKey(groupExternalId, id),
      deleted: false,
      group_external_id: groupExternalId,
      user_external_id: id,
      raw,
    },
  };
}

async function mapObject(definition: ProviderDefinition, resource: ResourceName, expression: CompiledExpression, item: unknown) {
  const output = await evaluate(definition, resource, expression, item);
  const parsed = objectEnvelope.safeParse(output, REQUIRED_WORDING);
  if (!parsed.success) throw invalid(definition, resource, itemIdOf(output, item), parsed.error, []);
  if (!parsed.data.deleted && parsed.data.attributes === undefined) {
    throw new MappingError(definition.id, resource, parsed.data.id, [{ path: 'attributes', message: 'Required unless deleted is true' }]);
  }
  return { id: parsed.data.id, deleted: parsed.data.deleted === true, attributes: parsed.data.attributes };
}

async function evaluate(definition: ProviderDefinition, resource: ResourceName, expression: CompiledExpression, item: unknown): Promise<unknown> {
  let output: unknown;
  try {
    output = await expression.evaluate(item);
  } catch (error) {
    const message = isRecord(error) && typeof error.message === 'string' ? error.message : String(error);
    throw new MappingError(definition.id, resource, itemIdOf(undefined, item), [{ path: '(mapping)', message: `JSONata evaluation failed: ${message}` }], {
      cause: error,
    });
  }
  // JSONata marks its result arrays (sequences) and leaves undefined-valued keys; plain JSON is what is stored.
  return output === undefined ? undefined : plainJson(output);
}

function required(definition: ProviderDefinition, key: 'group' | 'member'): CompiledExpression {
  const expression = definition.compiled[key];
  if (expression === undefined) throw new Error(`Provider "${definition.id}" has no ${key} mapping`);
  return expression;
}

function invalid(definition: ProviderDefinition, resource: ResourceName, itemId: string, error: z.ZodError, prefix: PropertyKey[]): MappingError {
  const issues = error.issues.map((issue) => ({ path: formatPath([...prefix, ...issue.path]) || '(result)', message: issue.message }));
  return new MappingError(definition.id, resource, itemId, issues);
}

/** The id to name in an error: the mapped id when there is one, else the item's own `id`. */
function itemIdOf(output: unknown, item: unknown): string {
  for (const candidate of [output, item]) {
    if (isRecord(candidate) && (typeof candidate.id === 'string' || typeof candidate.id === 'number')) return String(candidate.id);
  }
  return '(no id)';
}

/**
 * What `JSON.parse(JSON.stringify(value))` gives, without the text in between: new arrays and objects,
 * undefined-valued keys and functions dropped (null in arrays), non-finite numbers as null. Anything that
 * is not a plain object, array or primitive (a Date, a class instance) takes the JSON round trip itself.
 */
function plainJson(value: unknown): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value + 0 : null;
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) {
        const out: JsonValue[] = new Array(value.length);
        for (let i = 0; i < value.length; i++) out[i] = omittedInJson(value[i]) ? null : plainJson(value[i]);
        return out;
      }
      const prototype = Object.getPrototypeOf(value);
      if ((prototype !== Object.prototype && prototype !== null) || typeof (value as { toJSON?: unknown }).toJSON === 'function') break;
      const out: Record<string, JsonValue> = {};
      for (const key of Object.keys(value)) {
        const entry = (value as Record<string, unknown>)[key];
        if (omittedInJson(entry)) continue;
        if (key === '__proto__') Object.defineProperty(out, key, { value: plainJson(entry), enumerable: true, writable: true, configurable: true });
        else out[key] = plainJson(entry);
      }
      return out;
    }
    default:
      return null;
  }
  return JSON.parse(JSON.stringify(value) ?? 'null') as JsonValue;
}

function omittedInJson(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol';
}
