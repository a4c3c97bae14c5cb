import type { JsonObject, JsonValue } from '../../core/model.ts';
import type { Filter } from '../filter/ast.ts';
import { matchingElementIndexes } from '../filter/evaluate-filter.ts';
import { invalidValue, noTarget } from '../scim-error.ts';
import type { ResourceSchema, ScimAttribute } from '../schema/attributes.ts';
import { coerceAttributeValue, coerceSingle } from '../schema/coerce.ts';
import { elementFromFilter, matchesDescription, removalDescriptions } from './client-quirks.ts';
import { getMember, isAssigned, isJsonObject, setMember } from '../json-values.ts';
import { appendElements, asElements, keepOnePrimary } from './multi-valued.ts';
import { assertMutable, assertSubAttributesMutable } from './mutability.ts';
import { canonicalName, type PatchTarget } from './patch-target.ts';

/**
 * RFC 7644 §3.5.2.1–3: `add`, `replace` and `remove` of one resolved target. Values are brought into the
 * schema's shape by schema/coerce.ts (types, canonical names, lone values for lists) before they are written;
 * every write of a top-level attribute goes through `writeAttribute`, which enforces mutability.
 */

/** The resource being patched (the engine's own deep copy) and the schema that says what its attributes are. */
export interface PatchContext {
  resource: JsonObject;
  schema: ResourceSchema;
}

type Edit = 'add' | 'replace';

/**
 * §3.5.2.1 add: a single value is set, a complex value is merged into the current one, and the elements of a
 * multi-valued attribute are appended, skipping those already present (so a repeated member add is a no-op).
 */
export function addValue(context: PatchContext, target: PatchTarget, value: JsonValue | undefined): void {
  if (value === undefined || value === null) throw invalidValue(`add of '${target.label}' needs a "value".`);
  if (target.filter) return editSelected(context, target, target.filter, 'add', value);
  if (target.subAttribute) return editEveryElement(context, target, 'add', value);

  const { attribute } = target;
  const incoming = coerceAttributeValue(attribute, value, target.label);
  const current = readAttribute(context, target);
  if (attribute.multiValued) {
    const { elements, added } = appendElements(attribute, asElements(current), asElements(incoming));
    keepOnePrimary(elements, added);
    return writeAttribute(context, target, elements);
  }
  writeAttribute(context, target, attribute.type === 'complex' ? merged(current, incoming) : incoming);
}

export interface ReplaceOptions {
  /**
   * Merge a complex single-valued value into the current one instead of replacing it. Path-less replaces do
   * (their value is a partial resource, and §3.5.2.3 leaves unnamed sub-attributes unchanged); a replace whose
   * path names the complex attribute replaces its whole value, as §3.5.2.3's single-value rule says.
   */
  mergeComplex: boolean;
}

/** §3.5.2.3 replace: the value is replaced (a whole list when no filter narrows it); `null` unassigns it. */
export function replaceValue(context: PatchContext, target: PatchTarget, value: JsonValue | undefined, options: ReplaceOptions): void {
  if (value === undefined) throw invalidValue(`replace of '${target.label}' needs a "value".`);
  if (target.filter) return editSelected(context, target, target.filter, 'replace', value);
  if (target.subAttribute) return editEveryElement(context, target, 'replace', value);

  const { attribute } = target;
  const incoming = coerceAttributeValue(attribute, value, target.label);
  const merge = options.mergeComplex && attribute.type === 'complex' && !attribute.multiValued && incoming !== null;
  writeAttribute(context, target, merge ? merged(readAttribute(context, target), incoming) : incoming);
}

/**
 * §3.5.2.2 remove: the attribute, a sub-attribute, or the elements a filter selects. A multi-valued path with
 * a `value` removes the elements the value describes (a client form, see client-quirks.ts).
 */
export function removeValue(context: PatchContext, target: PatchTarget, value: JsonValue | undefined): void {
  if (target.filter) return removeSelected(context, target, target.filter);
  if (target.subAttribute) return removeSubAttribute(context, target, target.subAttribute);
  if (target.attribute.multiValued && value !== undefined && value !== null) return removeDescribed(context, target, value);
  writeAttribute(context, target, undefined);
}

/**
 * `emails[type eq "work"]` and `emails[type eq "work"].value`: edits the selected elements in place. When
 * none matches, an element described by the filter is created (client-quirks.ts) or §3.5.2.3's `noTarget`
 * is returned.
 */
function editSelected(context: PatchContext, target: PatchTarget, filter: Filter, edit: Edit, value: JsonValue): void {
  const elements = asElements(readAttribute(context, target));
  let selected = matchingElementIndexes(elements, filter, target.attribute);
  let created: number | undefined;
  if (selected.length === 0) {
    const element = elementFromFilter(target, filter);
    if (!element) throw noTarget(`'${target.label}' selects no element of '${canonicalName({ ...target, subAttribute: undefined })}'.`);
    created = elements.push(element) - 1;
    selected = [created];
  }
  for (const index of selected) elements[index] = editedElement(target, elements[index] ?? null, edit, value, index === created);
  keepOnePrimary(elements, selected);
  writeAttribute(context, target, elements);
}

/** A sub-attribute path without a filter: `name.givenName` on the one value, `emails.type` on every element. */
function editEveryElement(context: PatchContext, target: PatchTarget, edit: Edit, value: JsonValue): void {
  const current = readAttribute(context, target);
  if (!target.attribute.multiValued) return writeAttribute(context, target, editedElement(target, current ?? null, edit, value, false));
  const elements = asElements(current);
  if (elements.length === 0) throw noTarget(`'${target.label}' names a sub-attribute of '${target.attribute.name}', which has no elements.`);
  const edited = elements.map((element) => editedElement(target, element, edit, value, false));
  keepOnePrimary(edited, edited.map((_, index) => index));
  writeAttribute(context, target, edited);
}

/**
 * One complex value (or list element) after an edit: its sub-attribute set, or the whole value merged (add,
 * or an element just created from a filter) or replaced. Changes to existing values are checked against the
 * sub-attributes' mutability; a new element has nothing to protect.
 */
function editedElement(target: PatchTarget, element: JsonValue, edit: Edit, value: JsonValue, isNew: boolean): JsonValue {
  const { attribute, subAttribute } = target;
  if (subAttribute) {
    const current = isJsonObject(element) ? element : {};
    const incoming = coerceAttributeValue(subAttribute, value, target.label);
    if (!isNew) assertMutable(subAttribute, getMember(current, subAttribute.name), incoming, target.label);
    const next = { ...current };
    setMember(next, subAttribute.name, incoming);
    return next;
  }
  const incoming = coerceSingle(attribute, value, target.label);
  if (attribute.type !== 'complex') return incoming;
  const next = edit === 'add' || isNew ? merged(element, incoming) : incoming;
  if (!isNew) assertSubAttributesMutable(attribute, element, next, target.label);
  return next;
}

function removeSelected(context: PatchContext, target: PatchTarget, filter: Filter): void {
  const elements = asElements(readAttribute(context, target));
  const selected = new Set(matchingElementIndexes(elements, filter, target.attribute));
  // §3.5.2.2 defines no error for a filter that matches nothing (unlike replace): what is already gone is
  // left gone, so a retried member removal (Okta and Entra ID retry) succeeds instead of failing.
  if (selected.size === 0) return;
  const { subAttribute } = target;
  const next = subAttribute
    ? elements.map((element, index) => (selected.has(index) ? withoutSubAttribute(element, subAttribute, target.label) : element))
    : elements.filter((_, index) => !selected.has(index));
  writeAttribute(context, target, next.filter(isAssigned));
}

function removeSubAttribute(context: PatchContext, target: PatchTarget, subAttribute: ScimAttribute): void {
  const current = readAttribute(context, target);
  const next = target.attribute.multiValued
    ? asElements(current).map((element) => withoutSubAttribute(element, subAttribute, target.label)).filter(isAssigned)
    : withoutSubAttribute(current ?? null, subAttribute, target.label);
  writeAttribute(context, target, next);
}

function withoutSubAttribute(element: JsonValue, subAttribute: ScimAttribute, label: string): JsonValue {
  if (!isJsonObject(element)) return element;
  assertMutable(subAttribute, getMember(element, subAttribute.name), undefined, label);
  const next = { ...element };
  setMember(next, subAttribute.name, undefined);
  return next;
}

function removeDescribed(context: PatchContext, target: PatchTarget, value: JsonValue): void {
  const descriptions = removalDescriptions(target, value);
  const elements = asElements(readAttribute(context, target));
  const kept = elements.filter((element) => !descriptions.some((description) => matchesDescription(target.attribute, element, description)));
  writeAttribute(context, target, kept);
}

/** A complex value with another merged over it, sub-attribute by sub-attribute (the incoming value wins). */
function merged(current: JsonValue | undefined, incoming: JsonValue): JsonValue {
  if (!isJsonObject(current) || !isJsonObject(incoming)) return incoming;
  const next = { ...current };
  for (const [name, value] of Object.entries(incoming)) setMember(next, name, value);
  return next;
}

/** The object an attribute lives in: the resource, or its extension's object (`resource[urn]`). */
function holderOf(context: PatchContext, target: PatchTarget): JsonObject | undefined {
  if (target.extension === undefined) return context.resource;
  const holder = getMember(context.resource, target.extension);
  return isJsonObject(holder) ? holder : undefined;
}

function readAttribute(context: PatchContext, target: PatchTarget): JsonValue | undefined {
  const holder = holderOf(context, target);
  return holder === undefined ? undefined : getMember(holder, target.attribute.name);
}

/**
 * The one place a top-level attribute is written: mutability is checked against its current value, the name
 * is written in the schema's case, unassigned values (null, [], {}) are removed, and an extension object left
 * empty goes too.
 */
function writeAttribute(context: PatchContext, target: PatchTarget, value: JsonValue | undefined): void {
  const label = canonicalName({ ...target, subAttribute: undefined });
  assertMutable(target.attribute, readAttribute(context, target), value, label);
  if (target.extension === undefined) return setMember(context.resource, target.attribute.name, value);
  const holder = { ...holderOf(context, target) };
  setMember(holder, target.attribute.name, value);
  setMember(context.resource, target.extension, holder);
}
