import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { DEFAULT_WEBHOOK_CONFIG } from '../src/config.ts';
import { assertError, createOrganization, createPushConnection, createScopedKey, eventsOf, expectStatus } from './support/api.ts';
import { ingest, user } from './support/directory.ts';
import { forEachEngine, useTestRoster, type TestRoster } from './support/roster.ts';
import { WebhookReceiver } from './support/webhook-receiver.ts';

const fastRetries = { ...DEFAULT_WEBHOOK_CONFIG, allowedHosts: ['127.0.0.1'], retryBaseMs: 20, retryCapMs: 100, timeoutMs: 1000, pollIntervalMs: 20 };

async function people(roster: TestRoster, connectionId: string, prefix: string, count: number): Promise<void> {
  const records = Array.from({ length: count }, (_, i) => user(`${prefix}${i}`, { email: `${prefix}${i}@acme.test`, state: 'active' }));
  await ingest(roster, connectionId, records);
}

forEachEngine('webhook endpoints: SSRF guard', (engine) => {
  const roster = useTestRoster(engine);

  test('private, loopback, link-local and non-http URLs are refused without an allow-list', async () => {
    for (const url of [
      'http://10.0.0.1/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]/hook',
      'http://127.0.0.1:9/hook',
      'http://localhost/hook',
      'http://192.168.1.10/hook',
      'http://100.64.0.1/hook',
      'http://[fd00::1]/hook',
      'http://0.0.0.0/hook',
      'http://[::ffff:10.0.0.1]/hook',
      'ftp://example.com/hook',
      'not a url',
    ]) {
      assertError(await roster().request('POST', '/v1/webhook-endpoints', { url }), 400, 'url_not_allowed');
    }
    const created = expectStatus(await roster().request('POST', '/v1/webhook-endpoints', { url: 'http://93.184.216.34/hook' }), 201);
    assertError(await roster().request('PATCH', `/v1/webhook-endpoints/${created.id}`, { url: 'http://10.1.2.3/' }), 400, 'url_not_allowed');
  });
});

forEachEngine('webhook endpoints: management and isolation', (engine) => {
  const roster = useTestRoster(engine, { config: { webhooks: fastRetries } });

  test('the secret is shown once, and endpoints are listed, changed and deleted', async () => {
    const org = await createOrganization(roster());
    const created = expectStatus(
      await roster().request('POST', '/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/x', organization_id: org.id, event_types: ['user.created'] }),
      201,
    );
    assert.match(created.secret, /^whsec_[A-Za-z0-9+/]{32,}={0,2}$/);
    assert.ok(Buffer.from(created.secret.slice(6), 'base64').length >= 24);
    const got = expectStatus(await roster().request('GET', `/v1/webhook-endpoints/${created.id}`), 200);
    assert.equal(got.secret, undefined);
    assert.deepEqual(got.event_types, ['user.created']);
    assert.equal(got.organization_id, org.id);
    const stored = await roster().database.db.selectFrom('webhook_endpoints').select('secret').where('id', '=', created.id).executeTakeFirstOrThrow();
    assert.ok(!stored.secret.includes(created.secret.slice(6, 20)), 'the secret is stored encrypted');
    const patched = expectStatus(await roster().request('PATCH', `/v1/webhook-endpoints/${created.id}`, { enabled: false, batch_size: 10 }), 200);
    assert.equal(patched.enabled, false);
    assert.equal(patched.batch_size, 10);
    const list = expectStatus(await roster().request('GET', `/v1/webhook-endpoints?organization_id=${org.id}`), 200);
    assert.deepEqual(list.data.map((e: any) => e.id), [created.id]);
    assert.equal(expectStatus(await roster().request('DELETE', `/v1/webhook-endpoints/${created.id}`), 204), '');
    assertError(await roster().request('GET', `/v1/webhook-endpoints/${created.id}`), 404, 'webhook_endpoint_not_found');
    assertError(await roster().request('POST', '/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/x', event_types: ['nope'] }), 400, 'invalid_request');
  });

  test('a scoped key never sees, changes or redelivers another organization’s endpoints or deliveries', async () => {
    const a = await createOrganization(roster(), 'A');
    const b = await createOrganization(roster(), 'B');
    const keyA = (await createScopedKey(roster(), a.id)).key;
    const keyB = (await createScopedKey(roster(), b.id)).key;
    const mine = expectStatus(await roster().request('POST', '/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/a' }, { key: keyA }), 201);
    assert.equal(mine.organization_id, a.id, 'a scoped key’s endpoint is its organization’s');
    const global = expectStatus(await roster().request('POST', '/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/all' }), 201);
    assert.equal(global.organization_id, null);
    assertError(
      await roster().request('POST', '/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/b', organization_id: b.id }, { key: keyA }),
      404,
      'organization_not_found',
    );
    for (const [method, path, body] of [
      ['GET', `/v1/webhook-endpoints/${mine.id}`, undefined],
      ['PATCH', `/v1/webhook-endpoints/${mine.id}`, { enabled: false }],
      ['DELETE', `/v1/webhook-endpoints/${mine.id}`, undefined],
      ['GET', `/v1/webhook-endpoints/${mine.id}/deliveries`, undefined],
      ['POST', `/v1/webhook-endpoints/${mine.id}/redeliver`, { event_id: 'evt_x' }],
      ['POST', `/v1/webhook-endpoints/${mine.id}/rotate-secret`, {}],
      ['POST', `/v1/webhook-endpoints/${mine.id}/test`, undefined],
      ['GET', `/v1/webhook-endpoints/${global.id}`, undefined],
      ['GET', `/v1/webhook-endpoints/${global.id}/deliveries`, undefined],
    ] as const) {
      assertError(await roster().request(method, path, body, { key: keyB }), 404, 'webhook_endpoint_not_found');
    }
    const listB = expectStatus(await roster().request('GET', '/v1/webhook-endpoints', undefined, { key: keyB }), 200);
    assert.deepEqual(listB.data, []);
    const listA = expectStatus(await roster().request('GET', '/v1/webhook-endpoints', undefined, { key: keyA }), 200);
    assert.deepEqual(listA.data.map((e: any) => e.id), [mine.id]);
    assertError(await roster().request('GET', `/v1/webhook-endpoints?organization_id=${a.id}`, undefined, { key: keyB }), 404, 'organization_not_found');
  });
});

forEachEngine('webhook delivery features', (engine) => {
  const roster = useTestRoster(engine, { config: { webhooks: { ...fastRetries, disableAfterMs: 150, disableAfterAttempts: 3 } } });
  const receiver = new WebhookReceiver();
  let org: any;
  let connection: any;
  before(async () => {
    await receiver.start();
  });
  after(() => receiver.stop());

  async function endpoint(body: Record<string, unknown> = {}) {
    const created = expectStatus(await roster().request('POST', '/v1/webhook-endpoints', { url: receiver.url, ...body }), 201);
    receiver.secrets.push(created.secret);
    return created;
  }

  test('deliveries are signed, logged, and redelivered one by one or by time range', async () => {
    org = await createOrganization(roster());
    connection = await createPushConnection(roster(), org.id);
    const hook = await endpoint({ organization_id: org.id, event_types: ['user.created'] });
    await people(roster(), connection.id, 'r', 5);
    const created = (await eventsOf(roster(), org.id)).filter((e) => e.type === 'user.created');
    assert.equal(created.length, 5);
    await receiver.waitFor(() => created.every((e) => receiver.eventIds.has(e.id)), 10_000, 'five user.created events');
    receiver.assertNoProblems();
    const first = receiver.messages.find((m) => m.webhookId === created[0]!.id)!;
    assert.equal(first.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(first.body), {
      id: created[0]!.id,
      type: 'user.created',
      organization_id: org.id,
      sequence: created[0]!.sequence,
      occurred_at: created[0]!.occurred_at,
      data: created[0]!.data,
      changes: created[0]!.changes,
      source: created[0]!.source,
    });

    const deliveries = await waitForDeliveries(hook.id, 'status=delivered', 5);
    assert.equal(deliveries[0].attempt_log[0].status_code, 204);
    assert.equal(typeof deliveries[0].attempt_log[0].latency_ms, 'number');
    const one = expectStatus(await roster().request('GET', `/v1/webhook-endpoints/${hook.id}/deliveries?event_id=${created[2]!.id}`), 200);
    assert.equal(one.data.length, 1);

    const before = receiver.messages.length;
    expectStatus(await roster().request('POST', `/v1/webhook-endpoints/${hook.id}/redeliver`, { event_id: created[2]!.id }), 202);
    await receiver.waitFor(() => receiver.messages.length > before, 10_000, 'the redelivered event');
    assert.equal(receiver.messages.at(-1)!.webhookId, created[2]!.id, 'a redelivery repeats the webhook-id');

    const from = new Date(Date.parse(created[0]!.occurred_at) - 1000).toISOString();
    const to = new Date(Date.now() + 1000).toISOString();
    const range = expectStatus(await roster().request('POST', `/v1/webhook-endpoints/${hook.id}/redeliver`, { from, to }), 202);
    assert.equal(range.enqueued, 5);
    await receiver.waitFor(() => receiver.messages.length >= before + 6, 10_000, 'the redelivered range');
    assertError(await roster().request('POST', `/v1/webhook-endpoints/${hook.id}/redeliver`, { event_id: 'evt_nope' }), 404, 'event_not_found');
    expectStatus(await roster().request('PATCH', `/v1/webhook-endpoints/${hook.id}`, { enabled: false }), 200);
  });

  test('batching sends one organization’s events in order as one signed array', async () => {
    const hook = await endpoint({ organization_id: org.id, batch_size: 5, event_types: ['user.created'] });
    await people(roster(), connection.id, 'b', 12);
    const created = (await eventsOf(roster(), org.id)).filter((e) => e.type === 'user.created' && e.data.email?.startsWith('b'));
    assert.equal(created.length, 12);
    await receiver.waitFor(() => created.every((e) => receiver.eventIds.has(e.id)), 10_000, 'twelve batched events');
    receiver.assertNoProblems();
    const batches = receiver.messages.filter((m) => m.batch && m.events.some((e) => created.some((c) => c.id === e.id)));
    assert.ok(batches.length >= 3 && batches.every((m) => m.events.length <= 5 && m.webhookId.startsWith('msg_')));
    for (const batch of batches) {
      const sequences = batch.events.map((e) => e.sequence);
      assert.deepEqual(sequences, [...sequences].sort((x, y) => x - y));
    }
    expectStatus(await roster().request('PATCH', `/v1/webhook-endpoints/${hook.id}`, { enabled: false }), 200);
  });

  test('after a rotation both secrets sign during the overlap, then only the new one', async () => {
    const hook = await endpoint({ organization_id: org.id, event_types: ['user.created'] });
    const oldSecret = hook.secret;
    const rotated = expectStatus(await roster().request('POST', `/v1/webhook-endpoints/${hook.id}/rotate-secret`, { overlap_seconds: 2 }), 200);
    receiver.secrets.push(rotated.secret);
    assert.notEqual(rotated.secret, oldSecret);
    await people(roster(), connection.id, 'o', 1);
    const during = (await eventsOf(roster(), org.id)).at(-1)!;
    await receiver.waitFor(() => receiver.eventIds.has(during.id), 10_000, 'an event during the overlap');
    const message = receiver.messages.find((m) => m.webhookId === during.id)!;
    assert.equal(message.signatures.length, 2);
    assert.doesNotThrow(() => new Webhook(oldSecret).verify(message.body, message.headers));
    assert.doesNotThrow(() => new Webhook(rotated.secret).verify(message.body, message.headers));

    await new Promise((resolve) => setTimeout(resolve, 2100));
    await people(roster(), connection.id, 'n', 1);
    const afterOverlap = (await eventsOf(roster(), org.id)).at(-1)!;
    await receiver.waitFor(() => receiver.eventIds.has(afterOverlap.id), 10_000, 'an event after the overlap');
    const later = receiver.messages.find((m) => m.webhookId === afterOverlap.id)!;
    assert.equal(later.signatures.length, 1);
    assert.throws(() => new Webhook(oldSecret).verify(later.body, later.headers));
    assert.doesNotThrow(() => new Webhook(rotated.secret).verify(later.body, later.headers));
    receiver.assertNoProblems();
    expectStatus(await roster().request('PATCH', `/v1/webhook-endpoints/${hook.id}`, { enabled: false }), 200);
  });

  test('an endpoint failing every attempt for long enough is disabled, with a webhook_endpoint.disabled event', async () => {
    const failing = new WebhookReceiver();
    await failing.start();
    failing.mode = 'fail';
    try {
      const hook = expectStatus(
        await roster().request('POST', '/v1/webhook-endpoints', { url: failing.url, organization_id: org.id, event_types: ['user.created'] }),
        201,
      );
      await people(roster(), connection.id, 'f', 1);
      const deadline = Date.now() + 15_000;
      let current: any;
      do {
        await new Promise((resolve) => setTimeout(resolve, 50));
        current = expectStatus(await roster().request('GET', `/v1/webhook-endpoints/${hook.id}`), 200);
      } while (current.enabled && Date.now() < deadline);
      assert.equal(current.enabled, false);
      assert.match(current.disabled_reason, /failed/);
      const disabled = (await eventsOf(roster(), org.id)).filter((e) => e.type === 'webhook_endpoint.disabled');
      assert.equal(disabled.length, 1);
      assert.equal(disabled[0]!.data.id, hook.id);
      const pending = expectStatus(await roster().request('GET', `/v1/webhook-endpoints/${hook.id}/deliveries?status=pending`), 200);
      assert.equal(pending.data.length, 1);
      assert.ok(pending.data[0].attempts >= 3);
      assert.equal(pending.data[0].attempt_log[0].status_code, 500);
      assert.equal(pending.data[0].attempt_log[0].response_excerpt, 'receiver failing on purpose');
    } finally {
      await failing.stop();
    }
  });

  async function waitForDeliveries(endpointId: string, query: string, count: number): Promise<any[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const page = expectStatus(await roster().request('GET', `/v1/webhook-endpoints/${endpointId}/deliveries?${query}`), 200);
      if (page.data.length >= count || Date.now() > deadline) return page.data;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
});
