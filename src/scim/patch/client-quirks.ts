import type { JsonObject, JsonValue } from '../../core/model.ts';
import type { Filter } from '../filter/ast.ts';
import { invalidPath } from '../scim-error.ts';
import { subAttributeOf, type ScimAttribute } from '../schema/attributes.ts';
import { coerceAttributeValue } from '../schema/coerce.ts';
import { isJsonObject, sameAttributeValue, setMember } from '../json-values.ts';
import { isReferenceList } from './multi-valued.ts';
import type { PatchTarget } from './patch-target.ts';

/**
 * PATCH forms that RFC 7644 does not define but that real provisioning clients send, each behind one
 * function so the RFC logic in apply-operation.ts stays readable and these stay easy to find.
 *
 * Value-level leniency is not here but in schema/coerce.ts, shared with POST and PUT so that every write
 * accepts the same values: booleans as strings (`"False"`, Entra ID without `aadOptscim062020`), a bare id
 * for a `{value}` element or complex value (`"members": "ID"`, Entra's `manager` as a plain id), a lone
 * object for a multi-valued attribute, attribute names in any case (`name.FamilyName`). Okta's group rename
 * echoing the group's `id` in a path-less replace needs no special case: writing the value an attribute
 * already has is no modification (mutability.ts).
 */

/**
 * Entra ID: `replace`/`add` of `emails[type eq "work"].value` on a user who has no work email. RFC 7644
 * §3.5.2.3 answers `noTarget`; Entra expects the element to be created, and so does any client that uses a
 * filter to *address* an element rather than to find one. The new element carries the filter's `eq` terms
 * (`{type: "work"}`), so the same path finds it next time.
 *
 * Only a filter made of `attr eq value` terms joined by `and` describes an element; anything else
 * (`co`, `or`, `not`…) returns undefined and the operation fails with `noTarget` as the RFC says.
 */
export function elementFromFilter(target: PatchTarget, filter: Filter): JsonObject | undefined {
  if (target.attribute.type !== 'complex') return undefined;
  const terms = equalityTerms(filter);
  if (terms === undefined) return undefined;
  const element: JsonObject = {};
  for (const term of terms) {
    if (term.path.subAttribute !== undefined) return undefined;
    const sub = subAttributeOf(target.attribute, term.path.attribute);
    if (!sub) throw invalidPath(`'${target.label}': '${target.attribute.name}' has no sub-attribute '${term.path.attribute}'.`);
    // `$ref eq null` describes an element without a `$ref`: nothing to set.
    if (term.value === null) continue;
    setMember(element, sub.name, coerceAttributeValue(sub, term.value, `${target.label} (${sub.name})`));
  }
  return Object.keys(element).length > 0 ? element : undefined;
}

type EqualityTerm = Extract<Filter, { kind: 'compare' }>;

/** The `eq` comparisons of a filter that is nothing but `eq` comparisons joined by `and`; else undefined. */
function equalityTerms(filter: Filter): EqualityTerm[] | undefined {
  if (filter.kind === 'compare') return filter.operator === 'eq' ? [filter] : undefined;
  if (filter.kind !== 'and') return undefined;
  const left = equalityTerms(filter.left);
  const right = equalityTerms(filter.right);
  return left && right ? [...left, ...right] : undefined;
}

/**
 * `remove` with a `value` and a path naming the whole multi-valued attribute, which RFC 7644 §3.5.2.2 does
 * not define (a remove carries no value) but clients send:
 * - Entra ID's default member removal: `{"op":"Remove","path":"members","value":[{"$ref":null,"value":"ID"}]}`;
 * - `{"op":"remove","path":"emails","value":{"type":"home"}}`: remove the elements matching the given sub-attributes.
 * Reads the value as a list of element descriptions (coerced like any value, which drops Entra's `"$ref": null`:
 * an unknown `$ref`, not a demand that there be none).
 */
export function removalDescriptions(target: PatchTarget, value: JsonValue): JsonValue[] {
  const coerced = coerceAttributeValue(target.attribute, value, target.label);
  return Array.isArray(coerced) ? coerced : [coerced];
}

/**
 * Whether an element fits a removal description: a member (reference list) is named by its `value` alone,
 * whatever `display` came with it; other elements must match every sub-attribute given. An empty description
 * matches nothing, so `[{"$ref": null}]` cannot empty a group.
 */
export function matchesDescription(attribute: ScimAttribute, element: JsonValue, description: JsonValue): boolean {
  if (!isJsonObject(description) || !isJsonObject(element)) return sameAttributeValue(attribute, element, description);
  if (isReferenceList(attribute) && description.value !== undefined) {
    return sameAttributeValue(subAttributeOf(attribute, 'value'), element.value, description.value);
  }
  const given = Object.entries(description);
  return given.length > 0 && given.every(([name, wanted]) => sameAttributeValue(subAttributeOf(attribute, name), element[name], wanted));
}
