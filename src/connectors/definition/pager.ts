import { GROUP_ID_PLACEHOLDER, type ProviderDefinition } from './load-provider-definition.ts';
import { getPath } from './json-path.ts';
import { type ResourceDefinition, type ResourceName } from './provider-definition.ts';
import { expandTemplate } from './url-template.ts';

export interface FetchJsonInit {
  method: 'GET';
  headers: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** Statuses ≥ 400 to answer with instead of failing (404 for an object fetched by id). */
  acceptStatuses?: readonly number[] | undefined;
}

export interface FetchJsonResponse {
  status: number;
  /** Header names in any case; the pager looks them up case-insensitively. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: unknown;
}

/** The HTTP client, injected: it owns auth, retries and rate limiting; the pager only walks pages. */
export type FetchJson = (url: string, init: FetchJsonInit) => Promise<FetchJsonResponse>;

/**
 * Where to resume an enumeration: the request for the next page, as plain JSON so it can be stored with
 * the records of the page it follows and survive a crash.
 */
export type PageCheckpoint = { resource: ResourceName; groupId?: string | undefined } & (
  | { style: 'page_token'; token: string }
  | { style: 'next_link' | 'link_header'; url: string }
  | { style: 'offset'; offset: number }
);

export interface PageContext {
  /** The connection's settings, filling the definition's `{placeholders}`. */
  config: Readonly<Record<string, string>>;
  /** The group whose members are listed (the `{groupId}` of a `members` path). */
  groupId?: string | undefined;
  /** Resume after the page this checkpoint followed; from the start when absent. */
  checkpoint?: PageCheckpoint | null | undefined;
  signal?: AbortSignal | undefined;
}

export interface Page {
  items: unknown[];
  /** The cursor of the next page; null when this was the last page. */
  checkpoint: PageCheckpoint | null;
}

export class PagingError extends Error {
  override readonly name = 'PagingError';
  constructor(
    message: string,
    readonly url: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** A resource of the definition, or an error naming what it lacks. */
export function requireResource(definition: ProviderDefinition, resourceName: ResourceName): ResourceDefinition {
  const resource = definition.resources[resourceName];
  if (resource === undefined) throw new Error(`Provider "${definition.id}" defines no ${resourceName} resource`);
  return resource;
}

/** A path template of the definition (a listing's, an item's) as a URL with its query parameters, placeholders filled. */
export function resourceUrl(definition: ProviderDefinition, path: string, params: Readonly<Record<string, string>>, values: Readonly<Record<string, string>>): URL {
  const url = new URL(expandTemplate(definition.baseUrl, values) + expandTemplate(path, values));
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, expandTemplate(value, values, false));
  return url;
}

/**
 * What every pager checks and needs before its first page: the resource, a group id for members, a
 * checkpoint of this listing (or none), and the first page's URL with the placeholders' values.
 */
export function startListing(definition: ProviderDefinition, resourceName: ResourceName, context: PageContext) {
  const resource = requireResource(definition, resourceName);
  if (resourceName === 'members' && context.groupId === undefined) throw new Error('Listing members needs a groupId');
  const { style } = resource.pagination;
  const checkpoint = context.checkpoint ?? null;
  if (checkpoint !== null && (checkpoint.resource !== resourceName || checkpoint.style !== style || checkpoint.groupId !== context.groupId)) {
    throw new Error(`Checkpoint ${JSON.stringify(checkpoint)} does not belong to ${resourceName} (${style})`);
  }
  const values = { ...context.config, ...(context.groupId === undefined ? {} : { [GROUP_ID_PLACEHOLDER]: context.groupId }) };
  return { resource, checkpoint, values, firstUrl: resourceUrl(definition, resource.path, resource.params, values) };
}

/** Walks a resource page by page in the definition's pagination style. */
export async function* pages(
  definition: ProviderDefinition,
  resourceName: ResourceName,
  context: PageContext,
  fetchJson: FetchJson,
): AsyncGenerator<Page, void, undefined> {
  const { resource, checkpoint, firstUrl } = startListing(definition, resourceName, context);
  const pagination = resource.pagination;
  const origin = firstUrl.origin;
  const cursor = (fields: Record<string, unknown>) =>
    ({ resource: resourceName, ...(context.groupId === undefined ? {} : { groupId: context.groupId }), style: pagination.style, ...fields }) as PageCheckpoint;

  let url = firstUrl.href;
  let offset = checkpoint?.style === 'offset' ? checkpoint.offset : 0;
  if (pagination.style === 'offset') {
    url = withParams(url, { [pagination.offsetParam]: String(offset), [pagination.limitParam]: String(pagination.pageSize) });
  } else if (pagination.style === 'page_token' && checkpoint?.style === 'page_token') {
    url = withParams(url, { [pagination.tokenParam]: checkpoint.token });
  } else if (checkpoint?.style === 'next_link' || checkpoint?.style === 'link_header') {
    // A stored cursor is data from outside this process; hold it to the same rule as a live next link.
    url = sameOrigin(new URL(checkpoint.url), origin, url);
  }

  for (;;) {
    const response = await fetchJson(url, { method: 'GET', headers: { accept: 'application/json' }, signal: context.signal });
    if (response.status < 200 || response.status > 299) {
      throw new PagingError(`${definition.id} ${resourceName}: HTTP ${response.status} from ${url}`, url, response.status);
    }
    const items = readItems(response.body, resource.itemsPath, resource.absentItemsMeansEmpty, url);

    let next: PageCheckpoint | null = null;
    let nextUrl: string | undefined;
    if (pagination.style === 'page_token') {
      const token = getPath(response.body, pagination.tokenPath);
      if (typeof token === 'string' && token !== '') {
        nextUrl = withParams(firstUrl.href, { [pagination.tokenParam]: token });
        next = cursor({ token });
      }
    } else if (pagination.style === 'next_link') {
      const link = getPath(response.body, pagination.nextLinkPath);
      if (typeof link === 'string' && link !== '') nextUrl = sameOrigin(new URL(link, url), origin, url);
    } else if (pagination.style === 'link_header') {
      const link = linkWithRel(headerValue(response.headers, 'link'), pagination.rel);
      if (link !== undefined) nextUrl = sameOrigin(new URL(link, url), origin, url);
    } else if (pagination.style === 'offset' && items.length >= pagination.pageSize) {
      // A short page is the last one; a full one may be followed by an empty page, which ends it too.
      offset += items.length;
      nextUrl = withParams(url, { [pagination.offsetParam]: String(offset) });
      next = cursor({ offset });
    }
    if (nextUrl !== undefined && next === null) next = cursor({ url: nextUrl });
    // A provider that hands back the URL it was just asked for would page forever.
    if (nextUrl === url) throw new PagingError(`${definition.id} ${resourceName}: next page repeats ${url}`, url);

    yield { items, checkpoint: next };
    if (nextUrl === undefined) return;
    url = nextUrl;
  }
}

function withParams(url: string, params: Record<string, string>): string {
  const next = new URL(url);
  for (const [name, value] of Object.entries(params)) next.searchParams.set(name, value);
  return next.href;
}

/** Next links come from the provider; following one elsewhere would hand credentials to another host. */
function sameOrigin(link: URL, origin: string, from: string): string {
  if (link.origin !== origin) throw new PagingError(`next page ${link.href} leaves ${origin}`, from);
  return link.href;
}

/** A page's items at `itemsPath`; an absent array is an empty page only where the provider omits empty ones. */
export function readItems(body: unknown, itemsPath: string, absentMeansEmpty: boolean, url: string): unknown[] {
  const items = getPath(body, itemsPath);
  if (Array.isArray(items)) return items;
  if (items === undefined && absentMeansEmpty) return [];
  const found = items === undefined ? 'no' : `a non-array (${typeof items})`;
  throw new PagingError(`response has ${found} "${itemsPath}" item array`, url);
}

/** A response header by its lower-case name, whatever case the response used; repeated ones joined. */
export function headerValue(headers: FetchJsonResponse['headers'], name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(', ') : value;
  }
  return undefined;
}

/** The target of the RFC 8288 link with the given rel, e.g. `<https://…?after=x>; rel="next"`. */
export function linkWithRel(header: string | undefined, rel: string): string | undefined {
  if (header === undefined) return undefined;
  for (const match of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const params = match[2] ?? '';
    const relMatch = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(params);
    if (relMatch?.[1]?.split(/\s+/).includes(rel)) return match[1];
  }
  return undefined;
}
