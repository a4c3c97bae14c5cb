import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startGoogleEmulator, type GoogleEmulator } from '../src/emulators/google/index.ts';
import { SYNC_RUN_JOB } from '../src/sync/sync-runner.ts';
import { createOrganization, expectStatus } from './support/api.ts';
import { createGoogleConnection, emulatorConfig, serviceAccountCredentials } from './support/google-sync.ts';
import { eventually, fastSyncConfig, runEnded } from './support/pull-sync.ts';
import { createTestStorage, ENGINES, newAdminKey, startTestRoster, type TestRoster, type TestStorage } from './support/roster.ts';

/**
 * Two Roster processes on one PostgreSQL, both running background work through pg-boss: however sync
 * requests, due schedules and duplicate jobs arrive, a connection is never synced by both at once.
 * Shown three ways: racing requests queue one run, a run is claimed once however often its job comes,
 * runs never overlap in time; and the emulator never sees more calls in flight than one run's client
 * allows (4: a run reads a page or a few groups ahead).
 */
describe('two workers on PostgreSQL never run the same connection at once', { skip: !ENGINES.includes('postgres') && 'PostgreSQL not in ROSTER_TEST_ENGINES' }, () => {
  let emulator: GoogleEmulator;
  let storage: TestStorage;
  let a: TestRoster;
  let b: TestRoster;

  before(async () => {
    emulator = await startGoogleEmulator({ users: 300, groups: 6, seed: 8 });
    storage = await createTestStorage('postgres');
    const config = { ...fastSyncConfig(), apiKey: newAdminKey(), secretKey: randomBytes(32) };
    a = await startTestRoster('postgres', { storage, config });
    b = await startTestRoster('postgres', { storage, config });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await emulator?.close();
    await storage?.destroy();
  });

  test('racing sync requests, due tiers and duplicate jobs: one run at a time, each claimed once', { timeout: 120_000 }, async () => {
    const organizationId = (await createOrganization(a, 'Shared')).id;
    const connection = await createGoogleConnection(a, organizationId, {
      config: emulatorConfig(emulator, { push: false }),
      credentials: serviceAccountCredentials(emulator),
    });
    const runs = async () => expectStatus(await a.request('GET', `/v1/sync-runs?connection_id=${connection.id}&limit=200`), 200).data as any[];
    await eventually('the first sync', async () => ((await runs())[0]?.status === 'completed' ? true : undefined), 60_000);

    emulator.control.reset();
    emulator.control.setLatency(15);
    for (let round = 0; round < 4; round += 1) {
      // Both processes asked at once, twice each, with every tier of the connection falling due too.
      const answers = await Promise.all([a, b, a, b].map((roster) => roster.request('POST', `/v1/connections/${connection.id}/sync`, { kind: round % 2 ? 'profile' : 'full' })));
      const created = answers.filter((answer) => answer.status === 202 && answer.body.created);
      assert.equal(created.length, 1, 'exactly one of the racing requests queued a run');
      const runId = created[0]!.body.run.id;
      for (const answer of answers) assert.equal(answer.body.run.id, runId, 'the others were answered that run');
      await a.database.db.updateTable('sync_schedules').set({ next_run_at: new Date(Date.now() - 1000).toISOString() }).where('connection_id', '=', connection.id).execute();
      await Promise.all([a.roster.sync.scheduler.tick(), b.roster.sync.scheduler.tick()]);
      // The same job delivered to both processes' queues: only one claims the run.
      await Promise.all([a.roster.sync.jobs.send(SYNC_RUN_JOB, { run_id: runId }), b.roster.sync.jobs.send(SYNC_RUN_JOB, { run_id: runId })]);
      const ended = await runEnded(a, runId, 60_000);
      assert.equal(ended.status, 'completed');
      assert.equal(ended.attempts, 1, 'claimed by one worker, once');
      // Let any run the due tiers queued finish before the next round.
      await eventually('the connection to be idle', async () => ((await runs()).every((r) => r.status !== 'queued' && r.status !== 'running') ? true : undefined), 60_000);
    }

    assert.ok(emulator.control.stats().maxInFlight <= 4, `never more calls in flight than one run makes (${emulator.control.stats().maxInFlight})`);
    const all = (await runs()).filter((r) => r.status === 'completed').sort((x, y) => x.started_at.localeCompare(y.started_at));
    assert.ok(all.length >= 5);
    for (let i = 1; i < all.length; i += 1) assert.ok(all[i]!.started_at >= all[i - 1]!.finished_at, `runs ${all[i - 1]!.id} and ${all[i]!.id} overlap`);
  });
});
