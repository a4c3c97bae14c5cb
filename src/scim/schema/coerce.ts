import type { JsonObject, JsonValue } from '../../core/model.ts';
import { invalidValue } from '../scim-error.ts';
import { subAttributeOf, type ScimAttribute } from './attributes.ts';

/**
 * Brings a value a client sent for an attribute into the form the schema defines, or refuses it with
 * `invalidValue` naming the attribute. The leniency real clients need lives here, in one place:
 * - booleans as strings (`"True"`, `"false"`): Entra ID sends them unless its `aadOptscim062020` flag is on;
 * - a single value for a multi-valued attribute, and a bare id for a `{value}` element (`"members":"ID"`);
 * - sub-attribute names in any case, written back in the schema's case (`name.FamilyName`).
 * `null` means "no value" (RFC 7643 §2.5) and is returned as is; the caller clears the attribute.
 */
export function coerceAttributeValue(attribute: ScimAttribute, value: unknown, path: string = attribute.name): JsonValue {
  if (value === null || value === undefined) return null;
  if (!attribute.multiValued) return coerceSingle(attribute, value, path);
  const items = Array.isArray(value) ? value : [value];
  return items.filter((item) => item !== null).map((item, index) => coerceSingle(attribute, item, `${path}[${index}]`));
}

/** One value (an element, for a multi-valued attribute). */
export function coerceSingle(attribute: ScimAttribute, value: unknown, path: string): JsonValue {
  if (attribute.type === 'complex') return coerceComplex(attribute, value, path);
  return coerceSimple(attribute, value, path);
}

/**
 * Sub-attribute names clients use for another one: Microsoft's suite names a member's `display` as
 * `displayName`. Applied only where the attribute has no sub-attribute of the name sent.
 */
const SUB_ATTRIBUTE_ALIASES: Record<string, string> = { displayname: 'display' };

function coerceComplex(attribute: ScimAttribute, value: unknown, path: string): JsonObject {
  // `"members": "ID"` and `"manager": "ID"`: a bare scalar stands for the element's `value`.
  if (typeof value === 'string' || typeof value === 'number') {
    if (subAttributeOf(attribute, 'value')) return { value: String(value) };
    throw invalidValue(`'${path}' must be an object.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidValue(`'${path}' must be an object.`);
  }
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    const sub = subAttributeOf(attribute, key) ?? subAttributeOf(attribute, SUB_ATTRIBUTE_ALIASES[key.toLowerCase()] ?? '');
    // Sub-attributes the schema does not define are dropped, like unknown attributes elsewhere.
    if (!sub) continue;
    const coerced = coerceSimple(sub, item, `${path}.${sub.name}`);
    if (coerced !== null) out[sub.name] = coerced;
  }
  return out;
}

function coerceSimple(attribute: ScimAttribute, value: unknown, path: string): JsonValue {
  if (value === null || value === undefined) return null;
  switch (attribute.type) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
      throw invalidValue(`'${path}' must be a boolean (true or false), got ${describe(value)}.`);
    case 'integer':
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
      throw invalidValue(`'${path}' must be an integer, got ${describe(value)}.`);
    case 'decimal':
      if (typeof value === 'number') return value;
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
      throw invalidValue(`'${path}' must be a number, got ${describe(value)}.`);
    case 'dateTime':
      if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return value;
      throw invalidValue(`'${path}' must be an xsd:dateTime string, got ${describe(value)}.`);
    case 'complex':
      throw invalidValue(`'${path}' must not be nested this deep.`);
    default:
      // string, reference, binary: numbers and booleans are taken as their text, as clients often send ids as numbers.
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      throw invalidValue(`'${path}' must be a string, got ${describe(value)}.`);
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return JSON.stringify(value);
}
