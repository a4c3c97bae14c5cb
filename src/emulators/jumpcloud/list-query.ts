import { JumpCloudApiError } from './http-kit.ts';

/**
 * The query language of JumpCloud list endpoints: `limit` (default 10, at most 100), `skip` (an offset),
 * `sort` (fields separated by spaces or commas, `-` for descending), `fields` (a projection) and `filter`
 * — `field:$op:value` on v1 (`$eq $ne $gt $gte $lt $lte`), `field:op:value` on v2 (`eq ne gt ge lt le
 * search in`); several filters (`filter`, `filter[0]`, `filter[1]`…) must all hold, `filter[or][n]` any.
 */

export const MAX_LIMIT = 100;
const DEFAULT_LIMIT = 10;

export interface ListOptions {
  /** What a limit over 100 gets: JumpCloud's exact answer is not published [unverified]. */
  overLimit: 'reject' | 'clamp';
}

type Item = Record<string, unknown>;

export function readPaging(query: URLSearchParams, options: ListOptions): { limit: number; skip: number } {
  const limit = integerParam(query, 'limit', DEFAULT_LIMIT);
  const skip = integerParam(query, 'skip', 0);
  if (limit < 0) throw new JumpCloudApiError(400, 'limit must be a non-negative integer');
  if (limit > MAX_LIMIT && options.overLimit === 'reject') throw new JumpCloudApiError(400, `limit must be less than or equal to ${MAX_LIMIT}`);
  // limit=0 is Mongo's "no limit"; JumpCloud caps every page, so it means the default here.
  return { limit: limit === 0 ? DEFAULT_LIMIT : Math.min(limit, MAX_LIMIT), skip };
}

function integerParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw)) throw new JumpCloudApiError(400, `${name} must be an integer`);
  const value = Number(raw);
  if (name === 'skip' && value < 0) throw new JumpCloudApiError(400, 'skip must be a non-negative integer');
  return value;
}

/** Sorts by the given fields; ties keep `_id`/`id` order, so one query always answers in one order. */
export function sortItems<T extends Item>(items: T[], sort: string | null): T[] {
  if (sort === null || sort.trim() === '') return items;
  const keys = sort
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((key) => (key.startsWith('-') ? { field: key.slice(1), direction: -1 } : { field: key, direction: 1 }));
  return [...items].sort((a, b) => {
    for (const { field, direction } of keys) {
      const order = compareValues(a[field], b[field]);
      if (order !== 0) return order * direction;
    }
    return 0;
  });
}

function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const left = a === undefined || a === null ? '' : String(a);
  const right = b === undefined || b === null ? '' : String(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

/** `fields=username email`: only those, and the ids, which a projection always keeps. */
export function projectFields<T extends Item>(item: T, fields: string | null): Item {
  if (fields === null || fields.trim() === '') return item;
  const wanted = new Set(fields.split(/[\s,]+/).filter(Boolean));
  const out: Item = {};
  for (const [key, value] of Object.entries(item)) if (wanted.has(key) || key === '_id' || key === 'id') out[key] = value;
  return out;
}

type Predicate = (item: Item) => boolean;

const V1_OPS: Record<string, (a: unknown, value: string) => boolean> = {
  $eq: (a, v) => matches(a, v) === 0,
  $ne: (a, v) => matches(a, v) !== 0,
  $gt: (a, v) => matches(a, v) > 0,
  $gte: (a, v) => matches(a, v) >= 0,
  $lt: (a, v) => matches(a, v) < 0,
  $lte: (a, v) => matches(a, v) <= 0,
};

const V2_OPS: Record<string, (a: unknown, value: string) => boolean> = {
  eq: V1_OPS.$eq!,
  ne: V1_OPS.$ne!,
  gt: V1_OPS.$gt!,
  ge: V1_OPS.$gte!,
  lt: V1_OPS.$lt!,
  le: V1_OPS.$lte!,
  search: (a, v) => typeof a === 'string' && a.toLowerCase().includes(v.toLowerCase()),
  in: (a, v) => v.split('|').some((option) => matches(a, option) === 0),
};

/** A field compared with a filter value: as a boolean or number when the field is one, else as text. */
function matches(actual: unknown, value: string): number {
  if (typeof actual === 'boolean') return compareValues(String(actual), value);
  if (typeof actual === 'number' && value !== '' && Number.isFinite(Number(value))) return actual - Number(value);
  return compareValues(actual === null || actual === undefined ? '' : actual, value);
}

/** The filters of a query as one predicate; an unreadable filter is a 400, as JumpCloud answers. */
export function readFilter(query: URLSearchParams, dialect: 'v1' | 'v2'): Predicate {
  const all: Predicate[] = [];
  const any: Predicate[] = [];
  for (const [name, raw] of query) {
    if (name === 'filter' || /^filter\[\d+\]$/.test(name)) all.push(parseFilter(raw, dialect));
    else if (/^filter\[or\]\[\d+\]$/.test(name)) any.push(parseFilter(raw, dialect));
  }
  return (item) => all.every((test) => test(item)) && (any.length === 0 || any.some((test) => test(item)));
}

function parseFilter(raw: string, dialect: 'v1' | 'v2'): Predicate {
  const first = raw.indexOf(':');
  const second = first < 0 ? -1 : raw.indexOf(':', first + 1);
  if (first <= 0 || second < 0) throw new JumpCloudApiError(400, `invalid filter "${raw}" (expected field:operator:value)`);
  const field = raw.slice(0, first);
  const op = raw.slice(first + 1, second);
  const value = raw.slice(second + 1);
  const ops = dialect === 'v1' ? V1_OPS : V2_OPS;
  const test = ops[op];
  if (!test) throw new JumpCloudApiError(400, `invalid filter operator "${op}" (supported: ${Object.keys(ops).join(', ')})`);
  return (item) => test(item[field], value);
}

/** v1 `search`: the text in any of the fields people are found by. */
export function readSearch(query: URLSearchParams, fields: readonly string[]): Predicate {
  const text = query.get('search')?.trim().toLowerCase();
  if (!text) return () => true;
  return (item) => fields.some((field) => typeof item[field] === 'string' && (item[field] as string).toLowerCase().includes(text));
}
