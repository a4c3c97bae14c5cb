import type { JsonObject, JsonValue } from '../../core/model.ts';
import type { Filter } from '../filter/ast.ts';
import { matchesFilter } from '../filter/evaluate-filter.ts';
import type { ResourceSchema } from '../schema/attributes.ts';
import type { PatchTarget } from './patch-target.ts';

/**
 * Whether one element of a multi-valued attribute matches the value filter of a PATCH path
 * (`emails[type eq "work"]` → is this email's type "work"?).
 *
 * The filter module's evaluator works on whole resources, so the element is put alone into a one-element
 * copy of its attribute and asked as `emails[type eq "work"]`: the same comparison rules (caseExact, types,
 * `pr`, `and`/`or`/`not`) as for `GET ?filter=`, with nothing reimplemented here.
 */
export function elementMatches(target: PatchTarget, element: JsonValue, filter: Filter, schema: ResourceSchema): boolean {
  const name = target.attribute.name;
  const alone: JsonObject = target.extension ? { [target.extension]: { [name]: [element] } } : { [name]: [element] };
  const valuePath: Filter = { kind: 'valuePath', path: { schema: target.extension, attribute: name }, filter };
  return matchesFilter(valuePath, alone, schema);
}

/** The positions of the elements a value filter selects. */
export function selectElements(target: PatchTarget, elements: readonly JsonValue[], filter: Filter, schema: ResourceSchema): number[] {
  const selected: number[] = [];
  elements.forEach((element, index) => {
    if (elementMatches(target, element, filter, schema)) selected.push(index);
  });
  return selected;
}
