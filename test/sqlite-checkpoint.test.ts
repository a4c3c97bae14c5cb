import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openSqlite } from '../src/store/database.ts';

test('SQLite: the write-ahead log is checkpointed into the database file by the background worker, not by commits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'roster-checkpoint-'));
  const file = join(dir, 'roster.db');
  const database = openSqlite(file);
  try {
    await sql`create table filler (id integer primary key, body text not null)`.execute(database.db);
    const sizeBefore = statSync(file).size;
    // About 4 MiB: far below the connection's own automatic checkpoint threshold (50,000 pages, ~200 MiB).
    for (let batch = 0; batch < 16; batch++) {
      await database.db.transaction().execute(async (tx) => {
        for (let i = 0; i < 64; i++) await sql`insert into filler (body) values (${'x'.repeat(4096)})`.execute(tx);
      });
    }
    const deadline = Date.now() + 5000;
    while (statSync(file).size < sizeBefore + 4 * 1024 * 1024 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(statSync(file).size >= sizeBefore + 4 * 1024 * 1024, `the database file grew from ${sizeBefore} to ${statSync(file).size} bytes only`);
  } finally {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
