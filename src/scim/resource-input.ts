import type { JsonObject, JsonValue } from '../core/model.ts';
import { isJsonObject, setOrDelete } from './json-values.ts';
import { invalidSyntax, invalidValue } from './scim-error.ts';
import { resolveAttribute, schemaIds, splitSchemaUrn, type ResourceSchema } from './schema/attributes.ts';
import { coerceAttributeValue } from './schema/coerce.ts';

/** A POST or PUT body, brought into the schema's shape. */
export interface ResourceInput {
  /** Core attributes at the top level, extension attributes under their URN; no id, meta, password or read-only attributes. */
  resource: JsonObject;
  /** Group bodies: the members given (undefined when the body has no `members`). */
  members?: JsonObject[] | undefined;
  /** User bodies: the groups Okta names inside the user (read-only in RFC 7643, honoured as membership adds). */
  groups?: string[] | undefined;
}

/**
 * Reads a resource body the way real clients send it: attribute names in any case, extension attributes
 * either under their URN object or URN-qualified at the top level, string booleans, single values for
 * multi-valued attributes. Attributes the schema does not define are ignored (RFC 7644 §3.3: the service
 * provider may ignore what it does not support); read-only ones are ignored as RFC 7643 §2.2 says.
 */
export function readResourceInput(body: unknown, schema: ResourceSchema): ResourceInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidSyntax('The request body must be a JSON object.');
  const input = body as JsonObject;
  checkSchemas(input.schemas, schema);

  const resource: JsonObject = {};
  const out: ResourceInput = { resource };
  const extensionIds = new Map(schema.extensions.map((e) => [e.schema.id.toLowerCase(), e.schema.id]));

  for (const [key, value] of Object.entries(input)) {
    const lower = key.toLowerCase();
    if (lower === 'schemas' || lower === 'id' || lower === 'meta') continue;
    const extensionId = extensionIds.get(lower);
    if (extensionId !== undefined) {
      if (value === null) continue;
      if (typeof value !== 'object' || Array.isArray(value)) throw invalidValue(`'${extensionId}' must be an object of its attributes.`);
      for (const [name, item] of Object.entries(value)) assign(resource, out, schema, { schema: extensionId, attribute: name }, item, `${extensionId}:${name}`);
      continue;
    }
    const { schema: urn, rest } = splitSchemaUrn(schema, key);
    const [attribute, subAttribute] = rest.split('.', 2) as [string, string | undefined];
    assign(resource, out, schema, { schema: urn, attribute, subAttribute }, value, key);
  }

  const required = schema.name === 'User' ? 'userName' : 'displayName';
  const requiredValue = resource[required];
  if (typeof requiredValue !== 'string' || requiredValue.trim() === '') {
    throw invalidValue(`'${required}' is required and must be a non-empty string.`);
  }
  return out;
}

function checkSchemas(schemas: JsonValue | undefined, schema: ResourceSchema): void {
  if (schemas === undefined) return;
  if (!Array.isArray(schemas) || schemas.some((s) => typeof s !== 'string')) throw invalidSyntax("'schemas' must be an array of schema URIs.");
  const otherCore = (schemas as string[]).find(
    (s) => /^urn:ietf:params:scim:schemas:core:2\.0:/i.test(s) && s.toLowerCase() !== schema.core.id.toLowerCase(),
  );
  if (otherCore) throw invalidValue(`'schemas' names ${otherCore}, which is not the schema of a ${schema.name} (${schemaIds(schema).join(', ')}).`);
}

function assign(
  resource: JsonObject,
  out: ResourceInput,
  schema: ResourceSchema,
  path: { schema?: string | undefined; attribute: string; subAttribute?: string | undefined },
  value: JsonValue,
  written: string,
): void {
  const resolved = resolveAttribute(schema, path);
  if (!resolved) return;
  const { attribute, subAttribute } = resolved;
  if (schema.name === 'User' && attribute.name === 'groups') {
    out.groups = membersOf(coerceAttributeValue(attribute, value, written), 'groups').map((g) => g.value as string);
    return;
  }
  if (attribute.mutability === 'readOnly' || attribute.mutability === 'writeOnly' || attribute.name === 'id' || attribute.name === 'meta') return;
  const target = resolved.extension ? objectAt(resource, resolved.schema.id) : resource;
  if (subAttribute) {
    setOrDelete(objectAt(target, attribute.name), subAttribute.name, coerceAttributeValue(subAttribute, value, written));
    return;
  }
  const coerced = coerceAttributeValue(attribute, value, written);
  if (schema.name === 'Group' && attribute.name === 'members') {
    out.members = membersOf(coerced);
    return;
  }
  setOrDelete(target, attribute.name, coerced);
}

function objectAt(target: JsonObject, key: string): JsonObject {
  const current = target[key];
  if (isJsonObject(current)) return current;
  const created: JsonObject = {};
  target[key] = created;
  return created;
}

/** Members need a `value` (the member's id); the rest of each member object is kept as sent. */
export function membersOf(value: JsonValue, attribute = 'members'): JsonObject[] {
  const members = Array.isArray(value) ? value.filter(isJsonObject) : [];
  members.forEach((member, index) => {
    if (typeof member.value !== 'string' || member.value === '') throw invalidValue(`'${attribute}[${index}].value' is required: the id it refers to.`);
  });
  return members;
}

