/**
 * Delivery under trouble: a receiver that fails (500s, then hangs, then refuses connections) and recovers
 * ends with every event, verified and in order per organization; a hanging endpoint does not slow another.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { DEFAULT_WEBHOOK_CONFIG } from '../src/config.ts';
import { createOrganization, createPushConnection, expectStatus } from './support/api.ts';
import { ingest, user } from './support/directory.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';
import { WebhookReceiver } from './support/webhook-receiver.ts';

const config = {
  webhooks: { ...DEFAULT_WEBHOOK_CONFIG, allowedHosts: ['127.0.0.1'], retryBaseMs: 50, retryCapMs: 300, timeoutMs: 500, pollIntervalMs: 20 },
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

forEachEngine('webhook delivery under failure', (engine) => {
  const roster = useTestRoster(engine, { config });
  const receivers: WebhookReceiver[] = [];
  after(async () => {
    for (const receiver of receivers) await receiver.stop();
  });

  test('a receiver failing with 500s, timeouts and refused connections gets every event, in order, once it recovers', { timeout: 60_000 }, async () => {
    const receiver = await new WebhookReceiver().start();
    receivers.push(receiver);
    const hook = expectStatus(await roster().request('POST', '/v1/webhook-endpoints', { url: receiver.url }), 201);
    receiver.secrets.push(hook.secret);
    receiver.mode = 'fail';

    const orgs = [await createOrganization(roster(), 'One'), await createOrganization(roster(), 'Two')];
    const connections = [await createPushConnection(roster(), orgs[0].id), await createPushConnection(roster(), orgs[1].id)];
    const feed = async (round: number) => {
      for (const [index, connection] of connections.entries()) {
        await ingest(
          roster(),
          connection.id,
          Array.from({ length: 20 }, (_, i) => user(`u${round}-${i}`, { email: `u${round}-${i}-${index}@acme.test`, state: 'active' })),
        );
      }
    };
    await feed(0);
    await sleep(400);
    receiver.mode = 'hang';
    await feed(1);
    await sleep(1200);
    const port = receiver.port;
    await receiver.stop();
    await feed(2);
    await sleep(400);
    receiver.mode = 'ok';
    await receiver.start(port);

    const all = await roster().database.db.selectFrom('events').select('id').execute();
    assert.ok(all.length >= 120);
    await receiver.waitFor(() => all.every((event) => receiver.eventIds.has(event.id)), 40_000, `all ${all.length} events`);
    receiver.assertNoProblems();
    const failedAttempts = await roster()
      .database.db.selectFrom('webhook_attempts')
      .select(['status_code', 'error'])
      .where('endpoint_id', '=', hook.id)
      .where('error', 'is not', null)
      .execute();
    assert.ok(failedAttempts.some((a) => a.status_code === 500), 'saw 500s');
    assert.ok(failedAttempts.some((a) => /timed out/.test(a.error ?? '')), 'saw timeouts');
    assert.ok(failedAttempts.some((a) => /ECONNREFUSED/.test(a.error ?? '')), 'saw refused connections');
    expectStatus(await roster().request('PATCH', `/v1/webhook-endpoints/${hook.id}`, { enabled: false }), 200);
  });

});

forEachEngine('webhook delivery beside a hanging endpoint', (engine) => {
  // Requests to the hanging endpoint last the whole timeout; lags far below it show nobody waited for them.
  const roster = useTestRoster(engine, { config: { webhooks: { ...config.webhooks, timeoutMs: 3000 } } });
  const receivers: WebhookReceiver[] = [];
  after(async () => {
    for (const receiver of receivers) await receiver.stop();
  });

  test('a hanging endpoint does not slow delivery to another', { timeout: 60_000 }, async () => {
    const hanging = await new WebhookReceiver().start();
    const healthy = await new WebhookReceiver().start();
    receivers.push(hanging, healthy);
    hanging.mode = 'hang';
    const org = await createOrganization(roster(), 'Three');
    const connection = await createPushConnection(roster(), org.id);
    for (const receiver of [hanging, healthy]) {
      const hook = expectStatus(await roster().request('POST', '/v1/webhook-endpoints', { url: receiver.url, organization_id: org.id }), 201);
      receiver.secrets.push(hook.secret);
    }
    const head = await roster().database.db.selectFrom('events').select((eb) => eb.fn.max('position').as('head')).executeTakeFirstOrThrow();
    const lags: number[] = [];
    for (let round = 0; round < 10; round += 1) {
      const sent = Date.now();
      await ingest(roster(), connection.id, [user(`h${round}`, { email: `h${round}@acme.test`, state: 'active' })]);
      const ids = (
        await roster()
          .database.db.selectFrom('events')
          .select('id')
          .where('organization_id', '=', org.id)
          .where('position', '>', Number(head.head ?? 0))
          .execute()
      ).map((row) => row.id);
      await healthy.waitFor(() => ids.every((id) => healthy.eventIds.has(id)), 10_000, `round ${round} at the healthy receiver`);
      lags.push(Date.now() - sent);
      await sleep(100);
    }
    healthy.assertNoProblems();
    assert.equal(hanging.eventIds.size, 0);
    assert.ok(Math.max(...lags) < 1500, `healthy endpoint lags: ${lags.join(', ')} ms`);
  });
});
