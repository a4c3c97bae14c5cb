/**
 * Yields what `source` yields, asking it for the next value as soon as one is handed out: while the
 * consumer works on a page, the next one is already being fetched (a provider answers on its own time).
 * A value read ahead is only handed out when asked for; one never asked for is dropped. When the consumer
 * stops, the source is closed as soon as its read in flight settles; cancel that read with the signal
 * the source reads under.
 */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T, void, undefined> {
  const iterator = source[Symbol.asyncIterator]();
  let next = iterator.next();
  try {
    for (;;) {
      const result = await next;
      if (result.done) return;
      next = iterator.next();
      // Its failure reaches the consumer when it asks for that value; until then it must not go unhandled.
      next.catch(() => undefined);
      yield result.value;
    }
  } finally {
    void Promise.resolve(iterator.return?.()).catch(() => undefined);
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
