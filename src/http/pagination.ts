import { z } from 'zod';
import { invalid } from '../core/errors.ts';

/**
 * Cursor pagination shared by every list endpoint: `?limit=` (1..1000, default 100) and an opaque `?cursor=`
 * that is the base64url of the last id of the previous page. Lists are ordered by id (ids are ULIDs, so this
 * is creation order), which makes the keyset `id > after` stable while rows are added.
 */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

/** Spread into a list route's querystring schema: `z.strictObject({ ...paginationQuery, organization_id: … })`. */
export const paginationQuery = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_LIMIT)
    .default(DEFAULT_PAGE_LIMIT)
    .describe(`Page size, 1..${MAX_PAGE_LIMIT}.`),
  cursor: z
    .string()
    .max(512)
    .optional()
    .describe('Opaque cursor from the `next_cursor` of the previous page.'),
};

/** What a repository receives: fetch at most `limit + 1` rows with id greater than `after`, ordered by id. */
export interface PageParams {
  limit: number;
  after: string | null;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

/** Decodes `?cursor=`; a cursor that is not one we issued is a 400, never a 500 or an empty page. */
export function decodeCursor(cursor: string): string {
  const decoded = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  // Keys are ids (or composite keys of ids): printable ASCII. Anything else was not issued by us.
  if (!/^[\x21-\x7e]{1,300}$/.test(decoded)) {
    throw invalid('invalid_cursor', 'query.cursor: not a cursor returned by this API.', { cursor });
  }
  return decoded;
}

export function pageParams(query: { limit: number; cursor?: string | undefined }): PageParams {
  return { limit: query.limit, after: query.cursor === undefined ? null : decodeCursor(query.cursor) };
}

/**
 * Builds the response from rows fetched with `limit + 1`: the extra row only tells that another page exists.
 * `toJson` maps a stored row to its API shape.
 */
export function toPage<Row extends { id: string }, T>(rows: Row[], params: PageParams, toJson: (row: Row) => T): Page<T> {
  const hasMore = rows.length > params.limit;
  const pageRows = hasMore ? rows.slice(0, params.limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { data: pageRows.map(toJson), next_cursor: hasMore && last ? encodeCursor(last.id) : null };
}

/** Response schema of a list endpoint, `{data: [...], next_cursor}`. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    data: z.array(item),
    next_cursor: z.string().nullable().describe('Pass as `?cursor=` to get the next page; null on the last page.'),
  });
}
