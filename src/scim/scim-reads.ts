import type { JsonObject, JsonValue } from '../core/model.ts';
import type { ScimResourcesRepo } from '../store/scim-resources.repo.ts';
import type { Filter } from './filter/ast.ts';
import { matchesFilter } from './filter/evaluate-filter.ts';
import { parseFilter } from './filter/parse-filter.ts';
import { resourceView } from './resource-view.ts';
import { invalidValue, resourceNotFound } from './scim-error.ts';
import { resolveAttribute, splitSchemaUrn, type ResourceSchema } from './schema/attributes.ts';
import type { ScimScope } from './scim-writes.ts';

/** A list request after its query string was read (RFC 7644 §3.4.2). */
export interface ListQuery {
  filter?: string | undefined;
  /** 1-based. */
  startIndex: number;
  count: number;
  sortBy?: string | undefined;
  sortOrder: 'ascending' | 'descending';
  /** Whether the views need a group's members (not when `members` is excluded or not asked for). */
  withMembers: boolean;
}

export interface ListResult {
  totalResults: number;
  resources: JsonObject[];
}

/** Index keys every live resource of a type has, so ordering by them pages straight off the index. */
const ORDER_KEYS: Record<string, Record<string, string>> = {
  User: { id: 'id', 'meta.created': 'id', username: 'username' },
  Group: { id: 'id', 'meta.created': 'id', displayname: 'displayname' },
};

/**
 * SCIM reads, answered from the connection's own records (DESIGN law 1). Filters are evaluated in memory
 * by the one filter evaluator; where the filter pins an indexed attribute (`userName eq`, `externalId eq`,
 * `emails.value eq`, `displayName eq`, `id eq`, or `sw` on them) the index first narrows the resources to
 * evaluate, so those lookups stay fast on 100k users.
 */
export class ScimReads {
  constructor(
    private readonly resources: ScimResourcesRepo,
    private readonly baseUrl: (connectionId: string) => string,
  ) {}

  async get(scope: ScimScope, id: string): Promise<JsonObject> {
    const type = scope.schema.name;
    const stored = await this.resources.get(scope.connectionId, type, id);
    if (!stored) throw resourceNotFound(type, id);
    const [view] = await this.views(scope, [stored], true);
    return view!;
  }

  async list(scope: ScimScope, query: ListQuery): Promise<ListResult> {
    const type = scope.schema.name;
    const filter = query.filter === undefined || query.filter.trim() === '' ? undefined : parseFilter(query.filter, scope.schema);
    const offset = query.startIndex - 1;
    const orderKey = this.orderKey(scope.schema, query.sortBy);
    const descending = query.sortOrder === 'descending';

    if (!filter && orderKey !== undefined) {
      const total = await this.resources.count(scope.connectionId, type);
      const ids = query.count === 0 ? [] : await this.resources.pageIds(scope.connectionId, type, orderKey, offset, query.count, descending);
      const stored = await this.resources.getMany(scope.connectionId, type, ids);
      return { totalResults: total, resources: await this.views(scope, stored, query.withMembers) };
    }

    // Filters that reach members need them in the resources they are evaluated on.
    const needsMembers = type === 'Group' && (query.withMembers || mentions(filter, 'members'));
    const matched: JsonObject[] = [];
    for await (const batch of this.candidates(scope, filter)) {
      const views = await this.views(scope, batch, needsMembers);
      for (const view of views) if (!filter || matchesFilter(filter, view, scope.schema)) matched.push(view);
    }
    if (query.sortBy !== undefined) sortViews(matched, scope.schema, query.sortBy, descending);
    return { totalResults: matched.length, resources: query.count === 0 ? [] : matched.slice(offset, offset + query.count) };
  }

  private orderKey(schema: ResourceSchema, sortBy: string | undefined): string | undefined {
    if (sortBy === undefined) return 'id';
    const resolved = resolveAttribute(schema, pathOf(schema, sortBy));
    if (!resolved) throw invalidValue(`sortBy: unknown attribute '${sortBy}'.`);
    const name = resolved.subAttribute ? `${resolved.attribute.name}.${resolved.subAttribute.name}` : resolved.attribute.name;
    return ORDER_KEYS[schema.name]![name.toLowerCase()] ?? ORDER_KEYS[schema.name]![name];
  }

  /** The stored resources a filter can match: those the index names, or all of them a batch at a time. */
  private async *candidates(scope: ScimScope, filter: Filter | undefined): AsyncGenerator<JsonObject[]> {
    const ids = filter ? await this.narrow(scope, filter) : undefined;
    if (ids === undefined) {
      yield* this.resources.scan(scope.connectionId, scope.schema.name);
      return;
    }
    const sorted = [...ids].sort();
    for (let i = 0; i < sorted.length; i += 1000) {
      yield await this.resources.getMany(scope.connectionId, scope.schema.name, sorted.slice(i, i + 1000));
    }
  }

  /**
   * A superset of the ids matching `filter`, from the index, or undefined when the index cannot narrow it.
   * Exactness is left to the evaluator, so this only has to never miss a match.
   */
  private async narrow(scope: ScimScope, filter: Filter, prefix?: string): Promise<Set<string> | undefined> {
    switch (filter.kind) {
      case 'and': {
        const [left, right] = [await this.narrow(scope, filter.left, prefix), await this.narrow(scope, filter.right, prefix)];
        if (!left) return right;
        if (!right) return left;
        return new Set([...left].filter((id) => right.has(id)));
      }
      case 'or': {
        const left = await this.narrow(scope, filter.left, prefix);
        const right = left && (await this.narrow(scope, filter.right, prefix));
        return left && right ? new Set([...left, ...right]) : undefined;
      }
      case 'valuePath':
        return this.narrow(scope, filter.filter, filter.path.attribute);
      case 'compare': {
        if (filter.operator !== 'eq' && filter.operator !== 'sw') return undefined;
        if (typeof filter.value !== 'string' && typeof filter.value !== 'number') return undefined;
        const key = indexKey(scope.schema, prefix ? { attribute: prefix, subAttribute: filter.path.attribute } : filter.path);
        if (!key) return undefined;
        const text = String(filter.value);
        const ids = await this.resources.findIds(scope.connectionId, scope.schema.name, key.attribute, key.caseExact ? text : text.toLowerCase(), {
          prefix: filter.operator === 'sw',
        });
        return new Set(ids);
      }
      default:
        return undefined;
    }
  }

  private async views(scope: ScimScope, stored: JsonObject[], withMembers: boolean): Promise<JsonObject[]> {
    const base = this.baseUrl(scope.connectionId);
    const ids = stored.map((s) => s.id as string);
    if (scope.schema.name === 'Group') {
      const members = withMembers ? await this.resources.members(scope.connectionId, ids) : undefined;
      return stored.map((s) => resourceView(scope.schema, s, base, { members: members?.get(s.id as string) }));
    }
    const groups = await this.resources.groupsOf(scope.connectionId, ids);
    return stored.map((s) => resourceView(scope.schema, s, base, { groups: groups.get(s.id as string) }));
  }
}

function pathOf(schema: ResourceSchema, name: string) {
  const { schema: urn, rest } = splitSchemaUrn(schema, name);
  const [attribute = '', subAttribute] = rest.split('.', 2);
  return { schema: urn, attribute, subAttribute };
}

/** The index key of an attribute path, if it is one of the indexed attributes. */
function indexKey(schema: ResourceSchema, path: { schema?: string | undefined; attribute: string; subAttribute?: string | undefined }) {
  const resolved = resolveAttribute(schema, path);
  if (!resolved || resolved.extension) return undefined;
  const name = (resolved.subAttribute ? `${resolved.attribute.name}.${resolved.subAttribute.name}` : resolved.attribute.name).toLowerCase();
  const indexed: Record<string, Record<string, boolean>> = {
    User: { id: true, externalid: true, username: false, 'emails.value': false },
    Group: { id: true, externalid: true, displayname: false },
  };
  const caseExact = indexed[schema.name]![name];
  return caseExact === undefined ? undefined : { attribute: name, caseExact };
}

function mentions(filter: Filter | undefined, attribute: string): boolean {
  if (!filter) return false;
  switch (filter.kind) {
    case 'and':
    case 'or':
      return mentions(filter.left, attribute) || mentions(filter.right, attribute);
    case 'not':
      return mentions(filter.filter, attribute);
    default:
      return filter.path.attribute.toLowerCase() === attribute;
  }
}

/** RFC 7644 §3.4.2.3: sorted by the attribute's value (case rules of the schema), resources without it last. */
function sortViews(views: JsonObject[], schema: ResourceSchema, sortBy: string, descending: boolean): void {
  const resolved = resolveAttribute(schema, pathOf(schema, sortBy));
  if (!resolved) throw invalidValue(`sortBy: unknown attribute '${sortBy}'.`);
  const definition = resolved.subAttribute ?? resolved.attribute;
  const keyOf = (view: JsonObject): string | number | undefined => {
    const holder = resolved.extension ? (view[resolved.schema.id] as JsonObject | undefined) : view;
    let value: JsonValue | undefined = holder?.[resolved.attribute.name];
    if (Array.isArray(value)) value = (value.find((v) => (v as JsonObject)?.primary === true) ?? value[0]) as JsonValue | undefined;
    if (resolved.subAttribute && value !== null && typeof value === 'object' && !Array.isArray(value)) value = value[resolved.subAttribute.name];
    else if (resolved.attribute.type === 'complex' && value !== null && typeof value === 'object' && !Array.isArray(value)) value = value.value;
    if (typeof value === 'number') return value;
    if (typeof value === 'boolean') return value ? 1 : 0;
    if (typeof value !== 'string') return undefined;
    return definition.caseExact ? value : value.toLowerCase();
  };
  const keyed = views.map((view) => ({ view, key: keyOf(view) }));
  keyed.sort((a, b) => {
    if (a.key === undefined || b.key === undefined) return a.key === undefined ? (b.key === undefined ? 0 : 1) : -1;
    const order = a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
    return descending ? -order : order;
  });
  keyed.forEach((k, i) => (views[i] = k.view));
}
