/**
 * Binary search over anything sorted: the first index in `[0, length)` for which `before(index)` is false,
 * given `before` is true for a prefix and false after it (length when it is true throughout). The
 * emulators page and keep their id lists with it.
 */
export function partitionPoint(length: number, before: (index: number) => boolean): number {
  let low = 0;
  let high = length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (before(mid)) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Where `id` is or would go in ascending `sorted`. */
export function lowerBound(sorted: readonly string[], id: string): number {
  return partitionPoint(sorted.length, (i) => sorted[i]! < id);
}

/** Inserts `id` into ascending `ids`, keeping them sorted. */
export function insertSorted(ids: string[], id: string): void {
  ids.splice(lowerBound(ids, id), 0, id);
}
