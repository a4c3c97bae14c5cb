import { z } from 'zod';
import { USER_STATES, type JsonValue, type NormalizedGroup, type NormalizedUser } from '../core/model.ts';

/**
 * What any source feeds in: upserts and tombstones of users, groups and memberships, each keyed by the
 * id the source guarantees, with the raw payload kept as received.
 */
// NUL cannot be stored in a PostgreSQL text column, and no source uses it in an id.
const externalId = z.string().min(1).max(512).regex(/^[^\u0000]*$/, 'must not contain NUL');
const text = z.string().max(2048).nullable().optional();
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD').nullable().optional();
/**
 * Any JSON value. What reaches these schemas is JSON by construction (a parsed request body, a mapping's
 * output made plain JSON), so nothing is checked: walking every value of every payload through a
 * recursive union cost more than the rest of a record's validation together, and could never fail.
 */
const json = z.unknown().meta({ id: 'JsonValue', description: 'Any JSON value.' }) as unknown as z.ZodType<JsonValue>;

export const userAttributesSchema = z.strictObject({
  email: z.string().max(320).nullable().optional(),
  emails: z.array(z.string().max(320)).max(50).optional(),
  username: text,
  employee_id: z.string().max(256).nullable().optional(),
  first_name: text,
  last_name: text,
  display_name: text,
  department: text,
  title: text,
  manager: z
    .strictObject({
      employee_id: z.string().max(256).optional(),
      email: z.string().max(320).optional(),
      external_id: externalId.optional(),
    })
    .nullable()
    .optional(),
  state: z.enum(USER_STATES).nullable().optional(),
  start_date: isoDate,
  end_date: isoDate,
  custom_attributes: z.record(z.string().max(200), json).optional(),
});

export const groupAttributesSchema = z.strictObject({
  name: z.string().min(1).max(1024),
  description: text,
  email: z.string().max(320).nullable().optional(),
});

/**
 * One schema per kind (a discriminated union on `kind`), so a bad record gets an error naming its exact
 * field rather than "matches none of the alternatives". `deleted: true` makes the record a tombstone.
 */
function upsertOrTombstone<T extends { deleted?: true | undefined; attributes?: unknown }>(record: T, ctx: z.RefinementCtx) {
  if (!record.deleted && record.attributes === undefined) {
    ctx.addIssue({ code: 'custom', path: ['attributes'], message: 'Required unless deleted is true' });
  }
  if (record.deleted && record.attributes !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['attributes'], message: 'must be omitted when deleted is true' });
  }
}
const deleted = z.literal(true).optional().describe('The source says this object is gone: store a tombstone.');

const userRecord = z
  .strictObject({ kind: z.literal('user'), id: externalId, attributes: userAttributesSchema.optional(), raw: json.optional(), deleted })
  .superRefine(upsertOrTombstone);
const groupRecord = z
  .strictObject({ kind: z.literal('group'), id: externalId, attributes: groupAttributesSchema.optional(), raw: json.optional(), deleted })
  .superRefine(upsertOrTombstone);
const membershipRecord = z.strictObject({
  kind: z.literal('membership'),
  group_id: externalId,
  user_id: externalId,
  raw: json.optional(),
  deleted,
});

export const incomingRecordSchema = z.discriminatedUnion('kind', [userRecord, groupRecord, membershipRecord]);
export type IncomingRecordInput = z.infer<typeof incomingRecordSchema>;

export const MAX_RECORDS_PER_REQUEST = 5000;

export const recordBatchSchema = z.strictObject({
  records: z.array(incomingRecordSchema).min(1).max(MAX_RECORDS_PER_REQUEST),
});

/**
 * A record statement in the form the reconciler works with. A listed user, group or member carries the
 * hash of what it was mapped from (`source_hash`, see migration 008); a listing that finds that hash stored on the
 * live record restates it instead, unmapped.
 */
export type IncomingRecord =
  | { kind: 'user'; external_id: string; deleted: false; attributes: NormalizedUser; raw: JsonValue; source_hash?: string }
  | { kind: 'group'; external_id: string; deleted: false; attributes: NormalizedGroup; raw: JsonValue; source_hash?: string }
  | RestatedRecord
  | {
      kind: 'membership';
      external_id: string;
      deleted: boolean;
      group_external_id: string;
      user_external_id: string;
      raw: JsonValue;
      source_hash?: string;
    }
  | {
      /** A group inside a group (Google members of type GROUP, Graph group members): kept apart from user memberships. */
      kind: 'group_nesting';
      external_id: string;
      deleted: boolean;
      group_external_id: string;
      child_group_external_id: string;
      raw: JsonValue;
      source_hash?: string;
    }
  | { kind: 'user' | 'group'; external_id: string; deleted: true };

/**
 * A listed user, group or member whose provider item and mapping are the ones its live stored record was
 * mapped from (the same `source_hash`): it is current, and nothing of it needs mapping, comparing or writing.
 */
export interface RestatedRecord {
  kind: 'user' | 'group' | 'membership' | 'group_nesting';
  external_id: string;
  deleted: false;
  restated: string;
}

/** A nesting's key: the pair of groups, encoded like a membership's (the kinds keep them apart). */
export function nestingKey(groupExternalId: string, childGroupExternalId: string): string {
  return JSON.stringify([groupExternalId, childGroupExternalId]);
}

/** Memberships have no id of their own at most sources; their key is the pair, unambiguously encoded. */
export function membershipKey(groupExternalId: string, userExternalId: string): string {
  return JSON.stringify([groupExternalId, userExternalId]);
}

export function toIncoming(input: IncomingRecordInput): IncomingRecord {
  if (input.kind === 'membership') {
    return {
      kind: 'membership',
      external_id: membershipKey(input.group_id, input.user_id),
      deleted: input.deleted === true,
      group_external_id: input.group_id,
      user_external_id: input.user_id,
      raw: input.raw ?? null,
    };
  }
  if (input.deleted) return { kind: input.kind, external_id: input.id, deleted: true };
  if (input.kind === 'user') {
    return { kind: 'user', external_id: input.id, deleted: false, attributes: input.attributes!, raw: input.raw ?? null };
  }
  return { kind: 'group', external_id: input.id, deleted: false, attributes: input.attributes as NormalizedGroup, raw: input.raw ?? null };
}
