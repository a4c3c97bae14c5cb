import type { JsonValue } from '../../core/model.ts';
import type { AttributePath } from '../filter/ast.ts';
import { invalidValue } from '../scim-error.ts';
import { schemaIds, splitSchemaUrn, type ResourceSchema } from '../schema/attributes.ts';
import { addValue, replaceValue, type PatchContext } from './apply-operation.ts';
import { isJsonObject } from '../json-values.ts';
import { targetOf, type PatchTarget } from './patch-target.ts';

/**
 * RFC 7644 §3.5.2.1 and §3.5.2.3 without a `path`: the value is a partial resource, each of its keys an
 * attribute to add or replace. Keys take every form clients use:
 * - `active`, `Active` (Okta's `{"op":"replace","value":{"active":false}}`);
 * - `name.givenName` (Entra ID with `aadOptscim062020`);
 * - `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`;
 * - `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User` with an object of that extension's attributes.
 * `schemas` is ignored: which schemas a resource uses follows from the attributes it has.
 */
export function applyPathless(context: PatchContext, op: 'add' | 'replace', value: JsonValue | undefined): void {
  if (!isJsonObject(value)) {
    throw invalidValue(`${op} without a "path" needs an object "value" of attributes, got ${describe(value)}.`);
  }
  for (const [key, item] of Object.entries(value)) {
    for (const entry of entriesOfKey(context.schema, key, item)) {
      if (op === 'add') addValue(context, entry.target, entry.value);
      else replaceValue(context, entry.target, entry.value, { mergeComplex: true });
    }
  }
}

interface Entry {
  target: PatchTarget;
  value: JsonValue;
}

function entriesOfKey(schema: ResourceSchema, key: string, value: JsonValue): Entry[] {
  if (key.toLowerCase() === 'schemas') return [];
  const schemaId = schemaIds(schema).find((id) => id.toLowerCase() === key.toLowerCase());
  if (schemaId === undefined) return [{ target: targetOf(attributePath(schema, key), key, schema), value }];

  if (!isJsonObject(value)) throw invalidValue(`'${schemaId}' must be an object of that schema's attributes, got ${describe(value)}.`);
  return Object.entries(value).map(([name, item]) => ({
    target: targetOf({ ...dotted(name), schema: schemaId }, `${schemaId}:${name}`, schema),
    value: item,
  }));
}

/** `urn:…:User:manager.value` → its schema URN, attribute and sub-attribute. */
function attributePath(schema: ResourceSchema, key: string): AttributePath {
  const { schema: urn, rest } = splitSchemaUrn(schema, key);
  return { ...dotted(rest), schema: urn };
}

function dotted(name: string): AttributePath {
  const dot = name.indexOf('.');
  return dot < 0 ? { attribute: name } : { attribute: name.slice(0, dot), subAttribute: name.slice(dot + 1) };
}

function describe(value: JsonValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : JSON.stringify(value);
}
