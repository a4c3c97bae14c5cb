import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startGoogleEmulator, type GoogleEmulator } from '../src/emulators/google/index.ts';
import type { Database } from '../src/store/database.ts';
import { emulatorConfig, serviceAccountCredentials } from './support/google-sync.ts';
import { eventually, fastSyncConfig } from './support/pull-sync.ts';
import { createTestStorage, forEachEngine, newAdminKey, startTestRoster, type TestStorage } from './support/roster.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const GROUPS = 30;

/**
 * A worker killed in the middle of a full sync: the run stays `running` under a lease nobody renews, and
 * the next process takes it over from its checkpoint — the pages before the checkpoint are not fetched
 * again — and ends in exactly the state an uninterrupted sync would have, with each change's event once.
 */
forEachEngine('a killed worker’s sync run resumes from its checkpoint', (engine) => {
  let emulator: GoogleEmulator;
  let storage: TestStorage;
  let child: ChildProcess | undefined;
  const secretKey = randomBytes(32);
  const apiKey = newAdminKey();
  // Small batches: a checkpoint after every few pages, so the kill lands between checkpoints.
  const sync = { ...fastSyncConfig({ applyBatch: 100 }).sync! };

  before(async () => {
    emulator = await startGoogleEmulator({ users: 1_200, groups: GROUPS, seed: 21 });
    storage = await createTestStorage(engine);
  });
  after(async () => {
    child?.kill('SIGKILL');
    await emulator?.close();
    await storage?.destroy();
  });

  test('SIGKILL mid-members, takeover after the lease, same final state', { timeout: 120_000 }, async () => {
    child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/support/roster-process.ts'), engine, storage.location!], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ROSTER_TEST_PROCESS_CONFIG: JSON.stringify({ apiKey, secretKey: secretKey.toString('base64'), sync }) },
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child!.stdout!.on('data', (chunk) => {
        out += chunk;
        const match = /listening (\S+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      child!.once('exit', (code) => reject(new Error(`the Roster process exited (${code}) before listening`)));
    });
    const api = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const parsed = (await response.json()) as any;
      assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(parsed)}`);
      return parsed;
    };

    const organization = await api('POST', '/v1/organizations', { name: 'Resumed' });
    const connection = await api('POST', `/v1/organizations/${organization.id}/connections`, {
      type: 'google-workspace',
      name: 'Google',
      config: emulatorConfig(emulator, { push: false }),
      credentials: serviceAccountCredentials(emulator),
    });
    await eventually('the first full sync', async () => {
      const runs = (await api('GET', `/v1/sync-runs?connection_id=${connection.id}`)).data;
      return runs[0]?.status === 'completed' ? true : undefined;
    }, 60_000);

    // What changes in Google before the sync that will be interrupted.
    const ids = emulator.org.userIds().filter((id) => !emulator.org.userById(id)!.deletionTime);
    const renamed = ids.slice(0, 5);
    for (const id of renamed) emulator.control.updateUser(id, { organizations: [{ department: 'After the crash', primary: true }] });
    const removed = ids.slice(5, 7);
    for (const id of removed) emulator.control.deleteUser(id);
    emulator.control.reset();
    emulator.control.setLatency(40);

    const { run } = await api('POST', `/v1/connections/${connection.id}/sync`, { kind: 'full' });
    const reader: Database = storage.open();
    try {
      await eventually('the run to checkpoint inside the members phase', async () => {
        const row = await reader.db.selectFrom('sync_runs').select('checkpoint').where('id', '=', run.id).executeTakeFirstOrThrow();
        const checkpoint = row.checkpoint ? JSON.parse(row.checkpoint) : null;
        return checkpoint?.phase === 'members' && (checkpoint.after || checkpoint.group) ? checkpoint : undefined;
      }, 60_000);
      child.kill('SIGKILL');
      await new Promise((resolve) => child!.once('exit', resolve));
      child = undefined;
      const killedAt = await reader.db.selectFrom('sync_runs').selectAll().where('id', '=', run.id).executeTakeFirstOrThrow();
      assert.equal(killedAt.status, 'running', 'the killed worker left its run running');
      const usersPagesBefore = emulator.control.stats().requests['GET /admin/directory/v1/users'] ?? 0;
      assert.ok(usersPagesBefore >= 3, 'the users phase was done before the kill');

      // A new process on the same storage: its scheduler finds the run whose lease expired and resumes it.
      const next = await startTestRoster(engine, { storage, config: { apiKey, secretKey, sync } });
      try {
        const resumed = await eventually('the resumed run to end', async () => {
          const body = (await next.request('GET', `/v1/sync-runs/${run.id}`)).body;
          return body.status === 'running' ? undefined : body;
        }, 60_000);
        assert.equal(resumed.status, 'completed', JSON.stringify(resumed));
        assert.equal(resumed.attempts, 2, 'claimed twice: started, then taken over');

        const requests = emulator.control.stats().requests;
        assert.equal(requests['GET /admin/directory/v1/users'], usersPagesBefore, 'no users page was fetched again');
        assert.ok((requests['GET /admin/directory/v1/groups/:groupKey/members'] ?? 0) < 2 * GROUPS, 'the members phase went on, it did not start over');

        // The state an uninterrupted sync gives: every change applied, each event once.
        const people = await next.database.db.selectFrom('users').select(['state', 'data']).where('organization_id', '=', organization.id).execute();
        const byEmail = new Map(people.map((p) => [JSON.parse(p.data).email as string, p]));
        for (const id of renamed) assert.equal(JSON.parse(byEmail.get(emulator.org.userById(id)!.primaryEmail)!.data).department, 'After the crash');
        for (const id of removed) assert.equal(byEmail.get(emulator.org.userById(id)!.primaryEmail)!.state, 'inactive');
        const events = await next.database.db.selectFrom('events').select(['type', 'data']).where('organization_id', '=', organization.id).execute();
        const updatedEmails = events.filter((e) => e.type === 'user.updated').map((e) => JSON.parse(e.data).email as string);
        for (const id of renamed) assert.equal(updatedEmails.filter((email) => email === emulator.org.userById(id)!.primaryEmail).length, 1);
        assert.equal(events.filter((e) => e.type === 'user.deactivated').length, removed.length);
        const memberships = await next.database.db.selectFrom('memberships').select((eb) => eb.fn.countAll<number>().as('n')).where('organization_id', '=', organization.id).execute();
        const expected = emulator.org
          .groupIds()
          .reduce((sum, id) => sum + emulator.org.membersOf(id).filter((m) => m.type === 'USER' && !emulator.org.userById(m.id)?.deletionTime).length, 0);
        assert.equal(Number(memberships[0]!.n), expected);
      } finally {
        await next.close();
      }
    } finally {
      await reader.close();
    }
  });
});
