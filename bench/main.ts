/**
 * Reconciliation benchmark: a synthetic organization (100,000 users, 2,000 groups, 300,000 memberships
 * by default) from one identity-provider connection, fed the way a connector does (pages of 5,000
 * records: users, then groups, then memberships), on SQLite and on PostgreSQL.
 *
 * Phases: the floor (the same pages bulk-inserted raw into a plain table), the initial load into an
 * empty store, an unchanged re-apply, and a re-apply with 1% of users changed.
 *
 *   npm run bench -- [--only reconcile|webhooks|scim|google|graph|okta|jumpcloud] [--engine sqlite|postgres|all] [--users N] [--postgres-url URL]
 *
 * Then (unless another `--only` is given) the webhook delivery benchmark of bench/webhooks.ts, on SQLite unless an
 * engine is named, the SCIM server benchmark of bench/scim.ts (a Roster process on SQLite under HTTP load), and
 * the Google sync benchmark of bench/google-sync.ts (a full sync of an emulated Google org over HTTP), and
 * the Microsoft Graph, Okta and JumpCloud sync benchmarks of bench/provider-sync.ts (full, unchanged and 100-change rounds),
 * these on SQLite unless an engine is named.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { toIncoming } from '../src/reconcile/incoming.ts';
import { Reconciler } from '../src/reconcile/reconciler.ts';
import { createStore, createTenant, DEFAULT_POSTGRES_URL, ENGINE_NAMES, ENGINES, type Engine } from './bench-store.ts';
import { createFloorTable, dropFloorTable, insertFloorPage } from './floor.ts';
import { formatTable, phaseLabel, targetsFor, verdicts, type PhaseResult } from './report.ts';
import { RssSampler } from './rss-sampler.ts';
import { SyntheticDirectory, type SnapshotVariant } from './synthetic-directory.ts';
import { runScimBenchmark } from './scim.ts';
import { runGoogleSyncBenchmark } from './google-sync.ts';
import { PROVIDER_BENCHMARKS, runProviderSyncBenchmark } from './provider-sync.ts';
import { runWebhookBenchmark } from './webhooks.ts';
import { difference, eventCounts } from './event-counts.ts';

const PAGE_SIZE = 5000;
const CHANGED_FRACTION = 0.01;

const { values: flags } = parseArgs({
  options: {
    engine: { type: 'string', default: 'all' },
    only: { type: 'string' },
    users: { type: 'string', default: '100000' },
    'postgres-url': { type: 'string', default: process.env.ROSTER_TEST_DATABASE_URL ?? DEFAULT_POSTGRES_URL },
    /** Internal: a child process writes its results here instead of printing the final table. */
    'json-out': { type: 'string' },
  },
});

const users = Number(flags.users);
if (!Number.isInteger(users) || users < 100) throw new Error(`--users must be an integer ≥ 100, got '${flags.users}'`);
const engineFlag = flags.engine!;
if (engineFlag !== 'all' && !ENGINES.includes(engineFlag as Engine)) {
  throw new Error(`--engine must be sqlite, postgres or all, got '${engineFlag}'`);
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}


async function runEngine(engine: Engine, directory: SyntheticDirectory, sampler: RssSampler): Promise<PhaseResult[]> {
  const location = await createStore(engine, 'bench', flags['postgres-url']);
  const database = location.open();
  const results: PhaseResult[] = [];
  const report = (result: PhaseResult) => {
    results.push(result);
    const types = Object.entries(result.eventsByType)
      .map(([type, n]) => `${type} ${n}`)
      .join(', ');
    const byKind = Object.entries(result.secondsByKind)
      .map(([kind, seconds]) => `${kind} ${seconds.toFixed(2)} s`)
      .join(', ');
    console.log(
      `[${engine}] ${phaseLabel(result.phase).padEnd(18)} ${result.seconds.toFixed(2).padStart(7)} s` +
        `  peak RSS ${Math.round(result.peakRssBytes / 1024 ** 2)} MiB (${result.rssSamples} samples)` +
        (result.phase === 'floor' ? '' : `  events ${result.events}${types ? ` (${types})` : ''}`) +
        (result.phase === 'floor' ? '' : `  time by page kind: ${byKind}`) +
        `  ${verdicts(result, targetsFor(directory.userCount)).join(', ')}`,
    );
  };
  try {
    console.log(`[${engine}] store: ${location.where}`);
    const tenant = await createTenant(database);

    await createFloorTable(database);
    collectGarbage();
    sampler.reset();
    let floorSeconds = 0;
    for (const page of directory.pages(PAGE_SIZE)) {
      const started = performance.now();
      await insertFloorPage(database, page);
      floorSeconds += (performance.now() - started) / 1000;
    }
    const floorRss = sampler.peak();
    await dropFloorTable(database);
    report({
      engine,
      phase: 'floor',
      seconds: floorSeconds,
      users: directory.userCount,
      records: directory.recordCount,
      events: 0,
      eventsByType: {},
      peakRssBytes: floorRss.bytes,
      rssSamples: floorRss.samples,
      changedUsers: 0,
      secondsByKind: {},
    });

    const reconciler = new Reconciler({ database });
    const phases: Array<[PhaseResult['phase'], SnapshotVariant]> = [
      ['initial', {}],
      ['unchanged', {}],
      ['changed', { changedFraction: CHANGED_FRACTION }],
    ];
    for (const [phase, variant] of phases) {
      const before = await eventCounts(database);
      collectGarbage();
      sampler.reset();
      let seconds = 0;
      const secondsByKind: Record<string, number> = {};
      for (const page of directory.pages(PAGE_SIZE, variant)) {
        const started = performance.now();
        await reconciler.apply(tenant.connectionId, page.map(toIncoming));
        const elapsed = (performance.now() - started) / 1000;
        seconds += elapsed;
        secondsByKind[page[0]!.kind] = (secondsByKind[page[0]!.kind] ?? 0) + elapsed;
      }
      const rss = sampler.peak();
      const eventsByType = difference(await eventCounts(database), before);
      report({
        engine,
        phase,
        seconds,
        users: directory.userCount,
        records: directory.recordCount,
        events: Object.values(eventsByType).reduce((a, b) => a + b, 0),
        eventsByType,
        peakRssBytes: rss.bytes,
        rssSamples: rss.samples,
        changedUsers: directory.changedUsers(variant),
        secondsByKind,
      });
    }
    return results;
  } finally {
    await database.close();
    await location.destroy();
  }
}

/** Runs one engine in its own process, so each engine's peak RSS is its own. */
function runEngineInChild(engine: Engine): Promise<PhaseResult[]> {
  const out = join(tmpdir(), `roster-bench-${process.pid}-${engine}.json`);
  const args = [
    ...process.execArgv,
    fileURLToPath(import.meta.url),
    '--engine',
    engine,
    '--users',
    String(users),
    '--postgres-url',
    flags['postgres-url']!,
    '--json-out',
    out,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`Benchmark of ${engine} exited with ${signal ?? code}`));
      try {
        resolve(JSON.parse(readFileSync(out, 'utf8')) as PhaseResult[]);
      } catch (error) {
        reject(error);
      } finally {
        rmSync(out, { force: true });
      }
    });
  });
}

const only = flags.only;
const BENCHMARKS: string[] = ['reconcile', 'webhooks', 'scim', 'google', ...PROVIDER_BENCHMARKS];
if (only !== undefined && !BENCHMARKS.includes(only)) throw new Error(`--only must be one of ${BENCHMARKS.join(', ')}, got '${only}'`);
const runs = (name: string) => only === undefined || only === name;

const directory = new SyntheticDirectory({ users });
const targets = targetsFor(users);
if (!runs('reconcile')) {
  // Reconciliation skipped.
} else if (engineFlag === 'all') {
  console.log(
    `Synthetic directory: ${directory.userCount} users, ${directory.groupCount} groups, ${directory.membershipCount} memberships, ` +
      `pages of ${PAGE_SIZE}; node ${process.version}`,
  );
  const results: PhaseResult[] = [];
  for (const engine of ENGINES) results.push(...(await runEngineInChild(engine)));
  console.log(`\n${formatTable(results, targets)}`);
} else {
  const sampler = new RssSampler(50);
  try {
    if (!flags['json-out']) {
      console.log(
        `Synthetic directory: ${directory.userCount} users, ${directory.groupCount} groups, ${directory.membershipCount} memberships, ` +
          `pages of ${PAGE_SIZE}; node ${process.version}`,
      );
    }
    const results = await runEngine(engineFlag as Engine, directory, sampler);
    if (flags['json-out']) writeFileSync(flags['json-out'], JSON.stringify(results));
    else console.log(`\n${formatTable(results, targets)}`);
  } finally {
    await sampler.stop();
  }
}

if (runs('webhooks') && !flags['json-out']) {
  console.log('\nWebhook delivery: 50,000 events to a loopback receiver that verifies every signature');
  await runWebhookBenchmark({
    engine: engineFlag === 'all' ? 'sqlite' : (engineFlag as Engine),
    events: 50_000,
    organizations: 20,
    rate: 4000,
    postgresUrl: flags['postgres-url']!,
  });
}

if (runs('scim') && !flags['json-out']) {
  console.log(`\nSCIM server: ${users.toLocaleString('en-US')} users in one connection on SQLite, 20 concurrent HTTP connections`);
  await runScimBenchmark({ users, groups: 1000, seconds: 10, connections: 20 });
}

// The pull sync benchmarks run on SQLite, the embedded default, unless an engine is named.
const pullEngine: Engine = engineFlag === 'all' ? 'sqlite' : (engineFlag as Engine);
const pullOptions = { users, groups: Math.max(1, Math.floor(users / 50)), seed: 1, engine: pullEngine, postgresUrl: flags['postgres-url']! };

if (runs('google') && !flags['json-out']) {
  console.log(
    `\nGoogle sync: full sync of a ${users.toLocaleString('en-US')}-user, ${pullOptions.groups.toLocaleString('en-US')}-group emulated Google org over HTTP, on ${ENGINE_NAMES[pullEngine]} (emulator in its own process)`,
  );
  await runGoogleSyncBenchmark(pullOptions);
}

for (const provider of PROVIDER_BENCHMARKS) {
  if (runs(provider) && !flags['json-out']) await runProviderSyncBenchmark(provider, pullOptions);
}
