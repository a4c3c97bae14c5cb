import type { JsonObject, JsonValue } from '../core/model.ts';
import type { ScimAttribute } from './schema/attributes.ts';

/** Small JSON helpers of the SCIM writes and the PATCH engine; nothing here knows about SCIM operations. */

export function isJsonObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A deep copy, so a failed PATCH leaves the caller's resource untouched (all-or-nothing). */
export function cloneJson<T extends JsonValue>(value: T): T {
  return structuredClone(value);
}

/**
 * RFC 7643 §2.5: an absent attribute, `null`, an empty array and (for a complex value) an empty object all
 * mean "unassigned". The engine stores none of them, so "changed" and "required" compare states, not shapes.
 */
export function isAssigned(value: JsonValue | undefined): value is JsonValue {
  if (value === undefined || value === null) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isJsonObject(value)) return Object.keys(value).length > 0;
  return true;
}

/**
 * Whether two values hold the same state: structural equality with object key order ignored, array order
 * kept, and unassigned members (RFC 7643 §2.5) equal to absent ones, so `{nickName: null}` equals `{}`.
 */
export function sameState(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (!isAssigned(a) || !isAssigned(b)) return !isAssigned(a) && !isAssigned(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameState(item, b[i]));
  }
  if (isJsonObject(a) || isJsonObject(b)) {
    if (!isJsonObject(a) || !isJsonObject(b)) return false;
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((key) => sameState(a[key], b[key]));
  }
  return a === b;
}

/**
 * Equality of two values of one attribute as SCIM defines it: strings of a `caseExact: false` attribute
 * compare case-insensitively (RFC 7643 §2.2), everything else structurally.
 */
export function sameAttributeValue(attribute: ScimAttribute | undefined, a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (typeof a === 'string' && typeof b === 'string' && attribute && !attribute.caseExact) {
    return a.toLowerCase() === b.toLowerCase();
  }
  return sameState(a, b);
}

/** Sets `key` when the value is assigned, deletes it otherwise, so unassigned attributes never linger as `null`/`[]`/`{}`. */
export function setOrDelete(target: JsonObject, key: string, value: JsonValue | undefined): void {
  if (isAssigned(value)) target[key] = value;
  else delete target[key];
}

/**
 * The key under which `object` holds `name`, matched case-insensitively (attribute names are, RFC 7643 §2.1);
 * the exact spelling wins. Undefined when absent.
 */
export function keyOf(object: JsonObject, name: string): string | undefined {
  if (name in object) return name;
  const lower = name.toLowerCase();
  return Object.keys(object).find((key) => key.toLowerCase() === lower);
}

export function getMember(object: JsonObject, name: string): JsonValue | undefined {
  const key = keyOf(object, name);
  return key === undefined ? undefined : object[key];
}

/** Writes `name` in the schema's spelling, dropping a differently cased copy (`Active` → `active`). */
export function setMember(object: JsonObject, name: string, value: JsonValue | undefined): void {
  const key = keyOf(object, name);
  if (key !== undefined && key !== name) delete object[key];
  setOrDelete(object, name, value);
}
