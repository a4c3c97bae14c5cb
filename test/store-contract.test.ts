import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CompiledQuery, sql } from 'kysely';
import { appendEvents } from '../src/events/event-log.ts';
import { toIncoming } from '../src/reconcile/incoming.ts';
import { Reconciler } from '../src/reconcile/reconciler.ts';
import { reserveEventSequences, type Database } from '../src/store/database.ts';
import { migrateToLatest } from '../src/store/migrator.ts';
import { createTestStorage, forEachEngine, type TestStorage } from './support/roster.ts';

/** The storage contract both engines must honour; the rest of Roster relies on exactly this. */
forEachEngine('store contract', (engine) => {
  let storage: TestStorage;
  let database: Database;
  before(async () => {
    storage = await createTestStorage(engine);
    database = storage.open();
    await migrateToLatest(database);
  });
  after(async () => {
    await database.close();
    await storage.destroy();
  });

  const now = () => new Date().toISOString();
  async function organization(id: string) {
    await database.db.insertInto('organizations').values({ id, name: id, policy: '{}', event_sequence: 0, created_at: now(), updated_at: now() }).execute();
    await database.db
      .insertInto('connections')
      .values({ id: `conn_${id}`, organization_id: id, type: 'push', category: 'idp', name: 'c', state: 'active', state_reason: null, config: '{}', created_at: now(), updated_at: now(), deleted_at: null })
      .execute();
  }

  test('migrations are idempotent and every directory table carries its organization', async () => {
    const again = await migrateToLatest(database);
    assert.deepEqual(again.results, [], 'nothing left to apply');
    const tables = ['organizations', 'connections', 'source_records', 'identity_links', 'user_identifiers', 'unresolved_references', 'users', 'groups', 'memberships', 'conflicts', 'events', 'sync_runs', 'api_keys', 'audit_log'];
    const meta = await database.db.introspection.getTables();
    for (const table of tables) {
      const found = meta.find((t) => t.name === table);
      assert.ok(found, `table ${table} exists`);
      const column = table === 'organizations' ? 'id' : 'organization_id';
      assert.ok(found.columns.some((c) => c.name === column), `${table} carries its organization`);
    }
  });

  test('a transaction that fails leaves nothing behind', async () => {
    await organization('org_rollback');
    await assert.rejects(
      database.db.transaction().execute(async (tx) => {
        await appendEvents(tx, 'org_rollback', [{ type: 'user.created', data: { id: 'x' }, changes: null }], null, now(), database.capabilities);
        throw new Error('boom');
      }),
      /boom/,
    );
    const events = await database.db.selectFrom('events').select('id').where('organization_id', '=', 'org_rollback').execute();
    assert.equal(events.length, 0);
    const org = await database.db.selectFrom('organizations').select('event_sequence').where('id', '=', 'org_rollback').executeTakeFirstOrThrow();
    assert.equal(org.event_sequence, 0, 'the reserved sequences were given back');
  });

  test('concurrent transactions reserve contiguous, distinct event sequences per organization', async () => {
    await organization('org_seq');
    const firsts = await Promise.all(
      Array.from({ length: 12 }, () => database.db.transaction().execute((tx) => reserveEventSequences(tx, 'org_seq', 5))),
    );
    const all = firsts.flatMap((first) => [0, 1, 2, 3, 4].map((i) => first + i)).sort((a, b) => a - b);
    assert.deepEqual(all, Array.from({ length: 60 }, (_, i) => i + 1));
  });

  test('a reconciliation that fails in its last step writes no record, no user and no event', async () => {
    await organization('org_atomic');
    const reconciler = new Reconciler({ database });
    const records = Array.from({ length: 300 }, (_, i) => toIncoming({ kind: 'user', id: `u${i}`, attributes: { email: `u${i}@x.test` } }));
    await assert.rejects(
      reconciler.apply('conn_org_atomic', records, {
        finalize: async () => {
          throw new Error('crash before commit');
        },
      }),
      /crash before commit/,
    );
    for (const table of ['source_records', 'users', 'events', 'identity_links', 'user_identifiers'] as const) {
      const { n } = await database.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('organization_id', '=', 'org_atomic')
        .executeTakeFirstOrThrow();
      assert.equal(Number(n), 0, `${table} is empty`);
    }
    const counters = await reconciler.apply('conn_org_atomic', records);
    assert.equal(counters.users_created, 300);
    assert.equal(counters.events, 300);
  });

  test('source records keep their first sighting when restated, and text round-trips unchanged', async () => {
    await organization('org_text');
    const reconciler = new Reconciler({ database });
    const name = 'Zoë Ångström 山田 \u{1F600} "quoted" \\ back';
    await reconciler.apply('conn_org_text', [toIncoming({ kind: 'user', id: 'ü/1', attributes: { display_name: name }, raw: { nested: { name } } })]);
    const first = await database.db.selectFrom('source_records').selectAll().where('connection_id', '=', 'conn_org_text').executeTakeFirstOrThrow();
    await new Promise((r) => setTimeout(r, 5));
    await reconciler.apply('conn_org_text', [toIncoming({ kind: 'user', id: 'ü/1', attributes: { display_name: `${name}!` } })]);
    const second = await database.db.selectFrom('source_records').selectAll().where('connection_id', '=', 'conn_org_text').executeTakeFirstOrThrow();
    assert.equal(second.first_seen_at, first.first_seen_at);
    assert.ok(second.last_seen_at > first.last_seen_at);
    assert.equal(second.external_id, 'ü/1');
    assert.deepEqual(JSON.parse(first.raw), { nested: { name } });
    const user = await database.db.selectFrom('users').select('data').where('organization_id', '=', 'org_text').executeTakeFirstOrThrow();
    assert.equal(JSON.parse(user.data).display_name, `${name}!`);
  });

  test('an unchanged record is "last seen" to the hour: restated within the hour it is not rewritten', async () => {
    await organization('org_seen');
    let clock = new Date('2026-05-01T10:00:00Z');
    const reconciler = new Reconciler({ database, now: () => clock });
    const record = [toIncoming({ kind: 'user', id: 'u1', attributes: { email: 'u1@x.test' } })];
    const lastSeen = async () =>
      (await database.db.selectFrom('source_records').select('last_seen_at').where('connection_id', '=', 'conn_org_seen').executeTakeFirstOrThrow()).last_seen_at;
    await reconciler.apply('conn_org_seen', record);
    clock = new Date('2026-05-01T10:45:00Z');
    assert.equal((await reconciler.apply('conn_org_seen', record)).records_unchanged, 1);
    assert.equal(await lastSeen(), '2026-05-01T10:00:00.000Z');
    clock = new Date('2026-05-01T11:30:00Z');
    const counters = await reconciler.apply('conn_org_seen', record);
    assert.equal(counters.records_unchanged, 1);
    assert.equal(counters.events, 0);
    assert.equal(await lastSeen(), '2026-05-01T11:30:00.000Z');
  });

  test('the engine reports what the rest of Roster branches on', async () => {
    assert.equal(database.capabilities.concurrentWriters, engine === 'postgres');
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(database.db);
    assert.equal(Number(rows[0]!.one), 1);
  });

  test('a batch of 1,000 ids is looked up through the index, not by scanning 60,000 links', async () => {
    await organization('org_links');
    await sql`with recursive numbers (n) as (select 1 union all select n + 1 from numbers where n < 60000)
      insert into identity_links (organization_id, connection_id, kind, external_id, canonical_id, method, created_at)
      select 'org_links', 'conn_org_links', 'user', 'ext_' || n, 'user_' || n, 'new', '2026-05-01T00:00:00.000Z' from numbers`.execute(database.db);
    await database.refreshStatistics();
    if (engine === 'sqlite') await sql`analyze identity_links`.execute(database.db);
    const ids = Array.from({ length: 1000 }, (_, i) => `ext_${i * 59 + 1}`);
    const query = database.db.selectFrom('identity_links').select(['external_id', 'canonical_id']).where('connection_id', '=', 'conn_org_links').where('kind', '=', 'user').where('external_id', 'in', ids);
    const compiled = query.compile();
    const explain = CompiledQuery.raw(`${engine === 'sqlite' ? 'explain query plan' : 'explain'} ${compiled.sql}`, [...compiled.parameters]);
    const plan = (await database.db.executeQuery(explain)).rows.map((row) => Object.values(row as object).join(' ')).join('\n');
    assert.doesNotMatch(plan, /Seq Scan|SCAN identity_links\b(?! USING)/, plan);
    assert.match(plan, /identity_links_pk|sqlite_autoindex_identity_links/, plan);
    assert.equal((await query.execute()).length, 1000);
  });
});
