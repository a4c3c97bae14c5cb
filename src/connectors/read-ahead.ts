/**
 * Yields what `source` yields, reading up to `depth` values ahead of the consumer: while it works on one
 * value, the next ones are already being read (a provider answers on its own time, and a source that
 * pages by cursor can only ask for a page once the one before it arrived). Values are read one at a time,
 * in order; a value read ahead is only handed out when asked for, and one never asked for is dropped. A
 * failed read reaches the consumer once the values before it are handed out. When the consumer stops,
 * the source is closed as soon as its read in flight settles; cancel that read with the signal the source
 * reads under.
 */
export async function* readAhead<T>(source: AsyncIterable<T>, depth = 1): AsyncGenerator<T, void, undefined> {
  if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`readAhead depth must be a positive integer, got ${depth}`);
  const iterator = source[Symbol.asyncIterator]();
  const read: T[] = [];
  let reading: Promise<void> | undefined;
  let end: { done: true } | { failed: unknown } | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;
  const readMore = (): void => {
    if (reading || end || stopped || read.length >= depth) return;
    reading = iterator.next().then(
      (result) => {
        reading = undefined;
        if (result.done) end = { done: true };
        else read.push(result.value);
        wake?.();
        readMore();
      },
      (error: unknown) => {
        reading = undefined;
        end = { failed: error };
        wake?.();
      },
    );
  };
  try {
    for (;;) {
      if (read.length > 0) {
        const value = read.shift()!;
        readMore();
        yield value;
        continue;
      }
      if (end) {
        if ('failed' in end) throw end.failed;
        return;
      }
      readMore();
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    stopped = true;
    if (!end) void Promise.resolve(reading).then(() => iterator.return?.()).catch(() => undefined);
  }
}

/**
 * Yields the values of several sources one source after the other, in order, while reading up to `width`
 * of them at once (each one value ahead): sources that page independently, like the members of one group
 * after another, then wait for one round trip at a time instead of one per source.
 */
export async function* readInTurn<T>(sources: Iterable<() => AsyncIterable<T>>, width: number): AsyncGenerator<T, void, undefined> {
  const pending = sources[Symbol.iterator]();
  const open: Array<{ iterator: AsyncIterator<T>; first: Promise<IteratorResult<T>> }> = [];
  const fill = () => {
    while (open.length < width) {
      const source = pending.next();
      if (source.done) return;
      const iterator = readAhead(source.value())[Symbol.asyncIterator]();
      const first = iterator.next();
      first.catch(() => undefined);
      open.push({ iterator, first });
    }
  };
  let current: AsyncIterator<T> | undefined;
  try {
    fill();
    for (let reader = open.shift(); reader !== undefined; reader = open.shift()) {
      current = reader.iterator;
      fill();
      for (let result = await reader.first; !result.done; result = await current.next()) yield result.value;
    }
  } finally {
    for (const iterator of [current, ...open.map((reader) => reader.iterator)]) void Promise.resolve(iterator?.return?.()).catch(() => undefined);
  }
}
