/**
 * At-least-once under a real crash: a Roster delivering 10,000 events is SIGKILLed part-way and started
 * again; the receiver ends with every event, verified and in order per organization, and the only
 * duplicates are repeated webhook-ids.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createStore, createTenant, type StoreLocation } from '../bench/bench-store.ts';
import { appendEvents } from '../src/events/event-log.ts';
import { generateWebhookSecret } from '../src/events/webhooks/webhook-sender.ts';
import { createAesGcmSecretBox } from '../src/security/secret-box.ts';
import type { Database } from '../src/store/database.ts';
import { WebhookEndpointsRepo } from '../src/store/webhook-endpoints.repo.ts';
import { ENGINES, TEST_DATABASE_URL } from './support/roster.ts';
import { WebhookReceiver } from './support/webhook-receiver.ts';

const EVENTS = 10_000;
const ORGANIZATIONS = 4;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WORKER = join(ROOT, 'test', 'support', 'webhook-worker.ts');
const running = new Set<ChildProcess>();

function startWorker(store: StoreLocation, secretKey: Buffer) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', WORKER, '--engine', store.engine, '--location', store.where, '--secret-key', secretKey.toString('base64'), '--postgres-url', TEST_DATABASE_URL],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal, stderr });
    }),
  );
  return { exited, kill: (signal: NodeJS.Signals = 'SIGKILL') => child.kill(signal) };
}

async function appendSyntheticEvents(database: Database, organizationIds: string[]): Promise<void> {
  const perOrganization = EVENTS / organizationIds.length;
  for (let offset = 0; offset < perOrganization; offset += 500) {
    for (const organizationId of organizationIds) {
      await database.db.transaction().execute((tx) =>
        appendEvents(
          tx,
          organizationId,
          Array.from({ length: 500 }, (_, i) => ({ type: 'user.created' as const, data: { id: `user_${offset + i}` }, changes: null })),
          null,
          new Date().toISOString(),
          database.capabilities,
        ),
      );
    }
  }
}

for (const engine of ENGINES) {
  describe(`webhook delivery across a crash on ${engine}`, () => {
    const stores: StoreLocation[] = [];
    const databases: Database[] = [];
    const receiver = new WebhookReceiver();
    after(async () => {
      for (const child of running) child.kill('SIGKILL');
      while (running.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      await receiver.stop();
      for (const database of databases) await database.close();
      for (const store of stores) await store.destroy();
    });

    test('a Roster killed mid-delivery and restarted delivers every event; duplicates only as repeated webhook-ids', { timeout: 90_000 }, async () => {
      const store = await createStore(engine, 'webhook_crash', TEST_DATABASE_URL);
      stores.push(store);
      const database = store.open();
      databases.push(database);
      const organizationIds: string[] = [];
      for (let i = 0; i < ORGANIZATIONS; i += 1) {
        const tenant = await createTenant(database, { organizationId: `org_crash${i}`, connectionId: `conn_crash${i}` });
        organizationIds.push(tenant.organizationId);
      }
      await receiver.start();
      const secretKey = randomBytes(32);
      const secret = generateWebhookSecret();
      receiver.secrets.push(secret);
      await new WebhookEndpointsRepo(database.db).create(
        {
          organizationId: null,
          url: receiver.url,
          description: null,
          eventTypes: ['*'],
          enabled: true,
          batchSize: 1,
          sealedSecret: createAesGcmSecretBox(secretKey).seal(secret),
        },
        { actor: 'test', action: 'webhook_endpoint.created' },
        new Date().toISOString(),
      );
      await appendSyntheticEvents(database, organizationIds);

      const first = startWorker(store, secretKey);
      await receiver.waitFor(() => receiver.eventIds.size >= 2000, 60_000, '2,000 events before the crash');
      first.kill();
      const killed = await first.exited;
      assert.equal(killed.signal, 'SIGKILL', `the worker ended on its own: ${killed.stderr}`);
      const beforeRestart = receiver.eventIds.size;
      assert.ok(beforeRestart < EVENTS, 'killed before it had delivered everything');

      const second = startWorker(store, secretKey);
      await receiver.waitFor(() => receiver.eventIds.size === EVENTS, 60_000, `all ${EVENTS} events after the restart`);
      second.kill('SIGTERM');
      await second.exited;

      receiver.assertNoProblems();
      const all = await database.db.selectFrom('events').select('id').execute();
      assert.equal(all.length, EVENTS);
      assert.ok(all.every((event) => receiver.eventIds.has(event.id)));
      for (const message of receiver.messages) {
        assert.equal(message.events.length, 1);
        assert.equal(message.webhookId, message.events[0].id, 'a repeat carries the same webhook-id');
      }
      const duplicates = receiver.messages.length - EVENTS;
      assert.ok(duplicates >= 0 && duplicates < 500, `duplicates: ${duplicates}`);
    });
  });
}
