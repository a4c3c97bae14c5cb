import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readAhead, readInTurn } from '../src/connectors/read-ahead.ts';

/** A source that logs when each value is asked for and when it is closed. */
function source(name: string, values: number[], log: string[], failAt?: number): AsyncIterable<number> {
  return (async function* () {
    try {
      for (const [index, value] of values.entries()) {
        log.push(`${name} read ${value}`);
        await new Promise((resolve) => setTimeout(resolve, 1));
        if (index === failAt) throw new Error(`${name} failed at ${value}`);
        yield value;
      }
    } finally {
      log.push(`${name} closed`);
    }
  })();
}

test('readAhead hands out values in order, asking for the next one as soon as one is handed out', async () => {
  const log: string[] = [];
  const seen: number[] = [];
  for await (const value of readAhead(source('s', [1, 2, 3], log))) {
    log.push(`took ${value}`);
    seen.push(value);
  }
  assert.deepEqual(seen, [1, 2, 3]);
  assert.deepEqual(log.slice(0, 3), ['s read 1', 's read 2', 'took 1'], 'the second value is being read while the first is taken');
});

test('readAhead: a consumer that stops closes the source, and a failed read ahead is never unhandled', async () => {
  const log: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    // The read ahead of the second value fails while the first is still being worked on, then the consumer stops.
    for await (const value of readAhead(source('s', [1, 2], log, 1))) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(value, 1);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(log.includes('s closed'));
    assert.deepEqual(unhandled, []);
    // The same failure reaches a consumer that asks for that value.
    await assert.rejects(async () => {
      for await (const _value of readAhead(source('t', [1, 2], [], 1))) void _value;
    }, /t failed at 2/);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('readInTurn yields source after source in order while reading several at once', async () => {
  const log: string[] = [];
  const sources = [0, 1, 2, 3, 4].map((n) => () => source(`g${n}`, [n * 10, n * 10 + 1], log));
  const seen: number[] = [];
  for await (const value of readInTurn(sources, 3)) seen.push(value);
  assert.deepEqual(seen, [0, 1, 10, 11, 20, 21, 30, 31, 40, 41]);
  assert.deepEqual(log.slice(0, 3).sort(), ['g0 read 0', 'g1 read 10', 'g2 read 20'], 'three sources are read from the start');
  for (const n of [0, 1, 2, 3, 4]) assert.ok(log.includes(`g${n} closed`));
});

test('readInTurn: an error reaches the consumer in its turn, and stopping closes every source opened', async () => {
  const log: string[] = [];
  const sources = [0, 1, 2].map((n) => () => source(`g${n}`, [n * 10, n * 10 + 1], log, n === 1 ? 0 : undefined));
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const value of readInTurn(sources, 3)) seen.push(value);
  }, /g1 failed at 10/);
  assert.deepEqual(seen, [0, 1], 'the values before the failing source are handed out first');
  await new Promise((resolve) => setTimeout(resolve, 10));
  for (const n of [0, 1, 2]) assert.ok(log.includes(`g${n} closed`), `g${n} closed`);
});

test('readAhead with a depth reads that many values ahead of a slow consumer, one read at a time, in order', async () => {
  const log: string[] = [];
  let reading = 0;
  let mostAtOnce = 0;
  const values = [1, 2, 3, 4, 5, 6];
  const counted = (async function* () {
    for (const value of values) {
      reading += 1;
      mostAtOnce = Math.max(mostAtOnce, reading);
      log.push(`read ${value}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
      reading -= 1;
      yield value;
    }
  })();
  const seen: number[] = [];
  for await (const value of readAhead(counted, 3)) {
    // The consumer is slower than the source: by the time it is done, the source has read as far as allowed.
    await new Promise((resolve) => setTimeout(resolve, 20));
    log.push(`took ${value}`);
    seen.push(value);
  }
  assert.deepEqual(seen, values);
  assert.equal(mostAtOnce, 1, 'never two reads in flight');
  assert.deepEqual(log.slice(0, 5), ['read 1', 'read 2', 'read 3', 'read 4', 'took 1'], 'three values are read ahead of the one being worked on, no more');
  await assert.rejects(readAhead(counted, 0).next(), RangeError);
});
