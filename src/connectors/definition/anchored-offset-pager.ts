import type { ProviderDefinition } from './load-provider-definition.ts';
import { getPath } from './json-path.ts';
import { PagingError, readItems, requireResource, startListing, type FetchJson, type Page, type PageCheckpoint, type PageContext } from './pager.ts';
import { type ResourceName } from './provider-definition.ts';

/**
 * Offset paging that notices when the listing moved under it. With `skip`/`limit`, an object removed
 * before the page a scan is at shifts everything after it one place back, and the scan silently skips
 * an object that was there all along — which a full snapshot would then remove (DESIGN law 7). An object
 * added before it shifts everything forward: one is seen twice, the newcomer never.
 *
 * So every page after the first is asked from one place earlier (`skip = offset - 1`) and must begin with
 * the last object of the page before it, the anchor. In a listing of stable order, the anchor still at
 * its place means exactly the objects after it follow: nothing was skipped. Anywhere else, the listing
 * moved: the scan starts again from the beginning, handing out only objects it has not handed out yet,
 * until one whole scan holds (at most `maxScans`, then the listing fails rather than end incomplete). A
 * whole scan is also held to the total the provider states, where it states one (JumpCloud v1 `totalCount`).
 */

export interface AnchoredOffsetOptions {
  /** The stable id of an item (JumpCloud `_id`, a v2 `id`, a member's `to.id`): anchors and dedupes. */
  idOf: (item: unknown) => string | undefined;
  /** Where the body states how many objects the listing holds, checked after a whole scan. */
  totalPath?: string | undefined;
  /** Scans of a listing that keeps moving before it fails; default 3. */
  maxScans?: number | undefined;
}

/** An offset checkpoint that also names the anchor, so a resumed scan checks its first page too. */
export type AnchoredCheckpoint = Extract<PageCheckpoint, { style: 'offset' }> & { anchor?: string };

export async function* anchoredOffsetPages(
  definition: ProviderDefinition,
  resourceName: ResourceName,
  context: PageContext,
  fetchJson: FetchJson,
  options: AnchoredOffsetOptions,
): AsyncGenerator<Page, void, undefined> {
  const pagination = requireResource(definition, resourceName).pagination;
  if (pagination.style !== 'offset') throw new Error(`${definition.id} ${resourceName} does not page by offset`);
  // Each page after the first spends one place on its anchor.
  if (pagination.pageSize < 2) throw new Error(`${definition.id} ${resourceName}: anchored paging needs pages of at least 2`);
  const listing = startListing(definition, resourceName, context);
  const { resource, firstUrl: listUrl } = listing;
  const start = listing.checkpoint as AnchoredCheckpoint | null;
  listUrl.searchParams.set(pagination.limitParam, String(pagination.pageSize));
  const label = `${definition.id} ${resourceName}`;
  const maxScans = Math.max(1, options.maxScans ?? 3);
  const checkpoint = (offset: number, anchor: string): AnchoredCheckpoint => ({
    resource: resourceName,
    ...(context.groupId === undefined ? {} : { groupId: context.groupId }),
    style: 'offset',
    offset,
    anchor,
  });

  let offset = start?.offset ?? 0;
  let anchor = typeof start?.anchor === 'string' ? start.anchor : undefined;
  let scans = 1;
  // Only a scan that began at the start in this process knows every id it met, which the total is held to.
  let whole = start === null;
  let scanIds = new Set<string>();
  const handedOut = new Set<string>();
  const again = (reason: string, url: string) => {
    if (scans >= maxScans) throw new PagingError(`${label}: the listing changed during ${scans} scans in a row (${reason}); a partial listing is not a complete one`, url);
    scans += 1;
    offset = 0;
    anchor = undefined;
    whole = true;
    scanIds = new Set();
  };

  for (;;) {
    const anchored = anchor !== undefined && offset > 0;
    const url = new URL(listUrl);
    url.searchParams.set(pagination.offsetParam, String(anchored ? offset - 1 : offset));
    const response = await fetchJson(url.href, { method: 'GET', headers: { accept: 'application/json' }, signal: context.signal });
    if (response.status < 200 || response.status > 299) throw new PagingError(`${label}: HTTP ${response.status} from ${url.href}`, url.href, response.status);
    const received = readItems(response.body, resource.itemsPath, resource.absentItemsMeansEmpty, url.href);
    const ids = received.map((item) => {
      const id = options.idOf(item);
      if (id === undefined || id === '') throw new PagingError(`${label}: an item without an id in ${url.href}`, url.href);
      return id;
    });
    if (anchored && ids[0] !== anchor) {
      again(`the object before skip=${offset} moved`, url.href);
      continue;
    }
    const first = anchored ? 1 : 0;
    const items: unknown[] = [];
    for (let i = first; i < received.length; i += 1) {
      scanIds.add(ids[i]!);
      if (handedOut.has(ids[i]!)) continue;
      handedOut.add(ids[i]!);
      items.push(received[i]);
    }

    // A full page may be followed by more; a short one is the last.
    if (received.length >= pagination.pageSize && received.length > first) {
      offset = (anchored ? offset - 1 : offset) + received.length;
      anchor = ids[ids.length - 1]!;
      yield { items, checkpoint: checkpoint(offset, anchor) };
      continue;
    }
    if (whole && options.totalPath !== undefined) {
      const total = readTotal(response.body, options.totalPath, url.href, label);
      if (scanIds.size < total) {
        again(`a whole scan met ${scanIds.size} of the ${total} stated`, url.href);
        continue;
      }
    }
    yield { items, checkpoint: null };
    return;
  }
}

/** A stated total that is missing or not a count is a broken response, not a reason to trust the pages. */
function readTotal(body: unknown, path: string, url: string, label: string): number {
  const total = getPath(body, path);
  if (typeof total !== 'number' || !Number.isInteger(total) || total < 0) throw new PagingError(`${label}: response has no count at "${path}"`, url);
  return total;
}
