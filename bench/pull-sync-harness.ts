/**
 * The pull sync benchmark, whatever the provider: its emulator in a process of its own, a floor (every page
 * a full run reads, fetched and JSON-parsed through an authorized provider client, nothing mapped or stored),
 * then a real Roster on a fresh store (SQLite, or PostgreSQL when named): a connection created through its API and followed to the end of
 * its first run (the full sync), an unchanged full re-sync (no change event may be written), and, where the
 * provider has one, a round with changes made through the emulator's control API (a delta round, or a
 * critical re-poll for a provider without a delta protocol). On SQLite, last, the store floor (bench/store-floor.ts):
 * what SQLite alone spends writing the full sync's rows. Verdicts against the provider's targets, and a
 * closing line saying which were met.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { createRoster, type Roster } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import type { SyncRunView } from '../src/reconcile/sync-runs.ts';
import { generateApiKey } from '../src/store/api-keys.repo.ts';
import type { Database } from '../src/store/database.ts';
import type { PullKind } from '../src/sync/sync-runner.ts';
import { createStore, type Engine } from './bench-store.ts';
import { emulatorCpuSeconds, startEmulatorProcess, type EmulatorProcess } from './emulator-process.ts';
import { floor, type ConnectionBody, type FloorPlan, type FloorResult, type PullSource } from './pull-floor.ts';
import { RssSampler } from './rss-sampler.ts';
import { measureStoreFloor } from './store-floor.ts';
import { difference, eventCounts } from './event-counts.ts';

export interface PullSyncBenchOptions {
  users: number;
  groups: number;
  seed?: number;
  /** The store Roster syncs into; default SQLite. */
  engine?: Engine;
  postgresUrl?: string;
}

/** A round with changes: so many users edited through the control API, then a run of `kind` followed to its end. */
export interface ChangeRound {
  kind: 'delta' | 'critical';
  /** How the phase is named in the output, e.g. 'delta round'. */
  name: string;
  count: number;
  /** The round must end within this; none for a round that lists everything again. */
  targetSeconds?: number;
  /** Said under the round's line (why it is not a delta round). */
  note?: string;
  change(emulator: EmulatorProcess, userId: string, n: number): Promise<void>;
}

/** One provider behind the benchmark: how its emulator starts, how it is connected and read, what it must meet. */
export interface BenchProvider {
  /** Its tag on every line, e.g. `google` for `[google] …`. */
  tag: string;
  /** Its name in the closing line, e.g. `Google` for `Google sync targets: all met`. */
  label: string;
  /** The arguments of `roster emulate` (`workDir` is a private temporary directory, e.g. for a key file). */
  emulatorArgs(options: PullSyncBenchOptions, workDir: string): string[];
  startupTimeoutMs: number;
  /** Readies the started emulator (Okta: its rate limits); answers lines saying what it did. */
  prepare?(emulator: EmulatorProcess): Promise<string[]>;
  connection(emulator: EmulatorProcess, workDir: string): ConnectionBody;
  floorSource(emulator: EmulatorProcess, connection: ConnectionBody): PullSource;
  floorPlan(source: PullSource): FloorPlan;
  /** What the floor's requests would cost at the provider's published rate limits, when it has any. */
  rateLimitNote?(floor: FloorResult): string | undefined;
  /** Calls the emulator refused as throttled so far. */
  throttled?(emulator: EmulatorProcess): Promise<number>;
  targets: {
    /** Full sync time, scaled to the size: `seconds × users / 100,000`. */
    fullSyncSecondsPer100k?: number;
    fullSyncPeakRssBytes?: number;
  };
  changes?: ChangeRound;
}

type Api = <T>(method: string, path: string, body?: unknown) => Promise<T>;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mib = (bytes: number) => `${Math.round(bytes / 1024 ** 2)} MiB`;
const size = (bytes: number) => (bytes % 1024 ** 3 === 0 ? `${bytes / 1024 ** 3} GiB` : mib(bytes));
const verdict = (ok: boolean, text: string) => `${ok ? 'met' : 'MISSED'} (${text})`;
const collectGarbage = () => (globalThis as { gc?: () => void }).gc?.();
const seconds = (record: Record<string, number>) => Object.entries(record).map(([r, s]) => `${r} ${s.toFixed(2)} s`).join(', ');
const listed = (record: Record<string, number>) => Object.entries(record).map(([t, n]) => `${t} ${n}`).join(', ') || 'none';
const NOT_CHANGES = new Set(['sync.started', 'sync.completed']);

export async function runPullSyncBenchmark(provider: BenchProvider, options: PullSyncBenchOptions): Promise<void> {
  const { tag } = provider;
  const line = (phase: string, text: string) => console.log(`[${tag}] ${phase.padEnd(20)} ${text}`);
  const workDir = mkdtempSync(join(tmpdir(), `roster-bench-${tag}-`));
  const started = performance.now();
  const emulator = await startEmulatorProcess({ args: provider.emulatorArgs(options, workDir), label: provider.label, startupTimeoutMs: provider.startupTimeoutMs });
  console.log(`emulator (pid ${emulator.child.pid}) answering at ${emulator.url} after ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const store = await createStore(options.engine ?? 'sqlite', `bench_${tag}`, options.postgresUrl);
  const database = store.open();
  const sampler = new RssSampler(50);
  const misses: string[] = [];
  let stopRoster: () => Promise<void> = async () => {};
  try {
    console.log(`[${tag}] store: ${store.where}`);
    for (const note of (await provider.prepare?.(emulator)) ?? []) console.log(`[${tag}] ${note}`);
    const apiKey = generateApiKey();
    const base = loadConfig({});
    const roster = await createRoster(
      { ...base, port: 0, host: '127.0.0.1', apiKey, secretKey: randomBytes(32), dataDir: workDir, sync: { ...base.sync, providerAllowedHosts: ['127.0.0.1'] } },
      { database, logger: pino({ level: 'warn' }) as FastifyBaseLogger, processMetrics: false },
    );
    const url = await roster.start();
    const api: Api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const response = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as T;
    };
    stopRoster = () => roster.stop();
    const body = provider.connection(emulator, workDir);
    const usage = () => emulatorUsage(provider, emulator);

    // 1. The floor: the same requests, through the same client, with auth; no mapping, no storage.
    const floorUsage = await usage();
    const floorResult = await floor(provider.floorPlan(provider.floorSource(emulator, body)));
    const floorCpu = floorUsage.cpu();
    line(
      'floor (fetch+parse)',
      `${floorResult.seconds.toFixed(2).padStart(7)} s  ${fmt(floorResult.users / floorResult.seconds)} users/s` +
        `  ${fmt(floorResult.requests)} requests  served: ${fmt(floorResult.users)} users, ${fmt(floorResult.groups)} groups, ${fmt(floorResult.userMemberships)} user memberships` +
        `  time by resource: ${seconds(floorResult.secondsByResource)}${await floorUsage.since()}`,
    );
    const rateNote = provider.rateLimitNote?.(floorResult);
    if (rateNote) line('', rateNote);

    // 2. The full sync into the empty store: a connection created through the API, validated and synced by the engine.
    collectGarbage();
    sampler.reset();
    const syncUsage = await usage();
    const syncStarted = performance.now();
    const organization = await api<{ id: string }>('POST', '/v1/organizations', { name: 'Bench' });
    const connection = await api<{ id: string }>('POST', `/v1/organizations/${organization.id}/connections`, body);
    const tenant = { organizationId: organization.id, connectionId: connection.id };
    const run = await runToEnd(roster, api, connection.id, undefined);
    const syncSeconds = (performance.now() - syncStarted) / 1000;
    const syncCpu = syncUsage.cpu();
    const rss = sampler.peak();
    const counts = await storeCounts(database, tenant.organizationId);
    const ratio = syncSeconds / floorResult.seconds;
    const countsMatch = counts.users === floorResult.users && counts.groups === floorResult.groups && counts.memberships === floorResult.userMemberships;
    const { fullSyncSecondsPer100k, fullSyncPeakRssBytes } = provider.targets;
    const targetSeconds = fullSyncSecondsPer100k === undefined ? undefined : (fullSyncSecondsPer100k * options.users) / 100_000;
    const syncVerdicts: string[] = [];
    if (targetSeconds !== undefined) {
      syncVerdicts.push(verdict(syncSeconds < targetSeconds, `< ${targetSeconds.toFixed(1)} s`));
      if (syncSeconds >= targetSeconds) misses.push('full sync time');
    }
    syncVerdicts.push(verdict(ratio <= 2, '≤ 2× floor'));
    if (ratio > 2) misses.push('full sync ÷ floor');
    if (fullSyncPeakRssBytes !== undefined) {
      syncVerdicts.push(verdict(rss.bytes < fullSyncPeakRssBytes, `RSS < ${size(fullSyncPeakRssBytes)}`));
      if (rss.bytes >= fullSyncPeakRssBytes) misses.push('full sync RSS');
    }
    syncVerdicts.push(verdict(countsMatch && run.status === 'completed', 'store = emulator'));
    if (!countsMatch || run.status !== 'completed') misses.push('store counts');
    line(
      'full sync',
      `${syncSeconds.toFixed(2).padStart(7)} s  ${fmt(floorResult.users / syncSeconds)} users/s` +
        `  peak RSS ${mib(rss.bytes)} (${rss.samples} samples)  ${ratio.toFixed(1)}× floor  run ${run.status}` +
        `  store: ${fmt(counts.users)} users, ${fmt(counts.groups)} groups, ${fmt(counts.memberships)} memberships` +
        `  time by resource: ${seconds(run.phases)}${await syncUsage.since()}`,
    );
    line('', syncVerdicts.join(', '));

    // 3. An unchanged re-sync: only sync.started and sync.completed may be written.
    const before = await eventCounts(database, tenant.organizationId);
    collectGarbage();
    sampler.reset();
    const resyncUsage = await usage();
    const resyncStarted = performance.now();
    const rerun = await runToEnd(roster, api, tenant.connectionId, 'full');
    const resyncSeconds = (performance.now() - resyncStarted) / 1000;
    const resyncRss = sampler.peak();
    const written = difference(await eventCounts(database, tenant.organizationId), before);
    const changeEvents = Object.entries(written)
      .filter(([type]) => !NOT_CHANGES.has(type))
      .reduce((sum, [, n]) => sum + n, 0);
    if (changeEvents !== 0) misses.push('unchanged re-sync events');
    const total = Object.values(written).reduce((a, b) => a + b, 0);
    line(
      'unchanged re-sync',
      `${resyncSeconds.toFixed(2).padStart(7)} s  ${fmt(floorResult.users / resyncSeconds)} users/s` +
        `  peak RSS ${mib(resyncRss.bytes)}  ${(resyncSeconds / floorResult.seconds).toFixed(1)}× floor  run ${rerun.status}` +
        `  events ${total} (${listed(written)})${await resyncUsage.since()}`,
    );
    line('', verdict(changeEvents === 0, `0 change events, got ${changeEvents}`));

    // 4. Changes made at the provider, then the round that should bring exactly them.
    if (provider.changes) await changeRound(provider.changes, { emulator, roster, api, database, tenant, floorResult, sampler, line, usage, misses });

    // 5. What the store alone spends on the full sync's rows: with the fetch floor, the least any full sync can take.
    if (store.engine === 'sqlite') {
      const storeFloor = await measureStoreFloor(database, tenant.organizationId);
      const storeFloorCpu = storeFloor.cpuSeconds;
      const atLeast = Math.max(floorResult.seconds, storeFloor.seconds);
      const oneAfterOther = floorResult.seconds + storeFloor.seconds;
      line(
        'store floor',
        `${storeFloor.seconds.toFixed(2).padStart(7)} s  the full sync's ${fmt(storeFloor.rows)} rows copied inside SQLite into an empty store with the same schema, ${storeFloor.transactions} transactions, no Roster code (by table: ${seconds(storeFloor.secondsByTable)})` +
          `  → a full sync takes at least ${atLeast.toFixed(2)} s (${(atLeast / floorResult.seconds).toFixed(1)}× floor) with fetching and writing fully overlapped, ${oneAfterOther.toFixed(2)} s (${(oneAfterOther / floorResult.seconds).toFixed(1)}×) one after the other; CPU ${storeFloorCpu.toFixed(2)} s`,
      );
      const cpuOf = (usage: { process: number; emulator: number | undefined }) => usage.process + (usage.emulator ?? 0);
      line('CPU budget', cpuBudgetLine(floorResult.seconds, cpuOf(floorCpu), storeFloorCpu, cpuOf(syncCpu)));
    }

    console.log(misses.length === 0 ? `${provider.label} sync targets: all met` : `${provider.label} sync targets missed: ${misses.join(', ')}`);
  } finally {
    await sampler.stop();
    await stopRoster();
    await database.close();
    await store.destroy();
    await emulator.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

interface RoundContext {
  emulator: EmulatorProcess;
  roster: Roster;
  api: Api;
  database: Database;
  tenant: { organizationId: string; connectionId: string };
  floorResult: FloorResult;
  sampler: RssSampler;
  line: (phase: string, text: string) => void;
  usage: () => Promise<PhaseUsage>;
  misses: string[];
}

async function changeRound(round: ChangeRound, context: RoundContext): Promise<void> {
  const { emulator, roster, api, database, tenant, floorResult, sampler, line, usage, misses } = context;
  const candidates = floorResult.changeableUserIds;
  if (candidates.length < round.count) throw new Error(`only ${candidates.length} users to change, ${round.count} wanted`);
  // Spread over the listing, so the changed users are not all on its first page.
  const ids = Array.from({ length: round.count }, (_, i) => candidates[Math.floor((i * candidates.length) / round.count)]!);
  const changeStarted = performance.now();
  for (const [n, id] of ids.entries()) await round.change(emulator, id, n);
  const changeSeconds = (performance.now() - changeStarted) / 1000;

  const before = await eventCounts(database, tenant.organizationId);
  collectGarbage();
  sampler.reset();
  const roundUsage = await usage();
  const started = performance.now();
  const run = await runToEnd(roster, api, tenant.connectionId, round.kind);
  const elapsed = (performance.now() - started) / 1000;
  const rss = sampler.peak();
  const written = difference(await eventCounts(database, tenant.organizationId), before);
  const updated = written['user.updated'] ?? 0;
  const others = Object.entries(written)
    .filter(([type]) => type !== 'user.updated' && !NOT_CHANGES.has(type))
    .reduce((sum, [, n]) => sum + n, 0);
  const fallback = run.progress?.fallback;
  line(
    `${round.name} (${round.count} changes)`,
    `${elapsed.toFixed(2).padStart(7)} s  peak RSS ${mib(rss.bytes)}  run ${run.status} (${run.kind}${fallback ? `, fell back: ${fallback}` : ''})` +
      `  events ${Object.values(written).reduce((a, b) => a + b, 0)} (${listed(written)})` +
      // A round's progress names no phase until its first batch; its own start and end say more.
      (run.finished_at ? `  run started→finished ${((Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000).toFixed(2)} s` : '') +
      (round.kind === 'critical' ? `  ${(elapsed / floorResult.secondsByResource.users!).toFixed(1)}× the floor's user listing` : '') +
      (await roundUsage.since()) +
      `  (the ${round.count} changes took ${changeSeconds.toFixed(2)} s through the control API, not counted)`,
  );
  if (round.note) line('', round.note);
  const verdicts: string[] = [];
  if (round.targetSeconds !== undefined) {
    verdicts.push(verdict(elapsed < round.targetSeconds, `< ${round.targetSeconds} s`));
    if (elapsed >= round.targetSeconds) misses.push(`${round.name} time`);
  }
  const arrived = updated === round.count && others === 0 && run.status === 'completed' && run.kind === round.kind && fallback === undefined;
  verdicts.push(verdict(arrived, `${round.count} user.updated and no other change event, got ${updated} and ${others}`));
  if (!arrived) misses.push(`${round.name} changes`);
  line('', verdicts.join(', '));
}

/** CPU seconds this process has spent so far, every thread of it (SQLite's checkpointer included). */
const processCpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** What a phase cost in CPU: this process's (Roster or the floor's client) and the emulator's. */
interface PhaseUsage {
  since(): Promise<string>;
  /** CPU seconds since the phase began: this process and the emulator (undefined when unreadable). */
  cpu(): { process: number; emulator: number | undefined };
}

/**
 * What was spent from now on: this process's CPU time, the emulator's (it runs in a process of its own, so a
 * phase's wall time is partly its serving), and the calls it refused as throttled, for a provider that counts them.
 */
async function emulatorUsage(provider: BenchProvider, emulator: EmulatorProcess): Promise<PhaseUsage> {
  const cpu = emulatorCpuSeconds(emulator);
  const own = processCpuSeconds();
  const throttled = provider.throttled ? await provider.throttled(emulator) : 0;
  const spentNow = () => {
    const cpuNow = emulatorCpuSeconds(emulator);
    return { process: processCpuSeconds() - own, emulator: cpu === undefined || cpuNow === undefined ? undefined : cpuNow - cpu };
  };
  return {
    cpu: spentNow,
    since: async () => {
      const spent = spentNow();
      const text = `  CPU: bench process ${spent.process.toFixed(2)} s` + (spent.emulator === undefined ? '' : `, emulator ${spent.emulator.toFixed(2)} s`);
      return text + (provider.throttled ? `, emulator throttled ${fmt((await provider.throttled(emulator)) - throttled)} calls` : '');
    },
  };
}

/**
 * The CPU a full sync within 2× the floor could spend on this machine: twice the floor's time on every core.
 * The fetch (the floor's CPU, emulator included) and the store floor's writes must come out of it whatever
 * Roster does; what is left is all any engine would have for mapping, identity, derivation, events and lookups.
 */
function cpuBudgetLine(floorSeconds: number, floorCpu: number, storeFloorCpu: number, syncCpu: number): string {
  const cores = availableParallelism();
  const budget = 2 * floorSeconds * cores;
  const left = budget - floorCpu - storeFloorCpu;
  const logic = syncCpu - floorCpu - storeFloorCpu;
  return (
    `2× the floor on ${cores} cores is ${budget.toFixed(2)} CPU seconds; fetching (${floorCpu.toFixed(2)} s) and the store floor (${storeFloorCpu.toFixed(2)} s) leave ${left.toFixed(2)} s` +
    ` for everything else, which took ${logic.toFixed(2)} s in the full sync (${syncCpu.toFixed(2)} s of CPU in all)`
  );
}


async function storeCounts(database: Database, organizationId: string) {
  const count = async (table: 'users' | 'groups' | 'memberships') =>
    Number(
      (await database.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('organization_id', '=', organizationId).executeTakeFirstOrThrow()).n,
    );
  return { users: await count('users'), groups: await count('groups'), memberships: await count('memberships') };
}

/**
 * Follows a connection's run to its end: the activation's first run (`kind` undefined) or one asked for
 * with sync now. Reports the time spent in each phase, as the run's progress tells it.
 */
async function runToEnd(roster: Roster, api: Api, connectionId: string, kind: PullKind | undefined): Promise<SyncRunView & { phases: Record<string, number> }> {
  let runId: string | undefined;
  if (kind) runId = (await api<{ run: SyncRunView }>('POST', `/v1/connections/${connectionId}/sync`, { kind })).run.id;
  const phases: Record<string, number> = {};
  let phase = 'validation';
  let mark = performance.now();
  for (;;) {
    runId ??= (await roster.database.db.selectFrom('sync_runs').select('id').where('connection_id', '=', connectionId).orderBy('id', 'desc').limit(1).executeTakeFirst())?.id;
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
    // Often enough to time the phases; an observer polling much faster would compete with the run it watches.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
