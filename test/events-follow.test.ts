import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createOrganization, createPushConnection, expectStatus } from './support/api.ts';
import { ingest, user } from './support/directory.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

forEachEngine('following the event log while several organizations write at once', (engine) => {
  const roster = useTestRoster(engine);

  test('a consumer following by cursor sees every event exactly once, in per-organization order', async () => {
    const orgs = await Promise.all([1, 2, 3, 4].map((i) => createOrganization(roster(), `Writer ${i}`)));
    const connections = await Promise.all(orgs.map((o) => createPushConnection(roster(), o.id)));
    const start = expectStatus(await roster().request('GET', '/v1/events/head'), 200).cursor;

    let writing = true;
    const seen: any[] = [];
    const follower = (async () => {
      let after = start;
      for (;;) {
        const done = !writing;
        const page = expectStatus(await roster().request('GET', `/v1/events?after=${after}&limit=200`), 200);
        seen.push(...page.data);
        after = page.next_cursor;
        if (done && page.data.length === 0) return;
      }
    })();
    await Promise.all(
      connections.map(async (connection, c) => {
        for (let batch = 0; batch < 8; batch += 1) {
          await ingest(roster(), connection.id, Array.from({ length: 5 }, (_, i) => user(`c${c}-b${batch}-u${i}`, { email: `u${batch}-${i}@o${c}.test` })));
        }
      }),
    );
    writing = false;
    await follower;

    const ids = seen.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
    for (const org of orgs) {
      const sequences = seen.filter((e) => e.organization_id === org.id && e.type === 'user.created').map((e) => e.sequence);
      assert.equal(sequences.length, 40, `every user.created of ${org.id} was seen`);
      assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), 'per-organization order holds');
    }
  });
});
