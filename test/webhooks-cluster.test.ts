/**
 * Several Roster processes on one PostgreSQL share webhook delivery: every event arrives, verified and in
 * order per organization, however the two workers interleave.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { DEFAULT_WEBHOOK_CONFIG } from '../src/config.ts';
import { createOrganization, createPushConnection, expectStatus } from './support/api.ts';
import { ingest, user } from './support/directory.ts';
import { createTestStorage, ENGINES, startTestRoster } from './support/roster.ts';
import { WebhookReceiver } from './support/webhook-receiver.ts';

test('two Roster instances on one PostgreSQL deliver every event once in order between them', { skip: !ENGINES.includes('postgres'), timeout: 90_000 }, async () => {
  const storage = await createTestStorage('postgres');
  const secretKey = randomBytes(32);
  const config = {
    secretKey,
    webhooks: { ...DEFAULT_WEBHOOK_CONFIG, allowedHosts: ['127.0.0.1'], retryBaseMs: 50, retryCapMs: 300, timeoutMs: 2000, pollIntervalMs: 20 },
  };
  const receiver = await new WebhookReceiver().start();
  const first = await startTestRoster('postgres', { storage, config });
  const second = await startTestRoster('postgres', { storage, config: { ...config, apiKey: first.adminKey } });
  try {
    const hook = expectStatus(await first.request('POST', '/v1/webhook-endpoints', { url: receiver.url }), 201);
    receiver.secrets.push(hook.secret);
    const orgs = await Promise.all([1, 2, 3].map((i) => createOrganization(first, `Cluster ${i}`)));
    const connections = await Promise.all(orgs.map((o) => createPushConnection(first, o.id)));
    // Both instances take writes and both run a delivery worker over the same queues.
    await Promise.all(
      connections.map(async (connection, c) => {
        for (let round = 0; round < 10; round += 1) {
          const via = round % 2 === 0 ? first : second;
          await ingest(via, connection.id, Array.from({ length: 10 }, (_, i) => user(`c${c}-${round}-${i}`, { email: `u${round}-${i}@o${c}.test` })));
        }
      }),
    );
    const all = await first.database.db.selectFrom('events').select('id').execute();
    assert.ok(all.length >= 300);
    await receiver.waitFor(() => all.every((event) => receiver.eventIds.has(event.id)), 60_000, `all ${all.length} events`);
    receiver.assertNoProblems();
    // Successes are recorded in groups after the requests: wait for the bookkeeping to catch up.
    const deliveredCount = async () =>
      Number(
        (
          await first.database.db
            .selectFrom('webhook_deliveries')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('endpoint_id', '=', hook.id)
            .where('status', '=', 'delivered')
            .executeTakeFirstOrThrow()
        ).n,
      );
    for (let i = 0; i < 100 && (await deliveredCount()) < all.length; i += 1) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await deliveredCount(), all.length, 'each event settled once as delivered');
    const pending = await first.database.db.selectFrom('webhook_deliveries').select('id').where('status', '!=', 'delivered').execute();
    assert.equal(pending.length, 0);
    expectStatus(await first.request('PATCH', `/v1/webhook-endpoints/${hook.id}`, { enabled: false }), 200);
  } finally {
    await second.close();
    await first.close();
    await receiver.stop();
    await storage.destroy();
  }
});
