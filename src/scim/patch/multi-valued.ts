import type { JsonValue } from '../../core/model.ts';
import { subAttributeOf, type ScimAttribute } from '../schema/attributes.ts';
import { isJsonObject, sameAttributeValue, sameState } from '../json-values.ts';

/** The rules of RFC 7643 §2.4 multi-valued attributes that PATCH needs: element identity and `primary`. */

/**
 * Multi-valued attributes whose elements point at another resource (`members`, `groups`: a `value` id and a
 * `$ref`). Such an element *is* its `value`: the same id twice is the same member, whatever `display` or
 * `type` came with it.
 */
export function isReferenceList(attribute: ScimAttribute): boolean {
  return attribute.multiValued && subAttributeOf(attribute, 'value') !== undefined && subAttributeOf(attribute, '$ref') !== undefined;
}

/**
 * Whether two elements are the same value of the attribute, so that adding one already present changes
 * nothing (RFC 7643 §2.4: duplicates SHOULD NOT be kept): same `value` for reference lists, else an exact
 * duplicate. This is what makes a retried member add (Entra ID retries) a no-op.
 */
export function sameElement(attribute: ScimAttribute, a: JsonValue, b: JsonValue): boolean {
  if (isReferenceList(attribute) && isJsonObject(a) && isJsonObject(b) && a.value !== undefined && b.value !== undefined) {
    return sameAttributeValue(subAttributeOf(attribute, 'value'), a.value, b.value);
  }
  return sameState(a, b);
}

/** `current` with the `incoming` elements not already in it appended; those appended are reported by index. */
export function appendElements(attribute: ScimAttribute, current: readonly JsonValue[], incoming: readonly JsonValue[]): { elements: JsonValue[]; added: number[] } {
  const elements = [...current];
  const added: number[] = [];
  for (const item of incoming) {
    if (elements.some((element) => sameElement(attribute, element, item))) continue;
    added.push(elements.length);
    elements.push(item);
  }
  return { elements, added };
}

/**
 * RFC 7643 §2.4: `primary: true` appears at most once. When one of the elements just written is primary,
 * the others stop being so (their `primary` is cleared, which reads as false).
 */
export function keepOnePrimary(elements: JsonValue[], written: readonly number[]): void {
  const winner = [...written].reverse().find((index) => isPrimary(elements[index]));
  if (winner === undefined) return;
  elements.forEach((element, index) => {
    if (index === winner || !isJsonObject(element) || !isPrimary(element)) return;
    const { primary: _cleared, ...rest } = element;
    elements[index] = rest;
  });
}

function isPrimary(element: JsonValue | undefined): boolean {
  return isJsonObject(element) && element.primary === true;
}

/** An attribute's current value as a list of elements: absent and `null` are none, a lone value is one. */
export function asElements(value: JsonValue | undefined): JsonValue[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? [...value] : [value];
}
