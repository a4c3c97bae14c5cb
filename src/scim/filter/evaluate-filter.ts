import type { JsonObject, JsonValue } from '../../core/model.ts';
import { resolveAttribute, subAttributeOf, type ResourceSchema, type ScimAttribute } from '../schema/attributes.ts';
import type { AttributePath, Filter } from './ast.ts';
import { compareValue, isPresent } from './compare-values.ts';

/**
 * Evaluates parsed filters against SCIM resources as served (core attributes at the top level, extension
 * attributes under their schema URN), by RFC 7644 §3.4.2.2: a comparison on a multi-valued attribute
 * matches when any value does, and a value path when one element satisfies its whole filter.
 */

/** Whether `resource` (a SCIM User or Group as JSON) matches `filter`, with `schema` its resource type. */
export function matchesFilter(filter: Filter, resource: JsonObject, schema: ResourceSchema): boolean {
  return evaluate(filter, resourceScope(resource, schema));
}

/**
 * Whether one element of a multi-valued attribute satisfies a value filter, e.g. an email and the
 * `type eq "work"` of `emails[type eq "work"]`. `attribute` is the multi-valued attribute's definition (its
 * sub-attributes describe the element); without it, sub-attributes compare as plain case-insensitive values.
 */
export function matchesElement(element: JsonValue, filter: Filter, attribute?: ScimAttribute): boolean {
  return isJsonObject(element) && evaluate(filter, elementScope(element, attribute));
}

/** The positions, in order, of the elements a value filter selects: what a PATCH path `emails[…]` targets. */
export function matchingElementIndexes(elements: readonly JsonValue[], filter: Filter, attribute?: ScimAttribute): number[] {
  const indexes: number[] = [];
  elements.forEach((element, index) => {
    if (matchesElement(element, filter, attribute)) indexes.push(index);
  });
  return indexes;
}

/**
 * Where a filter's attribute names are looked up: the resource at the top level; inside a value path, one
 * element of the filtered attribute (`type` in `emails[type eq "work"]` is each email's type).
 */
interface Scope {
  /** The JSON value holding the path's attribute, and the attribute's definition when the schema has one. */
  locate(path: AttributePath): { holder: JsonValue | undefined; definition: ScimAttribute | undefined };
}

function resourceScope(resource: JsonObject, schema: ResourceSchema): Scope {
  return {
    locate(path) {
      const resolved = resolveAttribute(schema, { schema: path.schema, attribute: path.attribute });
      if (resolved) {
        return { holder: resolved.extension ? member(resource, resolved.schema.id) : resource, definition: resolved.attribute };
      }
      // Unknown to the schema: the attributes of an extension it does not know still live under their URN.
      const urn = path.schema?.toLowerCase() === schema.core.id.toLowerCase() ? undefined : path.schema;
      return { holder: urn === undefined ? resource : member(resource, urn), definition: undefined };
    },
  };
}

function elementScope(element: JsonObject, attribute: ScimAttribute | undefined): Scope {
  return { locate: (path) => ({ holder: element, definition: attribute && subAttributeOf(attribute, path.attribute) }) };
}

function evaluate(filter: Filter, scope: Scope): boolean {
  switch (filter.kind) {
    case 'and':
      return evaluate(filter.left, scope) && evaluate(filter.right, scope);
    case 'or':
      return evaluate(filter.left, scope) || evaluate(filter.right, scope);
    case 'not':
      return !evaluate(filter.filter, scope);
    case 'present':
      return valuesOf(scope, filter.path).values.some(isPresent);
    case 'valuePath': {
      const { values, definition } = valuesOf(scope, filter.path);
      return values.some((element) => matchesElement(element, filter.filter, definition));
    }
    case 'compare':
      return matchesComparison(filter, scope);
  }
}

function matchesComparison(filter: Extract<Filter, { kind: 'compare' }>, scope: Scope): boolean {
  const found = valuesOf(scope, filter.path);
  // `eq null` / `ne null` ask whether the attribute is unassigned / assigned, like `not … pr` / `pr`.
  if (filter.value === null) {
    const present = found.values.some(isPresent);
    return filter.operator === 'eq' ? !present : filter.operator === 'ne' ? present : false;
  }
  const { values, definition } = simpleValues(found);
  // Nothing stored equals the value, so `ne` matches an attribute without values; every other operator needs one.
  if (values.length === 0) return filter.operator === 'ne';
  return values.some((value) => compareValue(value, filter.operator, filter.value, definition));
}

interface Found {
  values: JsonValue[];
  definition: ScimAttribute | undefined;
}

/** The values a path names in a scope, multi-valued attributes spread out, with the definition of what they are. */
function valuesOf(scope: Scope, path: AttributePath): Found {
  const { holder, definition } = scope.locate(path);
  const values = spread(member(holder, path.attribute));
  if (path.subAttribute === undefined) return { values, definition };
  const name = path.subAttribute;
  return {
    values: values.flatMap((element) => spread(member(element, name))),
    definition: definition && subAttributeOf(definition, name),
  };
}

/** `emails eq "x"`, `manager eq "id"`: a complex value compares by its `value` sub-attribute. */
function simpleValues({ values, definition }: Found): Found {
  if (!values.some(isJsonObject)) return { values, definition };
  return {
    values: values.flatMap((value) => (isJsonObject(value) ? spread(member(value, 'value')) : [value])),
    definition: definition?.type === 'complex' ? subAttributeOf(definition, 'value') : definition,
  };
}

/** A value as a list of values: nothing for unassigned, the elements of a multi-valued one. */
function spread(value: JsonValue | undefined): JsonValue[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value.filter((element) => element !== null) : [value];
}

/** A member of a JSON object by attribute name, case-insensitively (RFC 7643 §2.1), the exact key first. */
function member(holder: JsonValue | undefined, name: string): JsonValue | undefined {
  if (!isJsonObject(holder)) return undefined;
  if (Object.hasOwn(holder, name)) return holder[name];
  const lower = name.toLowerCase();
  const key = Object.keys(holder).find((candidate) => candidate.toLowerCase() === lower);
  return key === undefined ? undefined : holder[key];
}

function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
