import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadProviderDefinition } from '../src/connectors/definition/load-provider-definition.ts';
import { googleWorkspaceDefinition } from '../src/connectors/google/google.definition.ts';
import { startGoogleEmulator, type GoogleEmulator } from '../src/emulators/google/index.ts';
import { Reconciler } from '../src/reconcile/reconciler.ts';
import { SnapshotService } from '../src/reconcile/snapshots.ts';
import { JwtBearerStrategy } from '../src/sync/credentials/jwt-bearer.strategy.ts';
import { TokenManager } from '../src/sync/credentials/token-manager.ts';
import { fetchJsonVia, runFullSnapshot, type PullSource } from '../src/sync/full-snapshot.ts';
import { ProviderHttpClient } from '../src/sync/http/provider-http-client.ts';
import { throttleProfiles } from '../src/sync/http/throttle-classifiers.ts';
import { createOrganization, createPushConnection, eventsOf, expectStatus } from './support/api.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

/**
 * A full snapshot of an emulated Google Workspace org through the pieces a Google connection is made of:
 * the provider definition (data), the pager, the mapping engine, the provider HTTP client with a
 * JWT-bearer service account, and the snapshot framing that alone may remove what the source lost.
 */
const SCOPES = 'https://www.googleapis.com/auth/admin.directory.user.readonly https://www.googleapis.com/auth/admin.directory.group.readonly https://www.googleapis.com/auth/admin.directory.group.member.readonly';

function googleSource(emulator: GoogleEmulator): PullSource {
  // The connection's API root is the emulator's instead of admin.googleapis.com.
  const definition = loadProviderDefinition({ ...googleWorkspaceDefinition, baseUrl: `${emulator.url}/admin/directory/v1` });
  const fast = { errorBackoff: { baseMs: 5, capMs: 20 }, throttleBackoff: { baseMs: 5, capMs: 50 }, maxErrorAttempts: 3, attemptTimeoutMs: 2000, deadlineMs: 30_000 };
  const tokenHttp = new ProviderHttpClient(fast);
  const tokens = new TokenManager({
    strategy: new JwtBearerStrategy({
      http: tokenHttp,
      tokenUrl: emulator.tokenUrl,
      issuer: emulator.serviceAccountKey.client_email,
      subject: `admin@${emulator.org.domain}`,
      scope: SCOPES,
      privateKey: emulator.serviceAccountKey.private_key,
    }),
  });
  const http = new ProviderHttpClient({ ...fast, throttle: throttleProfiles.google, maxConcurrent: 4, authorize: () => tokens.getAuthHeader() });
  return { definition, config: {}, fetchJson: fetchJsonVia(http) };
}

forEachEngine('Google Workspace full snapshot over the emulator', (engine) => {
  const roster = useTestRoster(engine);
  let emulator: GoogleEmulator;
  let snapshots: SnapshotService;
  let connectionId: string;
  let organizationId: string;

  before(async () => {
    emulator = await startGoogleEmulator({ users: 120, groups: 6, seed: 11 });
  });
  after(async () => {
    await emulator?.close();
  });

  const people = async (state?: string) => {
    const rows: any[] = [];
    let cursor: string | null = null;
    do {
      const page: any = expectStatus(
        await roster().request('GET', `/v1/users?organization_id=${organizationId}&limit=200${state ? `&state=${state}` : ''}${cursor ? `&cursor=${cursor}` : ''}`),
        200,
      );
      rows.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    return rows;
  };

  test('the first full sync brings every user, group and membership, with managers resolved', async () => {
    const organization = await createOrganization(roster(), 'Google customer');
    organizationId = organization.id;
    connectionId = (await createPushConnection(roster(), organizationId, { name: 'Google Workspace', category: 'directory' })).id;
    snapshots = new SnapshotService(roster().database, new Reconciler({ database: roster().database }));
    const progress: number[] = [];
    const run = await runFullSnapshot(snapshots, connectionId, googleSource(emulator), { onProgress: (p) => progress.push(p.records) });
    assert.equal(run.status, 'completed');
    assert.ok(progress.length > 3 && progress.at(-1)! >= 120, 'progress is reported page by page');

    const live = emulator.org.userIds().map((id) => emulator.org.userById(id)!).filter((u) => !u.deletionTime);
    const synced = await people();
    assert.equal(synced.length, live.length);
    const byEmail = new Map(synced.map((u) => [u.email, u]));
    for (const user of live) {
      const person = byEmail.get(user.primaryEmail);
      assert.ok(person, `${user.primaryEmail} synced`);
      assert.equal(person.state, user.suspended ? 'suspended' : user.archived ? 'inactive' : 'active');
    }
    assert.ok(synced.some((u) => u.manager_id !== null), 'managers named by email are resolved to people');
    const groups = expectStatus(await roster().request('GET', `/v1/groups?organization_id=${organizationId}`), 200).data;
    assert.equal(groups.length, emulator.org.groupIds().length);
  });

  test('an unchanged re-sync writes no event, and a lastLoginTime or etag change is not a change', async () => {
    const before = (await eventsOf(roster(), organizationId)).length;
    emulator.control.touchLastLogin(emulator.org.userIds()[0]!);
    await runFullSnapshot(snapshots, connectionId, googleSource(emulator));
    const types = (await eventsOf(roster(), organizationId)).slice(before).map((e) => e.type);
    assert.deepEqual(types.filter((t) => !t.startsWith('sync.')), []);
  });

  test('a user removed in Google is deactivated, not deleted, after a complete sync', async () => {
    const gone = emulator.org.userById(emulator.org.userIds()[5]!)!;
    emulator.control.deleteUser(gone.id);
    const run = await runFullSnapshot(snapshots, connectionId, googleSource(emulator));
    assert.equal(run.status, 'completed');
    const person = (await people()).find((u) => u.email === gone.primaryEmail);
    assert.ok(person, 'the person is kept');
    assert.equal(person.state, 'inactive');
  });

  test('a sync whose pages fail mid-way deactivates nobody, and the run says it was aborted', async () => {
    const activeBefore = (await people('active')).length;
    for (const id of emulator.org.userIds().slice(10, 30)) emulator.control.deleteUser(id);
    emulator.control.injectFault({ kind: 'server-error', count: 1000, status: 500 });
    // The first page may still pass; every later request fails until the client gives up.
    await assert.rejects(runFullSnapshot(snapshots, connectionId, googleSource(emulator)));
    emulator.control.clearFaults();
    assert.equal((await people('active')).length, activeBefore, 'nobody deactivated by a partial pull');
    const runs = expectStatus(await roster().request('GET', `/v1/sync-runs?connection_id=${connectionId}`), 200).data;
    assert.equal(runs[0].status, 'aborted');
  });

  test('throttling (403 userRateLimitExceeded) slows the sync down without failing it; then a mass removal is held', async () => {
    emulator.control.setThrottle({ fraction: 0.3, reason: 'userRateLimitExceeded' });
    const run = await runFullSnapshot(snapshots, connectionId, googleSource(emulator));
    emulator.control.setThrottle(undefined);
    assert.ok(emulator.control.stats().throttled > 0, 'requests were throttled');
    // The twenty users deleted in the previous test are removed now: more than the guard allows (10% and 5).
    assert.equal(run.status, 'held');
    const held = (await eventsOf(roster(), organizationId)).filter((e) => e.type === 'sync.deprovision_held');
    assert.equal(held.length, 1);
  });
});
