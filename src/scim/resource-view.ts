import type { JsonObject, JsonValue } from '../core/model.ts';
import type { StoredMember } from '../store/scim-resources.repo.ts';
import { invalidValue } from './scim-error.ts';
import { resolveAttribute, splitSchemaUrn, type ResourceSchema } from './schema/attributes.ts';

/**
 * What a SCIM client reads: the stored resource plus what is computed at read time (`meta.location`,
 * `meta.resourceType`, the `schemas` in use, a group's members, a user's groups), then cut down to the
 * attributes asked for (RFC 7644 §3.9).
 */

export interface ViewExtras {
  /** Group: its live members. */
  members?: StoredMember[] | undefined;
  /** User: the groups it is a direct member of. */
  groups?: Array<{ id: string; displayName: string }> | undefined;
}

export function resourceView(schema: ResourceSchema, stored: JsonObject, baseUrl: string, extras: ViewExtras = {}): JsonObject {
  const id = stored.id as string;
  const schemas = [schema.core.id, ...schema.extensions.map((e) => e.schema.id).filter((urn) => stored[urn] !== undefined)];
  const { schemas: _ignored, meta, ...attributes } = stored;
  const view: JsonObject = { schemas, ...attributes };
  if (extras.members !== undefined) {
    view.members = extras.members.map((m) => memberView(m, baseUrl));
  }
  if (extras.groups !== undefined) {
    view.groups = extras.groups.map((g) => ({ value: g.id, $ref: `${baseUrl}/Groups/${g.id}`, display: g.displayName, type: 'direct' }));
  }
  view.meta = { ...(meta as JsonObject), resourceType: schema.name, location: `${baseUrl}${schema.endpoint}/${id}` };
  return view;
}

/** A member as served: `$ref` and `type` only when the id names a resource of this connection. */
function memberView(member: StoredMember, baseUrl: string): JsonObject {
  const view: JsonObject = { value: member.member_id };
  const type = member.raw.type;
  if (type === 'User' || type === 'Group') {
    view.$ref = `${baseUrl}/${type}s/${member.member_id}`;
    view.type = type;
  }
  if (typeof member.raw.display === 'string') view.display = member.raw.display;
  return view;
}

/** The version a client sends back in `If-Match`, also served as the `ETag` header. */
export function versionOf(resource: JsonObject): string {
  const meta = resource.meta as JsonObject | undefined;
  return typeof meta?.version === 'string' ? meta.version : '';
}

export interface Projection {
  attributes?: string[] | undefined;
  excludedAttributes?: string[] | undefined;
}

/** `attributes=userName,emails` as a list of names, trimmed, empties dropped. */
export function parseAttributeList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(',').map((n) => n.trim()).filter((n) => n !== '');
  return names.length > 0 ? names : undefined;
}

interface Selector {
  /** Key in the view: a core attribute name, or an extension URN. */
  top: string;
  /** For extension attributes: the attribute inside the URN object. */
  inner?: string | undefined;
  sub?: string | undefined;
}

/**
 * Applies `attributes` / `excludedAttributes`. `id`, `schemas` and attributes returned `always` are always
 * there; `never` ones (password) never; `request` ones only when asked for by name. A sub-attribute
 * (`name.givenName`) keeps or drops just that part. Names the schema does not know are refused with
 * `invalidValue`, except inside a value filter (`emails[type eq "work"]`), which selects the attribute.
 */
export function project(view: JsonObject, schema: ResourceSchema, projection: Projection): JsonObject {
  // Nothing asked for: the view is the default set already, since nothing `returned: never` (a password) is
  // ever stored and no attribute of these schemas is `returned: request`.
  if (projection.attributes === undefined && projection.excludedAttributes === undefined) return view;
  const include = projection.attributes?.map((n) => selector(schema, n));
  const exclude = include ? undefined : projection.excludedAttributes?.map((n) => selector(schema, n));
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(view)) {
    if (key === 'schemas' || key === 'id') {
      out[key] = value;
      continue;
    }
    const extension = schema.extensions.find((e) => e.schema.id === key);
    if (extension) {
      const kept = projectObject(value as JsonObject, (name) => keep(schema, { top: key, inner: name }, include, exclude), (name, sub) => keepSub({ top: key, inner: name }, sub, include, exclude));
      if (Object.keys(kept).length > 0) out[key] = kept;
      continue;
    }
    if (!keep(schema, { top: key }, include, exclude)) continue;
    out[key] = projectValue(value, (sub) => keepSub({ top: key }, sub, include, exclude));
  }
  return out;
}

function projectObject(value: JsonObject, keepAttribute: (name: string) => boolean, keepSubAttribute: (name: string, sub: string) => boolean): JsonObject {
  const out: JsonObject = {};
  for (const [name, item] of Object.entries(value)) {
    if (keepAttribute(name)) out[name] = projectValue(item, (sub) => keepSubAttribute(name, sub));
  }
  return out;
}

function projectValue(value: JsonValue, keepSub: (sub: string) => boolean): JsonValue {
  const cut = (item: JsonValue): JsonValue => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
    return Object.fromEntries(Object.entries(item).filter(([sub]) => keepSub(sub)));
  };
  return Array.isArray(value) ? value.map(cut) : cut(value);
}

const same = (a: string | undefined, b: string | undefined) => (a ?? '').toLowerCase() === (b ?? '').toLowerCase();
// A selector naming a whole extension (`urn:…:enterprise:2.0:User`) covers every attribute inside it.
const sameTop = (s: Selector, t: Selector) => same(s.top, t.top) && (s.inner === undefined || same(s.inner, t.inner));

function keep(schema: ResourceSchema, target: Selector, include: Selector[] | undefined, exclude: Selector[] | undefined): boolean {
  const definition = resolveAttribute(schema, target.inner ? { schema: target.top, attribute: target.inner } : { attribute: target.top })?.attribute;
  const returned = definition?.returned ?? 'default';
  if (returned === 'never') return false;
  if (returned === 'always') return true;
  if (include) return include.some((s) => sameTop(s, target));
  if (returned === 'request') return false;
  return !exclude?.some((s) => sameTop(s, target) && s.sub === undefined);
}

function keepSub(target: Selector, sub: string, include: Selector[] | undefined, exclude: Selector[] | undefined): boolean {
  if (include) {
    const selectors = include.filter((s) => sameTop(s, target));
    return selectors.some((s) => s.sub === undefined || same(s.sub, sub));
  }
  return !exclude?.some((s) => sameTop(s, target) && s.sub !== undefined && same(s.sub, sub));
}

function selector(schema: ResourceSchema, name: string): Selector {
  // `emails[type eq "work"]` selects the attribute; the filter only narrows a PATCH, not a projection.
  const bracket = name.indexOf('[');
  const plain = bracket >= 0 ? name.slice(0, bracket) + name.slice(name.indexOf(']', bracket) + 1) : name;
  const { schema: urn, rest } = splitSchemaUrn(schema, plain);
  if (urn !== undefined && rest === '') return { top: urn };
  const [attribute = '', sub] = rest.split('.', 2);
  const resolved = resolveAttribute(schema, { schema: urn, attribute, subAttribute: sub });
  if (!resolved) throw invalidValue(`Unknown attribute '${name}' in attributes or excludedAttributes.`);
  const subName = resolved.subAttribute?.name;
  return resolved.extension
    ? { top: resolved.schema.id, inner: resolved.attribute.name, sub: subName }
    : { top: resolved.attribute.name, sub: subName };
}
