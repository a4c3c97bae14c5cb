/**
 * Pull sync benchmarks of the Microsoft Graph, Okta and JumpCloud connectors (issue 6): a 100,000-user
 * emulated tenant (2,000 groups) by default, each provider's emulator in a process of its own
 * (`roster emulate graph|okta|jumpcloud`), run through bench/pull-sync-harness.ts: the fetch-and-parse
 * floor, the full sync, an unchanged full re-sync, and a round with 100 users changed through the
 * emulator's control API — a delta round for Graph and Okta; for JumpCloud, which has no delta API, a
 * critical re-poll (its critical tier lists every user again). Targets: the full sync within 2× the
 * floor, the delta round under 2 s; the store holds what the emulator serves, the re-sync writes no change
 * event, the round brings exactly the 100 changes.
 *
 *   npm run bench -- --only graph|okta|jumpcloud [--users N]
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { anchoredOffsetPages } from '../src/connectors/definition/anchored-offset-pager.ts';
import { pages, type Page } from '../src/connectors/definition/pager.ts';
import type { ResourceName } from '../src/connectors/definition/provider-definition.ts';
import { DEFAULT_RATE_LIMITS } from '../src/emulators/okta/rate-limits.ts';
import { control, printed } from './emulator-process.ts';
import { connectionSource, type PullSource } from './pull-floor.ts';
import { ENGINE_NAMES } from './bench-store.ts';
import { runPullSyncBenchmark, type BenchProvider, type PullSyncBenchOptions } from './pull-sync-harness.ts';

const CHANGED_USERS = 100;
const DELTA_TARGET_SECONDS = 2;
/** No tier falls due by itself while the benchmark runs (a scheduled delta round would take its changes). */
const SCHEDULE = { critical_seconds: 86_400, profile_seconds: 86_400, full_seconds: 86_400 };

const sizeArgs = (options: PullSyncBenchOptions) => ['--users', String(options.users), '--groups', String(options.groups), '--port', '0', '--seed', String(options.seed ?? 1)];
const field = (item: unknown, name: string): unknown => (item !== null && typeof item === 'object' ? (item as Record<string, unknown>)[name] : undefined);
const idOf = (name: string) => (item: unknown) => String(field(item, name));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** A resource as the definition's own pager walks it. */
const listing = (source: PullSource, resource: ResourceName, groupId?: string): AsyncIterable<Page> =>
  pages(source.definition, resource, { config: source.config, ...(groupId === undefined ? {} : { groupId }) }, source.fetchJson);

export const graphBench: BenchProvider = {
  tag: 'graph',
  label: 'Microsoft Graph',
  emulatorArgs: (options) => ['graph', ...sizeArgs(options)],
  startupTimeoutMs: 600_000,
  connection: (emulator) => {
    const [clientId, clientSecret] = printed(emulator, 'app (client):').split(' / ');
    return {
      type: 'microsoft-graph',
      name: 'Entra ID',
      config: { tenant: printed(emulator, 'tenant:').split(' ')[0], api_base_url: printed(emulator, 'API root:').replace(/\/+$/, ''), token_url: printed(emulator, 'token URL:'), push: false, schedule: SCHEDULE },
      credentials: { method: 'client_credentials', client_id: clientId!, client_secret: clientSecret! },
    };
  },
  floorSource: (_emulator, body) => connectionSource(body, 'bench-graph'),
  floorPlan: (source) => ({
    userListings: [() => listing(source, 'users')],
    changeableUserId: idOf('id'),
    groups: () => listing(source, 'groups'),
    groupId: idOf('id'),
    members: (groupId) => listing(source, 'members', groupId),
    isUserMember: (member) => field(member, '@odata.type') === '#microsoft.graph.user',
  }),
  throttled: async (emulator) => (await control<{ throttled: number }>(emulator, 'GET', '/stats')).throttled,
  targets: {},
  changes: {
    kind: 'delta',
    name: 'delta round',
    count: CHANGED_USERS,
    targetSeconds: DELTA_TARGET_SECONDS,
    change: async (emulator, id, n) => void (await control(emulator, 'PATCH', `/users/${id}`, { jobTitle: `Benchmark title ${n}` })),
  },
};

/** Far above what one benchmark spends: the run measures Roster, not Okta's per-minute quota. */
const RAISED_OKTA_LIMIT = 1_000_000;

export const oktaBench: BenchProvider = {
  tag: 'okta',
  label: 'Okta',
  emulatorArgs: (options, workDir) => ['okta', ...sizeArgs(options), '--key-file', join(workDir, 'service-app.pem')],
  startupTimeoutMs: 600_000,
  prepare: async (emulator) => {
    const rules = Object.fromEntries(Object.keys(DEFAULT_RATE_LIMITS).map((bucket) => [bucket, { limit: RAISED_OKTA_LIMIT, windowMs: 60_000 }]));
    await control(emulator, 'PUT', '/rate-limits', rules);
    return [`emulator rate limits raised to ${fmt(RAISED_OKTA_LIMIT)} calls a minute per bucket (Okta's defaults: users ${DEFAULT_RATE_LIMITS.users.limit}, groups ${DEFAULT_RATE_LIMITS.groups.limit}, logs ${DEFAULT_RATE_LIMITS.logs.limit})`];
  },
  connection: (emulator) => ({
    type: 'okta',
    name: 'Okta',
    config: { domain: 'acme.okta.com', api_base_url: `${emulator.url}/api/v1`, token_url: printed(emulator, 'token URL:'), push: false, schedule: SCHEDULE },
    credentials: { method: 'api_token', token: printed(emulator, 'API token:').replace(/^SSWS /, '') },
  }),
  floorSource: (_emulator, body) => connectionSource(body, 'bench-okta'),
  floorPlan: (source) => ({
    // One listing filtered on every status, DEPROVISIONED included (okta.definition.ts).
    userListings: [() => listing(source, 'users')],
    changeableUserId: (user) => (field(user, 'status') === 'ACTIVE' ? String(field(user, 'id')) : undefined),
    groups: () => listing(source, 'groups'),
    groupId: idOf('id'),
    members: (groupId) => listing(source, 'members', groupId),
    // /groups/{id}/users lists users only.
    isUserMember: () => true,
  }),
  rateLimitNote: (floor) => {
    const users = floor.requestsByResource.users ?? 0;
    const groups = (floor.requestsByResource.groups ?? 0) + (floor.requestsByResource.members ?? 0);
    const minutes = Math.max(users / DEFAULT_RATE_LIMITS.users.limit, groups / DEFAULT_RATE_LIMITS.groups.limit);
    return `at Okta's default limits these ${fmt(users)} /users and ${fmt(groups)} /groups requests would take at least ${minutes.toFixed(1)} min, whatever the client`;
  },
  throttled: async (emulator) => Object.values((await control<{ throttled: Record<string, number> }>(emulator, 'GET', '/stats')).throttled).reduce((a, b) => a + b, 0),
  targets: {},
  changes: {
    kind: 'delta',
    name: 'delta round',
    count: CHANGED_USERS,
    targetSeconds: DELTA_TARGET_SECONDS,
    change: async (emulator, id, n) => void (await control(emulator, 'PATCH', `/users/${id}`, { title: `Benchmark title ${n}` })),
  },
};

export const jumpCloudBench: BenchProvider = {
  tag: 'jumpcloud',
  label: 'JumpCloud',
  emulatorArgs: (options) => ['jumpcloud', ...sizeArgs(options)],
  // Its generator checks every new user's unique fields against all the others: slow at large sizes.
  startupTimeoutMs: 7_200_000,
  connection: (emulator) => ({
    type: 'jumpcloud',
    name: 'JumpCloud',
    config: { api_base_url: printed(emulator, 'API root (api_base_url):'), push: false, schedule: SCHEDULE },
    credentials: { method: 'api_key', api_key: printed(emulator, 'admin API key:') },
  }),
  floorSource: (_emulator, body) => connectionSource(body, 'bench-jumpcloud'),
  floorPlan: (source) => {
    // The connector's own paging (anchored offsets, each page after the first asked from one place earlier).
    const anchored = (resource: ResourceName, idOfItem: (item: unknown) => string | undefined, groupId?: string, totalPath?: string) =>
      anchoredOffsetPages(source.definition, resource, { config: source.config, ...(groupId === undefined ? {} : { groupId }) }, source.fetchJson, { idOf: idOfItem, totalPath });
    return {
      userListings: [() => anchored('users', idOf('_id'), undefined, 'totalCount')],
      changeableUserId: idOf('_id'),
      groups: () => anchored('groups', idOf('id')),
      groupId: idOf('id'),
      members: (groupId) => anchored('members', (member) => idOf('id')(field(member, 'to')), groupId),
      isUserMember: (member) => field(field(member, 'to'), 'type') === 'user',
    };
  },
  throttled: async (emulator) => (await control<{ throttled: number }>(emulator, 'GET', '/stats')).throttled,
  targets: {},
  changes: {
    kind: 'critical',
    name: 'critical re-poll',
    count: CHANGED_USERS,
    note: 'JumpCloud has no delta API: its critical tier lists every user again, so this round is timed but has no time target of its own',
    change: async (emulator, id, n) => void (await control(emulator, 'PATCH', `/users/${id}`, { jobTitle: `Benchmark title ${n}` })),
  },
};

export const PROVIDER_BENCHMARKS = ['graph', 'okta', 'jumpcloud'] as const;
export type ProviderBenchmark = (typeof PROVIDER_BENCHMARKS)[number];

const PROVIDERS: Record<ProviderBenchmark, { bench: BenchProvider; what: string }> = {
  graph: { bench: graphBench, what: 'emulated Entra tenant (Microsoft Graph)' },
  okta: { bench: oktaBench, what: 'emulated Okta org' },
  jumpcloud: { bench: jumpCloudBench, what: 'emulated JumpCloud org' },
};

export async function runProviderSyncBenchmark(name: ProviderBenchmark, options: PullSyncBenchOptions): Promise<void> {
  const { bench, what } = PROVIDERS[name];
  const round = bench.changes!;
  console.log(
    `\n${bench.label} sync: full sync, unchanged re-sync and a ${round.name} with ${round.count} changed users of a ${fmt(options.users)}-user, ` +
      `${fmt(options.groups)}-group ${what} over HTTP, on ${ENGINE_NAMES[options.engine ?? 'sqlite']} (emulator in its own process); load average ${loadavg().map((n) => n.toFixed(1)).join(' ')}`,
  );
  await runPullSyncBenchmark(bench, options);
}
