/**
 * Google sync benchmark: a full sync of an emulated Google Workspace org (100,000 users and 2,000 groups by
 * default) over HTTP into a fresh SQLite store, the way an operator runs one: a Roster instance, a
 * google-workspace connection created through its API with a service account, validated and synced by
 * its sync engine (runner, checkpoints, provider HTTP client, mapping, snapshot commit). The emulator runs
 * in a process of its own (`roster emulate google`), so its CPU and memory are not counted in this one.
 *
 * Phases: the floor (every page of users, groups and members fetched and JSON-parsed through an authorized
 * provider HTTP client, nothing mapped or stored), the full sync (from the connection's creation to the end
 * of its first run), and an unchanged re-sync (sync now). Targets: full sync under 30 s per 100,000 users, within 2× the floor, peak RSS under 1 GiB;
 * the unchanged re-sync writes no change event.
 *
 *   npm run bench -- --only google [--users N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProviderDefinition, type ProviderDefinition } from '../src/connectors/definition/load-provider-definition.ts';
import { pages } from '../src/connectors/definition/pager.ts';
import { googleWorkspaceDefinition } from '../src/connectors/google/google.definition.ts';
import type { ServiceAccountKey } from '../src/emulators/google/index.ts';
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { createRoster, type Roster } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import type { FetchJson } from '../src/connectors/definition/pager.ts';
import type { SyncRunView } from '../src/reconcile/sync-runs.ts';
import { generateApiKey } from '../src/store/api-keys.repo.ts';
import type { Database } from '../src/store/database.ts';
import { JwtBearerStrategy } from '../src/sync/credentials/jwt-bearer.strategy.ts';
import { TokenManager } from '../src/sync/credentials/token-manager.ts';
import { fetchJsonVia } from '../src/sync/http/fetch-json.ts';
import { ProviderHttpClient } from '../src/sync/http/provider-http-client.ts';
import { throttleProfiles } from '../src/sync/http/throttle-classifiers.ts';
import { createStore } from './bench-store.ts';
import { RssSampler } from './rss-sampler.ts';

const SCOPES = [
  'https://www.googleapis.com/auth/admin.directory.user.readonly',
  'https://www.googleapis.com/auth/admin.directory.group.readonly',
  'https://www.googleapis.com/auth/admin.directory.group.member.readonly',
].join(' ');

export interface GoogleSyncBenchOptions {
  users: number;
  groups: number;
  seed?: number;
}

interface RunningEmulator {
  url: string;
  tokenUrl: string;
  key: ServiceAccountKey;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `roster emulate google` in a process of its own and waits until it answers. */
async function startEmulator(options: GoogleSyncBenchOptions, keyFile: string): Promise<RunningEmulator> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  // E.g. ROSTER_BENCH_EMULATOR_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the emulator too.
  const nodeArgs = (process.env.ROSTER_BENCH_EMULATOR_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const args = [...nodeArgs, '--import', 'tsx', 'src/cli/main.ts', 'emulate', 'google', '--users', String(options.users), '--groups', String(options.groups), '--port', '0', '--seed', String(options.seed ?? 1), '--key-file', keyFile];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  try {
    let output = '';
    const lines = await new Promise<{ url: string; tokenUrl: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the Google emulator did not start within 120 s:\n${output}`)), 120_000);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the Google emulator exited with ${signal ?? code}:\n${output}`));
      });
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        output += chunk;
        const url = /listening on (\S+)/.exec(output)?.[1];
        const tokenUrl = /token URL:\s+(\S+)/.exec(output)?.[1];
        if (url && tokenUrl && /control API:/.test(output)) {
          clearTimeout(timer);
          resolve({ url, tokenUrl });
        }
      });
    });
    // Keep draining its output, so a chatty emulator never blocks on a full pipe.
    child.stdout!.resume();
    for (let attempt = 0; ; attempt++) {
      try {
        if ((await fetch(`${lines.url}/_emulator/stats`)).ok) break;
      } catch {
        // not answering yet
      }
      if (attempt >= 300) throw new Error('the Google emulator does not answer');
      await new Promise((r) => setTimeout(r, 100));
    }
    const key = JSON.parse(readFileSync(keyFile, 'utf8')) as ServiceAccountKey;
    return { ...lines, key, child, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What the floor reads the provider with: the same definition and an authorized provider client. */
interface PullSource {
  definition: ProviderDefinition;
  config: Readonly<Record<string, string>>;
  fetchJson: FetchJson;
}

/** A Google source as a connection would assemble it, with its API root at the emulator. */
function googleSource(emulator: RunningEmulator): PullSource {
  const definition = loadProviderDefinition({ ...googleWorkspaceDefinition, baseUrl: `${emulator.url}/admin/directory/v1` });
  const tokens = new TokenManager({
    strategy: new JwtBearerStrategy({
      http: new ProviderHttpClient(),
      tokenUrl: emulator.tokenUrl,
      issuer: emulator.key.client_email,
      subject: 'admin@example.com',
      scope: SCOPES,
      privateKey: emulator.key.private_key,
    }),
  });
  const http = new ProviderHttpClient({ label: 'bench-google', throttle: throttleProfiles.google, maxConcurrent: 4, authorize: () => tokens.getAuthHeader() });
  return { definition, config: {}, fetchJson: fetchJsonVia(http) };
}

interface FloorResult {
  seconds: number;
  requests: number;
  users: number;
  groups: number;
  /** Members of type USER: the memberships a sync keeps. */
  userMemberships: number;
  secondsByResource: Record<string, number>;
}

/** Every page the sync reads, in the same order, fetched and parsed; nothing mapped, nothing stored. */
async function floor(source: PullSource): Promise<FloorResult> {
  const definition: ProviderDefinition = source.definition;
  const result: FloorResult = { seconds: 0, requests: 0, users: 0, groups: 0, userMemberships: 0, secondsByResource: {} };
  const started = performance.now();
  let mark = started;
  const lap = (resource: string) => {
    const now = performance.now();
    result.secondsByResource[resource] = (now - mark) / 1000;
    mark = now;
  };
  for await (const page of pages(definition, 'users', { config: source.config }, source.fetchJson)) {
    result.requests++;
    result.users += page.items.filter((u) => !(u as { deletionTime?: string }).deletionTime).length;
  }
  lap('users');
  const groupIds: string[] = [];
  for await (const page of pages(definition, 'groups', { config: source.config }, source.fetchJson)) {
    result.requests++;
    for (const g of page.items) groupIds.push((g as { id: string }).id);
  }
  result.groups = groupIds.length;
  lap('groups');
  for (const groupId of groupIds) {
    for await (const page of pages(definition, 'members', { config: source.config, groupId }, source.fetchJson)) {
      result.requests++;
      result.userMemberships += page.items.filter((m) => (m as { type?: string }).type === 'USER').length;
    }
  }
  lap('members');
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

async function eventCounts(database: Database, organizationId: string): Promise<Map<string, number>> {
  const rows = await database.db
    .selectFrom('events')
    .select(['type', (eb) => eb.fn.countAll<number>().as('n')])
    .where('organization_id', '=', organizationId)
    .groupBy('type')
    .execute();
  return new Map(rows.map((r) => [r.type, Number(r.n)]));
}

function difference(after: Map<string, number>, before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [type, n] of after) if (n !== (before.get(type) ?? 0)) out[type] = n - (before.get(type) ?? 0);
  return out;
}

async function storeCounts(database: Database, organizationId: string) {
  const count = async (table: 'users' | 'groups' | 'memberships') =>
    Number(
      (await database.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('organization_id', '=', organizationId).executeTakeFirstOrThrow()).n,
    );
  return { users: await count('users'), groups: await count('groups'), memberships: await count('memberships') };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mib = (bytes: number) => `${Math.round(bytes / 1024 ** 2)} MiB`;
const verdict = (ok: boolean, text: string) => `${ok ? 'met' : 'MISSED'} (${text})`;

export async function runGoogleSyncBenchmark(options: GoogleSyncBenchOptions): Promise<void> {
  const scale = options.users / 100_000;
  const targetSeconds = 30 * scale;
  const keyDir = mkdtempSync(join(tmpdir(), 'roster-bench-google-'));
  const started = performance.now();
  const emulator = await startEmulator(options, join(keyDir, 'service-account.json'));
  console.log(`emulator (pid ${emulator.child.pid}) answering at ${emulator.url} after ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const store = await createStore('sqlite', 'bench_google');
  const database = store.open();
  const sampler = new RssSampler(50);
  const misses: string[] = [];
  let stopRoster: () => Promise<void> = async () => {};
  try {
    console.log(`[google] store: ${store.where}`);
    const apiKey = generateApiKey();
    const base = loadConfig({});
    const roster = await createRoster(
      { ...base, port: 0, host: '127.0.0.1', apiKey, secretKey: randomBytes(32), dataDir: keyDir, sync: { ...base.sync, providerAllowedHosts: ['127.0.0.1'] } },
      { database, logger: pino({ level: 'warn' }) as FastifyBaseLogger, processMetrics: false },
    );
    const url = await roster.start();
    const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const response = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as T;
    };
    stopRoster = () => roster.stop();

    // 1. The floor: the same requests, through the same client, with auth; no mapping, no storage.
    const floorResult = await floor(googleSource(emulator));
    console.log(
      `[google] ${'floor (fetch+parse)'.padEnd(20)} ${floorResult.seconds.toFixed(2).padStart(7)} s  ${fmt(floorResult.users / floorResult.seconds)} users/s` +
        `  ${fmt(floorResult.requests)} requests  served: ${fmt(floorResult.users)} users, ${fmt(floorResult.groups)} groups, ${fmt(floorResult.userMemberships)} user memberships` +
        `  time by resource: ${Object.entries(floorResult.secondsByResource).map(([r, s]) => `${r} ${s.toFixed(2)} s`).join(', ')}`,
    );

    // 2. The full sync into the empty store: a connection created through the API, validated and synced by the engine.
    (globalThis as { gc?: () => void }).gc?.();
    sampler.reset();
    const syncStarted = performance.now();
    const organization = await api<{ id: string }>('POST', '/v1/organizations', { name: 'Bench' });
    const connection = await api<{ id: string }>('POST', `/v1/organizations/${organization.id}/connections`, {
      type: 'google-workspace',
      name: 'Google Workspace',
      config: { api_base_url: `${emulator.url}/admin/directory/v1`, token_url: emulator.tokenUrl, push: false },
      credentials: { method: 'service_account', service_account_key: emulator.key, subject: 'admin@example.com' },
    });
    const tenant = { organizationId: organization.id, connectionId: connection.id };
    const run = await runToEnd(roster, api, connection.id, undefined);
    const byResource = run.phases;
    const syncSeconds = (performance.now() - syncStarted) / 1000;
    const rss = sampler.peak();
    const counts = await storeCounts(database, tenant.organizationId);
    const ratio = syncSeconds / floorResult.seconds;
    const countsMatch = counts.users === floorResult.users && counts.groups === floorResult.groups && counts.memberships === floorResult.userMemberships;
    const syncVerdicts = [
      verdict(syncSeconds < targetSeconds, `< ${targetSeconds.toFixed(1)} s`),
      verdict(ratio <= 2, '≤ 2× floor'),
      verdict(rss.bytes < 1024 ** 3, 'RSS < 1 GiB'),
      verdict(countsMatch && run.status === 'completed', 'store = emulator'),
    ];
    if (syncSeconds >= targetSeconds) misses.push('full sync time');
    if (ratio > 2) misses.push('full sync ÷ floor');
    if (rss.bytes >= 1024 ** 3) misses.push('full sync RSS');
    if (!countsMatch || run.status !== 'completed') misses.push('store counts');
    console.log(
      `[google] ${'full sync'.padEnd(20)} ${syncSeconds.toFixed(2).padStart(7)} s  ${fmt(floorResult.users / syncSeconds)} users/s` +
        `  peak RSS ${mib(rss.bytes)} (${rss.samples} samples)  ${ratio.toFixed(1)}× floor  run ${run.status}` +
        `  store: ${fmt(counts.users)} users, ${fmt(counts.groups)} groups, ${fmt(counts.memberships)} memberships` +
        `  time by resource: ${Object.entries(byResource).map(([r, s]) => `${r} ${s.toFixed(2)} s`).join(', ')}`,
    );
    console.log(`[google] ${''.padEnd(20)} ${syncVerdicts.join(', ')}`);

    // 3. An unchanged re-sync: only sync.started and sync.completed may be written.
    const before = await eventCounts(database, tenant.organizationId);
    (globalThis as { gc?: () => void }).gc?.();
    sampler.reset();
    const resyncStarted = performance.now();
    const rerun = await runToEnd(roster, api, tenant.connectionId, 'full');
    const resyncSeconds = (performance.now() - resyncStarted) / 1000;
    const resyncRss = sampler.peak();
    const written = difference(await eventCounts(database, tenant.organizationId), before);
    const changeEvents = Object.entries(written)
      .filter(([type]) => type !== 'sync.started' && type !== 'sync.completed')
      .reduce((sum, [, n]) => sum + n, 0);
    if (changeEvents !== 0) misses.push('unchanged re-sync events');
    const total = Object.values(written).reduce((a, b) => a + b, 0);
    console.log(
      `[google] ${'unchanged re-sync'.padEnd(20)} ${resyncSeconds.toFixed(2).padStart(7)} s  ${fmt(floorResult.users / resyncSeconds)} users/s` +
        `  peak RSS ${mib(resyncRss.bytes)}  ${(resyncSeconds / floorResult.seconds).toFixed(1)}× floor  run ${rerun.status}` +
        `  events ${total} (${Object.entries(written).map(([t, n]) => `${t} ${n}`).join(', ') || 'none'})`,
    );
    console.log(`[google] ${''.padEnd(20)} ${verdict(changeEvents === 0, `0 change events, got ${changeEvents}`)}`);
    console.log(misses.length === 0 ? 'Google sync targets: all met' : `Google sync targets missed: ${misses.join(', ')}`);
  } finally {
    await sampler.stop();
    await stopRoster();
    await database.close();
    await store.destroy();
    await emulator.stop();
    rmSync(keyDir, { recursive: true, force: true });
  }
}

/**
 * Follows a connection's run to its end: the activation's first run (`kind` undefined) or one asked for
 * with sync now. Reports the time spent in each phase, as the run's progress tells it.
 */
async function runToEnd(
  roster: Roster,
  api: <T>(method: string, path: string, body?: unknown) => Promise<T>,
  connectionId: string,
  kind: 'full' | undefined,
): Promise<SyncRunView & { phases: Record<string, number> }> {
  let runId: string | undefined;
  if (kind) runId = (await api<{ run: SyncRunView }>('POST', `/v1/connections/${connectionId}/sync`, { kind })).run.id;
  const phases: Record<string, number> = {};
  let phase = 'validation';
  let mark = performance.now();
  for (;;) {
    const runs = await roster.database.db.selectFrom('sync_runs').select('id').where('connection_id', '=', connectionId).orderBy('id', 'desc').limit(1).execute();
    runId ??= runs[0]?.id;
    if (runId) {
      const run = await api<SyncRunView>('GET', `/v1/sync-runs/${runId}`);
      const now = performance.now();
      const current = run.status === 'queued' ? 'queued' : run.status === 'running' ? (run.progress?.phase ?? 'users') : 'end';
      if (current !== phase) {
        phases[phase] = (phases[phase] ?? 0) + (now - mark) / 1000;
        phase = current;
        mark = now;
      }
      if (run.status !== 'running' && run.status !== 'queued') return { ...run, phases };
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
