import { linkWithRel, PagingError, type FetchJson } from '../definition/pager.ts';

export interface LinkPage {
  items: unknown[];
  /** The URL this page was read from. */
  url: string;
  /** The `rel="next"` link, when there is one. */
  next: string | undefined;
}

/**
 * Walks an Okta listing by its `Link: <…>; rel="next"` headers from a URL the caller built (a filter the
 * definition's resources do not carry, the System Log). Next links are opaque and followed as given, but
 * only on the same origin, and never one that repeats the page it came from.
 */
export async function* linkPages(fetchJson: FetchJson, firstUrl: string, signal?: AbortSignal): AsyncGenerator<LinkPage, void, undefined> {
  const origin = new URL(firstUrl).origin;
  let url = firstUrl;
  for (;;) {
    const response = await fetchJson(url, { method: 'GET', headers: { accept: 'application/json' }, signal });
    if (response.status < 200 || response.status > 299) throw new PagingError(`okta: HTTP ${response.status} from ${new URL(url).pathname}`, url, response.status);
    if (!Array.isArray(response.body)) throw new PagingError('okta: the response is not an array of items', url);
    const header = Object.entries(response.headers).find(([name]) => name.toLowerCase() === 'link')?.[1];
    const link = linkWithRel(Array.isArray(header) ? header.join(', ') : header, 'next');
    let next: string | undefined;
    if (link !== undefined) {
      const target = new URL(link, url);
      if (target.origin !== origin) throw new PagingError(`okta: next page ${target.origin} leaves ${origin}`, url);
      next = target.href;
    }
    yield { items: response.body, url, next };
    if (next === undefined || next === url) return;
    url = next;
  }
}
