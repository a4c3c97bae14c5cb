/**
 * Webhook delivery benchmark: 50,000 events to a loopback receiver that verifies every signature.
 *
 * Phase "backlog": all events are committed at once and the worker drains them (events/s).
 * Phase "paced": events are committed at a steady rate in small transactions; latency is measured from
 * each transaction's commit to the receipt of its events (p50, p99).
 *
 *   npm run bench -- --only webhooks [--engine sqlite|postgres] [--events N] [--organizations N] [--rate N]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { Webhook } from 'standardwebhooks';
import { createRoster } from '../src/app.ts';
import { DEFAULT_WEBHOOK_CONFIG, loadConfig } from '../src/config.ts';
import { appendEvents } from '../src/events/event-log.ts';
import { generateWebhookSecret } from '../src/events/webhooks/webhook-sender.ts';
import { createAesGcmSecretBox } from '../src/security/secret-box.ts';
import type { Database } from '../src/store/database.ts';
import { WebhookEndpointsRepo } from '../src/store/webhook-endpoints.repo.ts';
import { createStore, createTenant, DEFAULT_POSTGRES_URL, type Engine } from './bench-store.ts';

const TARGET_EVENTS_PER_SECOND = 3000;
const TARGET_P99_MS = 250;

export async function runWebhookBenchmark(options: { engine: Engine; events: number; organizations: number; rate: number; postgresUrl: string }) {
  const store = await createStore(options.engine, 'bench_webhooks', options.postgresUrl);
  const database = store.open();
  const secret = generateWebhookSecret();
  const verifier = new Webhook(secret);
  const committedAt = new Map<string, number>();
  const latencies: number[] = [];
  let received = 0;
  let badSignatures = 0;
  let onReceived: (() => void) | undefined;
  const receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      try {
        verifier.verify(body, request.headers as Record<string, string>);
      } catch {
        badSignatures += 1;
      }
      const id = request.headers['webhook-id'] as string;
      const committed = committedAt.get(id);
      if (committed !== undefined) {
        latencies.push(performance.now() - committed);
        committedAt.delete(id);
        received += 1;
      }
      response.writeHead(204).end();
      onReceived?.();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  const secretKey = randomBytes(32);
  const organizationIds: string[] = [];
  for (let i = 0; i < options.organizations; i += 1) {
    organizationIds.push((await createTenant(database, { organizationId: `org_wh${i}`, connectionId: `conn_wh${i}` })).organizationId);
  }
  await new WebhookEndpointsRepo(database.db).create(
    { organizationId: null, url, description: null, eventTypes: ['*'], enabled: true, batchSize: 1, sealedSecret: createAesGcmSecretBox(secretKey).seal(secret) },
    { actor: 'bench', action: 'webhook_endpoint.created' },
    new Date().toISOString(),
  );
  const roster = await createRoster(
    {
      ...loadConfig({}),
      port: 0,
      host: '127.0.0.1',
      logLevel: 'silent',
      secretKey,
      webhooks: { ...DEFAULT_WEBHOOK_CONFIG, allowedHosts: ['127.0.0.1'], pollIntervalMs: 20 },
      apiKey: `rk_${randomBytes(32).toString('base64url')}`,
    },
    { database, processMetrics: false, logger: pino({ level: 'silent' }) as FastifyBaseLogger },
  );
  const until = (count: number) =>
    new Promise<void>((resolve) => {
      onReceived = () => received >= count && resolve();
      onReceived();
    });
  let nextUser = 0;
  let committed = 0;
  const commit = async (organizationId: string, count: number) => {
    const events = await database.db.transaction().execute((tx) =>
      appendEvents(
        tx,
        organizationId,
        Array.from({ length: count }, () => ({ type: 'user.created' as const, data: { id: `user_${(nextUser += 1)}`, email: `u${nextUser}@acme.test` }, changes: null })),
        null,
        new Date().toISOString(),
        database.capabilities,
      ),
    );
    const now = performance.now();
    for (const event of events) committedAt.set(event.id, now);
    committed += events.length;
  };
  try {
    await roster.start();
    // Backlog: everything committed up front, then drained.
    const started = performance.now();
    const perOrganization = Math.ceil(options.events / organizationIds.length);
    for (const organizationId of organizationIds) {
      for (let done = 0; done < perOrganization; done += 1000) await commit(organizationId, Math.min(1000, perOrganization - done));
    }
    const backlog = committed;
    await until(backlog);
    const backlogSeconds = (performance.now() - started) / 1000;
    const backlogRate = backlog / backlogSeconds;

    // Paced: small transactions at a steady rate, round robin over organizations.
    latencies.length = 0;
    received = 0;
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((options.rate * tickMs) / 1000));
    const pacedStarted = performance.now();
    let sent = 0;
    let tick = 0;
    while (sent < options.events) {
      const count = Math.min(perTick, options.events - sent);
      await commit(organizationIds[tick % organizationIds.length]!, count);
      sent += count;
      tick += 1;
      const wait = pacedStarted + tick * tickMs - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await until(sent);
    const pacedSeconds = (performance.now() - pacedStarted) / 1000;
    latencies.sort((a, b) => a - b);
    const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
    const p99 = percentile(99);
    console.log(`[webhooks ${options.engine}] ${options.organizations} organizations, one endpoint, batch size 1, signatures verified by the receiver`);
    console.log(
      `  backlog: ${backlog} events in ${backlogSeconds.toFixed(2)} s = ${Math.round(backlogRate)} events/s ` +
        `(target > ${TARGET_EVENTS_PER_SECOND}: ${backlogRate > TARGET_EVENTS_PER_SECOND ? 'met' : 'MISSED'})`,
    );
    console.log(
      `  paced:   ${sent} events at ${options.rate}/s in ${pacedSeconds.toFixed(2)} s; commit→receipt p50 ${percentile(50).toFixed(1)} ms, ` +
        `p99 ${p99.toFixed(1)} ms (target < ${TARGET_P99_MS}: ${p99 < TARGET_P99_MS ? 'met' : 'MISSED'})`,
    );
    if (badSignatures > 0) console.log(`  ${badSignatures} signatures did not verify!`);
    return { backlogRate, p99, badSignatures };
  } finally {
    await roster.stop();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    receiver.closeAllConnections();
    await database.close();
    await store.destroy();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const { values } = parseArgs({
    options: {
      engine: { type: 'string', default: 'sqlite' },
      events: { type: 'string', default: '50000' },
      organizations: { type: 'string', default: '20' },
      rate: { type: 'string', default: '4000' },
      'postgres-url': { type: 'string', default: process.env.ROSTER_TEST_DATABASE_URL ?? DEFAULT_POSTGRES_URL },
    },
  });
  await runWebhookBenchmark({
    engine: values.engine as Engine,
    events: Number(values.events),
    organizations: Number(values.organizations),
    rate: Number(values.rate),
    postgresUrl: values['postgres-url']!,
  });
}
