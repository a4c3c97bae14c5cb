import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openSqlite } from '../src/store/database.ts';

test('SQLite: a long transaction gives the event loop turns, so timers and sockets are served while it runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'roster-event-loop-'));
  const database = openSqlite(join(dir, 'roster.db'));
  try {
    await sql`create table filler (id integer primary key, body text not null)`.execute(database.db);
    const ticks: number[] = [];
    let statements = 0;
    const timer = setInterval(() => ticks.push(statements), 1);
    const started = performance.now();
    await database.db.transaction().execute(async (tx) => {
      // Synchronous statements, one after the other, for about a quarter of a second.
      while (performance.now() - started < 250) {
        await sql`insert into filler (body) values (${'x'.repeat(512)})`.execute(tx);
        statements += 1;
      }
    });
    clearInterval(timer);
    const during = ticks.filter((n) => n > 0 && n < statements);
    assert.ok(during.length >= 5, `the interval fired ${during.length} times during ${statements} statements`);
    const count = await sql<{ n: number }>`select count(*) as n from filler`.execute(database.db);
    assert.equal(Number(count.rows[0]!.n), statements, 'every statement of the transaction committed');
  } finally {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
