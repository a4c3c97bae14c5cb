/**
 * SCIM server benchmark: a Roster process on SQLite whose one SCIM connection holds 100,000 users (and
 * 1,000 groups), loaded by 20 concurrent HTTP connections (autocannon) from this process.
 *
 * Phases: GET by id, `filter=userName eq`, POST, PATCH replace, group PATCH add member — requests/s and
 * p50/p99 latency each, against the targets (reads above 5,000 req/s; writes above 1,000 req/s with p99
 * under 20 ms).
 *
 *   npm run bench -- --only scim [--users N] [--seconds N] [--connections N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import autocannon from 'autocannon';
import { newId } from '../src/core/ids.ts';
import type { JsonObject } from '../src/core/model.ts';
import { membershipKey, type IncomingRecord } from '../src/reconcile/incoming.ts';
import { Reconciler } from '../src/reconcile/reconciler.ts';
import { indexEntries, normalizeGroup, normalizeUser } from '../src/scim/resource-mapping.ts';
import { ScimResourcesRepo } from '../src/store/scim-resources.repo.ts';
import { ScimTokensRepo } from '../src/store/scim-tokens.repo.ts';
import { createStore, createTenant } from './bench-store.ts';

const TARGET_READS_PER_SECOND = 5000;
const TARGET_WRITES_PER_SECOND = 1000;
const TARGET_WRITE_P99_MS = 20;
const PAGE = 5000;

export interface ScimBenchOptions {
  users: number;
  groups: number;
  seconds: number;
  connections: number;
}

interface Seeded {
  dataDir: string;
  connectionId: string;
  token: string;
  userIds: string[];
  groupIds: string[];
  destroy(): Promise<void>;
}

const userName = (n: number) => `user${n}@bench.test`;

/**
 * Loads the directory straight through the reconciler, page by page, as SCIM creates would have left it
 * (resources as source records, the lookup index beside them). Loading 100k users by HTTP would take
 * minutes and measure nothing this benchmark is about.
 */
async function seed(options: ScimBenchOptions): Promise<Seeded> {
  const store = await createStore('sqlite', 'bench_scim');
  const database = store.open();
  try {
    const tenant = await createTenant(database, { organizationId: 'org_bench', connectionId: 'conn_bench' });
    await database.db.updateTable('connections').set({ type: 'scim' }).where('id', '=', tenant.connectionId).execute();
    const token = await new ScimTokensRepo(database.db).issue(database.db, { id: tenant.connectionId, organization_id: tenant.organizationId }, new Date().toISOString());
    const reconciler = new Reconciler({ database });
    const resources = new ScimResourcesRepo(database.db);
    const scope = { organizationId: tenant.organizationId, connectionId: tenant.connectionId };
    const now = new Date().toISOString();
    const meta = { created: now, lastModified: now, version: 'W/"1"' };

    const userIds: string[] = [];
    for (let start = 0; start < options.users; start += PAGE) {
      const page: JsonObject[] = [];
      for (let n = start; n < Math.min(options.users, start + PAGE); n++) {
        const id = newId('scimResource');
        userIds.push(id);
        page.push({
          id,
          userName: userName(n),
          externalId: `ext-${n}`,
          name: { givenName: `Given${n}`, familyName: `Family${n}` },
          displayName: `Given${n} Family${n}`,
          emails: [{ value: userName(n), type: 'work', primary: true }],
          active: true,
          meta,
        });
      }
      await reconciler.apply(tenant.connectionId, async (tx) => {
        for (const user of page) await resources.writeIndex(tx, scope, 'User', user.id as string, indexEntries('User', user.id as string, user));
        return page.map((user): IncomingRecord => ({ kind: 'user', external_id: user.id as string, deleted: false, attributes: normalizeUser(user, null), raw: user }));
      });
    }

    const groupIds: string[] = [];
    const groups: JsonObject[] = [];
    for (let g = 0; g < options.groups; g++) {
      const id = newId('scimResource');
      groupIds.push(id);
      groups.push({ id, displayName: `Group ${g}`, meta });
    }
    await reconciler.apply(tenant.connectionId, async (tx) => {
      for (const group of groups) await resources.writeIndex(tx, scope, 'Group', group.id as string, indexEntries('Group', group.id as string, group));
      return groups.map((group): IncomingRecord => ({ kind: 'group', external_id: group.id as string, deleted: false, attributes: normalizeGroup(group), raw: group }));
    });
    // Every group starts with 50 members, so adding one is not adding to an empty group.
    const memberships: IncomingRecord[] = [];
    groupIds.forEach((groupId, g) => {
      for (let k = 0; k < 50; k++) {
        const userId = userIds[(g * 50 + k) % userIds.length]!;
        memberships.push({ kind: 'membership', external_id: membershipKey(groupId, userId), deleted: false, group_external_id: groupId, user_external_id: userId, raw: { type: 'User' } });
      }
    });
    for (let i = 0; i < memberships.length; i += PAGE) await reconciler.apply(tenant.connectionId, memberships.slice(i, i + PAGE));

    return { dataDir: dirname(store.where), connectionId: tenant.connectionId, token, userIds, groupIds, destroy: () => store.destroy() };
  } finally {
    await database.close();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts `roster start` on the seeded data directory, in a process of its own, and waits until it answers. */
async function startRoster(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const root = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ROSTER_DATA_DIR: dataDir, ROSTER_LOG_LEVEL: 'warn', ROSTER_API_KEY: `rk_${randomBytes(32).toString('base64url')}` },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 300; attempt++) {
    if (child.exitCode !== null) throw new Error(`roster exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return { url, child };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('roster did not start within 30 s');
}

interface PhaseResult {
  name: string;
  kind: 'read' | 'write';
  requests: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

interface RequestSpec {
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  body?: unknown;
}

const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)]!;

async function phase(
  name: string,
  kind: PhaseResult['kind'],
  options: ScimBenchOptions,
  base: string,
  token: string,
  request: () => RequestSpec,
): Promise<PhaseResult> {
  const result = await autocannon({
    url: base,
    connections: options.connections,
    duration: options.seconds,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
    requests: [
      {
        setupRequest: (req) => {
          const next = request();
          return { ...req, method: next.method, path: `${new URL(base).pathname}${next.path}`, body: next.body === undefined ? undefined : JSON.stringify(next.body) } as typeof req;
        },
      },
    ],
  });
  const errors = result.non2xx + result.errors + result.timeouts;
  return { name, kind, requests: result.requests.total, perSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors };
}

export async function runScimBenchmark(options: ScimBenchOptions): Promise<void> {
  const started = performance.now();
  const seeded = await seed(options);
  console.log(`seeded ${options.users} users and ${options.groups} groups (50 members each) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const { url, child } = await startRoster(seeded.dataDir);
  const base = `${url}/scim/v2/${seeded.connectionId}`;
  let created = 0;
  const patch = (operations: unknown[]) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: operations });
  try {
    const results: PhaseResult[] = [];
    const run = async (name: string, kind: PhaseResult['kind'], request: () => RequestSpec) => {
      const result = await phase(name, kind, options, base, seeded.token, request);
      results.push(result);
      console.log(
        `${result.name.padEnd(26)} ${Math.round(result.perSecond).toString().padStart(6)} req/s  p50 ${result.p50} ms  p99 ${result.p99} ms` +
          `  ${result.requests} requests, ${result.errors} errors  ${verdict(result)}`,
      );
    };
    await run('GET /Users/{id}', 'read', () => ({ method: 'GET', path: `/Users/${pick(seeded.userIds)}` }));
    await run('GET filter=userName eq', 'read', () => ({
      method: 'GET',
      path: `/Users?filter=${encodeURIComponent(`userName eq "${userName(Math.floor(Math.random() * options.users))}"`)}`,
    }));
    await run('POST /Users', 'write', () => {
      const n = created++;
      return { method: 'POST', path: '/Users', body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `new${n}@bench.test`, name: { givenName: 'New', familyName: `Hire${n}` }, emails: [{ value: `new${n}@bench.test`, type: 'work', primary: true }], active: true } };
    });
    await run('PATCH replace (user)', 'write', () => ({
      method: 'PATCH',
      path: `/Users/${pick(seeded.userIds)}`,
      body: patch([{ op: 'replace', path: 'title', value: `Title ${randomBytes(4).toString('hex')}` }]),
    }));
    await run('PATCH add member (group)', 'write', () => ({
      method: 'PATCH',
      path: `/Groups/${pick(seeded.groupIds)}`,
      body: patch([{ op: 'add', path: 'members', value: [{ value: pick(seeded.userIds) }] }]),
    }));
    const failed = results.filter((r) => verdict(r) !== 'met');
    console.log(failed.length === 0 ? 'SCIM targets: all met' : `SCIM targets missed: ${failed.map((r) => r.name).join(', ')}`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await seeded.destroy();
  }
}

function verdict(result: PhaseResult): string {
  if (result.errors > 0) return `MISSED (${result.errors} errors)`;
  if (result.kind === 'read') return result.perSecond >= TARGET_READS_PER_SECOND ? 'met' : `MISSED (target ${TARGET_READS_PER_SECOND} req/s)`;
  const misses = [];
  if (result.perSecond < TARGET_WRITES_PER_SECOND) misses.push(`target ${TARGET_WRITES_PER_SECOND} req/s`);
  if (result.p99 > TARGET_WRITE_P99_MS) misses.push(`target p99 ${TARGET_WRITE_P99_MS} ms`);
  return misses.length === 0 ? 'met' : `MISSED (${misses.join(', ')})`;
}
