/**
 * Runs a Roster (API and delivery worker) on an existing store, for the webhook crash test, which
 * SIGKILLs it mid-delivery and starts it again.
 *
 *   node --import tsx test/support/webhook-worker.ts --engine sqlite|postgres --location <file|schema>
 *     --secret-key <base64> [--postgres-url URL]
 *
 * Prints `started` once it delivers.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRoster } from '../../src/app.ts';
import { DEFAULT_WEBHOOK_CONFIG, loadConfig } from '../../src/config.ts';
import { openPostgres, openSqlite } from '../../src/store/database.ts';
import { DEFAULT_POSTGRES_URL } from '../../bench/bench-store.ts';

const { values } = parseArgs({
  options: {
    engine: { type: 'string' },
    location: { type: 'string' },
    'secret-key': { type: 'string' },
    'postgres-url': { type: 'string', default: DEFAULT_POSTGRES_URL },
  },
});
const { engine, location } = values;
if (!location || !values['secret-key'] || (engine !== 'sqlite' && engine !== 'postgres')) {
  throw new Error('Usage: webhook-worker --engine sqlite|postgres --location <file|schema> --secret-key <base64>');
}
const database = engine === 'sqlite' ? openSqlite(location) : openPostgres({ url: values['postgres-url']!, schema: location, poolSize: 8 });
const roster = await createRoster(
  {
    ...loadConfig({}),
    port: 0,
    host: '127.0.0.1',
    dataDir: mkdtempSync(join(tmpdir(), 'roster-webhook-worker-')),
    logLevel: 'silent',
    apiKey: undefined,
    secretKey: Buffer.from(values['secret-key'], 'base64'),
    webhooks: { ...DEFAULT_WEBHOOK_CONFIG, allowedHosts: ['127.0.0.1'], retryBaseMs: 20, retryCapMs: 200, timeoutMs: 1000, pollIntervalMs: 20 },
  },
  { database, processMetrics: false },
);
await roster.start();
process.stdout.write('started\n');
const stop = () => void roster.stop().then(() => database.close()).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
