import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_WEBHOOK_CONFIG } from '../src/config.ts';
import type { CliContext } from '../src/cli/context.ts';
import { runCli } from '../src/cli/program.ts';
import { createOrganization, createPushConnection, eventsOf, expectStatus } from './support/api.ts';
import { ingest, user } from './support/directory.ts';
import { useTestRoster } from './support/roster.ts';
import { WebhookReceiver } from './support/webhook-receiver.ts';

function captureContext(env: NodeJS.ProcessEnv): CliContext & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { env, out, err, stdout: (line) => out.push(line), stderr: (line) => err.push(line) };
}

describe('CLI: roster webhooks', () => {
  const roster = useTestRoster('sqlite', { config: { webhooks: { ...DEFAULT_WEBHOOK_CONFIG, allowedHosts: ['127.0.0.1'], pollIntervalMs: 20 } } });
  const receiver = new WebhookReceiver();
  before(() => receiver.start());
  after(() => receiver.stop());

  it('lists endpoints, sends a signed test message, and redelivers an event', async () => {
    const env = { ROSTER_URL: roster().baseUrl, ROSTER_API_KEY: roster().adminKey };
    const org = await createOrganization(roster());
    const hook = expectStatus(await roster().request('POST', '/v1/webhook-endpoints', { url: receiver.url, organization_id: org.id }), 201);
    receiver.secrets.push(hook.secret);

    const ls = captureContext(env);
    assert.equal(await runCli(['node', 'roster', 'webhooks', 'ls'], ls), 0, ls.err.join('\n'));
    assert.match(ls.out.join('\n'), new RegExp(hook.id));

    const probe = captureContext(env);
    assert.equal(await runCli(['node', 'roster', 'webhooks', 'test', hook.id], probe), 0, probe.err.join('\n'));
    assert.match(probe.out.join('\n'), /^ok: HTTP 204/m);
    assert.equal(receiver.messages.at(-1)!.events[0].type, 'webhook_endpoint.test');
    receiver.assertNoProblems();

    const connection = await createPushConnection(roster(), org.id);
    await ingest(roster(), connection.id, [user('c1', { email: 'c1@acme.test', state: 'active' })]);
    const event = (await eventsOf(roster(), org.id)).at(-1)!;
    await receiver.waitFor(() => receiver.eventIds.has(event.id), 10_000, 'the event');
    const count = receiver.messages.length;
    const redeliver = captureContext(env);
    assert.equal(await runCli(['node', 'roster', 'webhooks', 'redeliver', hook.id, '--event', event.id], redeliver), 0, redeliver.err.join('\n'));
    assert.deepEqual(redeliver.out, ['1 delivery enqueued']);
    await receiver.waitFor(() => receiver.messages.length > count, 10_000, 'the redelivery');

    const usage = captureContext(env);
    assert.equal(await runCli(['node', 'roster', 'webhooks', 'redeliver', hook.id], usage), 1);
    assert.match(usage.err.join('\n'), /--event/);
  });
});
