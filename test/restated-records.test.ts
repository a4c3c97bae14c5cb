import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IncomingRecord } from '../src/reconcile/incoming.ts';
import { Reconciler } from '../src/reconcile/reconciler.ts';
import { createOrganization, createPushConnection, expectStatus } from './support/api.ts';
import { allEvents, onlyUser } from './support/directory.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

/**
 * What the reconciler makes of a listed record's source hash (migration 008): a restatement is current and
 * changes nothing, yet counts as seen; the stored hash follows the item a listing last mapped, and is
 * cleared by a statement made otherwise; a restatement never overrides what changed after it was read.
 */
forEachEngine('restated records', (engine) => {
  const roster = useTestRoster(engine);

  const ada = (title: string, sourceHash?: string): IncomingRecord => ({
    kind: 'user',
    external_id: 'u-ada',
    deleted: false,
    attributes: { email: 'ada@acme.test', title },
    raw: { id: 'u-ada', title },
    ...(sourceHash ? { source_hash: sourceHash } : {}),
  });
  const restated = (hash: string): IncomingRecord => ({ kind: 'user', external_id: 'u-ada', deleted: false, restated: hash });

  test('a restatement changes nothing but is seen; the hash follows the last mapped item; a later change or tombstone stands', async () => {
    const org = await createOrganization(roster(), 'Acme');
    const connection = await createPushConnection(roster(), org.id);
    const reconciler = new Reconciler({ database: roster().database });
    const db = roster().database.db;
    const storedHash = async () =>
      (await db.selectFrom('source_records').select('source_hash').where('connection_id', '=', connection.id).where('kind', '=', 'user').where('external_id', '=', 'u-ada').executeTakeFirstOrThrow()).source_hash;
    const eventCount = async () => (await allEvents(roster(), org.id)).length;

    await reconciler.apply(connection.id, [ada('Engineer', 'h1')]);
    assert.equal(await storedHash(), 'h1');
    assert.equal((await onlyUser(roster(), org.id)).title, 'Engineer');

    // Restated in a snapshot: unchanged, no event, and the commit does not take it for missing.
    const events = await eventCount();
    const snapshot = expectStatus(await roster().request('POST', `/v1/connections/${connection.id}/snapshots`), 201);
    const counters = await reconciler.apply(connection.id, [restated('h1')], { sync_run_id: snapshot.id, snapshot_id: snapshot.id });
    assert.equal(counters.records_unchanged, 1);
    assert.equal(counters.records_changed, 0);
    const committed = expectStatus(await roster().request('POST', `/v1/connections/${connection.id}/snapshots/${snapshot.id}/commit`), 200);
    assert.equal(committed.status, 'completed');
    assert.equal((await onlyUser(roster(), org.id)).state, 'active', 'a restated record was in the snapshot');
    const types = (await allEvents(roster(), org.id)).slice(events).map((e) => e.type);
    assert.deepEqual(types, ['sync.started', 'sync.completed']);

    // The same content from another item (a volatile field moved): no event, and the stored hash follows it.
    const beforeRehash = await eventCount();
    await reconciler.apply(connection.id, [ada('Engineer', 'h2')]);
    assert.equal(await storedHash(), 'h2');
    assert.equal(await eventCount(), beforeRehash);

    // A restatement of an item the record no longer comes from (it changed after the listing read it)
    // leaves the newer statement alone.
    await reconciler.apply(connection.id, [ada('Staff Engineer')]);
    assert.equal(await storedHash(), null, 'a statement made otherwise (a push) clears the hash');
    const beforeStale = await eventCount();
    await reconciler.apply(connection.id, [restated('h2')]);
    assert.equal((await onlyUser(roster(), org.id)).title, 'Staff Engineer');
    assert.equal(await eventCount(), beforeStale);

    // Nor does a restatement revive a record tombstoned since.
    await reconciler.apply(connection.id, [{ kind: 'user', external_id: 'u-ada', deleted: true }]);
    assert.equal((await onlyUser(roster(), org.id)).state, 'inactive');
    const beforeRevive = await eventCount();
    await reconciler.apply(connection.id, [restated('h2')]);
    assert.equal((await onlyUser(roster(), org.id)).state, 'inactive');
    assert.equal(await eventCount(), beforeRevive);
  });
});
