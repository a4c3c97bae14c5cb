import type { JsonObject, JsonValue } from '../../core/model.ts';
import { mutability } from '../scim-error.ts';
import type { ScimAttribute } from '../schema/attributes.ts';
import { getMember, isAssigned, isJsonObject, sameState } from '../json-values.ts';

/**
 * RFC 7644 §3.5.2: "a client MUST NOT modify an attribute that has mutability readOnly or immutable.
 * However, a client MAY add a value to an immutable attribute if the attribute had no previous value", and
 * §3.5.2.2: removing (or unassigning) a required or read-only attribute fails with `mutability`.
 *
 * Only real changes count: writing the value an attribute already has is not a modification. That is what
 * lets Okta rename a group with `{"op":"replace","value":{"id":"<its id>","displayName":"New"}}` — the echoed
 * `id` changes nothing and is accepted; a different `id` is refused.
 */
export function assertMutable(attribute: ScimAttribute, before: JsonValue | undefined, after: JsonValue | undefined, label: string): void {
  if (sameState(before, after)) return;
  if (attribute.mutability === 'readOnly') throw mutability(`'${label}' is read-only and cannot be changed.`);
  if (attribute.mutability === 'immutable' && isAssigned(before)) {
    throw mutability(`'${label}' is immutable: it is already set to ${JSON.stringify(before)} and cannot be changed.`);
  }
  if (attribute.required && isAssigned(before) && !isAssigned(after)) {
    throw mutability(`'${label}' is required and cannot be removed.`);
  }
  if (attribute.type === 'complex' && !attribute.multiValued) assertSubAttributesMutable(attribute, before, after, label);
}

/**
 * The immutable and required sub-attributes of one complex value (a single-valued attribute, or one element
 * of a multi-valued one edited in place through a filter). Read-only sub-attributes are checked only when a
 * path names them: inside a whole value a client sends back, they are the server's to fill, not the client's.
 */
export function assertSubAttributesMutable(attribute: ScimAttribute, before: JsonValue | undefined, after: JsonValue | undefined, label: string): void {
  const was = objectOrEmpty(before);
  const now = objectOrEmpty(after);
  for (const sub of attribute.subAttributes ?? []) {
    if (sub.mutability === 'readOnly') continue;
    assertMutable(sub, getMember(was, sub.name), getMember(now, sub.name), `${label}.${sub.name}`);
  }
}

function objectOrEmpty(value: JsonValue | undefined): JsonObject {
  return isJsonObject(value) ? value : {};
}
