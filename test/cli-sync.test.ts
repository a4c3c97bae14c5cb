import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CliContext } from '../src/cli/context.ts';
import { runCli } from '../src/cli/program.ts';
import { startGoogleEmulator, type GoogleEmulator } from '../src/emulators/google/index.ts';
import { createOrganization } from './support/api.ts';
import { createGoogleConnection, emulatorConfig, serviceAccountCredentials } from './support/google-sync.ts';
import { eventually, fastSyncConfig, firstRun, runEnded } from './support/pull-sync.ts';
import { useTestRoster } from './support/roster.ts';

function capture(env: NodeJS.ProcessEnv, signal?: AbortSignal): CliContext & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { env, out, err, stdout: (line) => out.push(line), stderr: (line) => err.push(line), ...(signal ? { signal } : {}) };
}

describe('roster sync', () => {
  const roster = useTestRoster('sqlite', { config: fastSyncConfig() });
  let emulator: GoogleEmulator;
  let connectionId: string;

  before(async () => {
    emulator = await startGoogleEmulator({ users: 80, groups: 3, seed: 3 });
  });
  after(async () => {
    await emulator?.close();
  });

  const env = () => ({ ROSTER_URL: roster().baseUrl, ROSTER_API_KEY: roster().adminKey });

  test('queues a run, prints its progress and its outcome, and exits 0 when it completed', async () => {
    const organizationId = (await createOrganization(roster(), 'CLI')).id;
    connectionId = (await createGoogleConnection(roster(), organizationId, { config: emulatorConfig(emulator, { push: false }), credentials: serviceAccountCredentials(emulator) })).id;
    const first = await firstRun(roster(), connectionId);
    await runEnded(roster(), first.id);

    const context = capture(env());
    assert.equal(await runCli(['node', 'roster', 'sync', connectionId], context), 0, context.err.join('\n'));
    assert.match(context.out[0]!, /^queued run_/);
    assert.ok(context.out.some((line) => / records · \d+ pages · /.test(line)), `progress lines: ${context.out.join(' | ')}`);
    assert.match(context.out.at(-1)!, /completed: 0 users created, 0 updated, 0 deactivated/);
  });

  test('exits 1 with the reason when the run failed, and refuses an unknown kind', async () => {
    emulator.control.injectFault({ kind: 'server-error', count: 1000, status: 503 });
    const context = capture(env());
    const code = await runCli(['node', 'roster', 'sync', connectionId, '--kind', 'critical'], context);
    emulator.control.clearFaults();
    assert.equal(code, 1);
    assert.match(context.out.at(-1)!, /failed: provider_/);

    const refused = capture(env());
    assert.equal(await runCli(['node', 'roster', 'sync', connectionId, '--kind', 'everything'], refused), 1);
    assert.match(refused.err.join('\n'), /body\.kind/);
  });

  test('--no-wait only queues', async () => {
    const context = capture(env());
    assert.equal(await runCli(['node', 'roster', 'sync', connectionId, '--no-wait'], context), 0);
    assert.equal(context.out.length, 1);
    const runId = /run_\w+/.exec(context.out[0]!)![0];
    assert.equal((await runEnded(roster(), runId)).status, 'completed');
  });
});

describe('roster demo', () => {
  test('starts an emulated org and a Roster, syncs it, serves it, and stops on request', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roster-demo-test-'));
    const stop = new AbortController();
    const context = capture({ ROSTER_DEMO_DIR: dir, ROSTER_LOG_LEVEL: 'silent' }, stop.signal);
    try {
      const finished = runCli(['node', 'roster', 'demo', '--users', '60', '--groups', '3', '--port', '0'], context);
      await eventually('the demo to be running', async () => (context.out.includes('Ctrl-C stops both.') ? true : undefined), 45_000);
      assert.ok(context.out.some((line) => /completed: 60 users created/.test(line)), context.out.join('\n'));
      const exported = context.out.find((line) => line.includes('export ROSTER_URL='))!;
      const [, url, key] = /ROSTER_URL=(\S+) ROSTER_API_KEY=(\S+)/.exec(exported)!;
      const users = (await (await fetch(`${url}/v1/users?limit=200`, { headers: { authorization: `Bearer ${key}` } })).json()) as { data: unknown[] };
      assert.equal(users.data.length, 60, 'the synced directory is served');
      // The printed emulator command changes Google, and Roster follows through its watch channel.
      const [, suspend] = /curl -X POST (\S+\/suspend)/.exec(context.out.join('\n'))!;
      assert.equal((await fetch(suspend!, { method: 'POST' })).status, 200);
      const email = decodeURIComponent(/users\/([^/]+)\/suspend/.exec(suspend!)![1]!);
      await eventually('the suspension in Roster', async () => {
        const page = (await (await fetch(`${url}/v1/users?email=${encodeURIComponent(email)}`, { headers: { authorization: `Bearer ${key}` } })).json()) as { data: Array<{ state: string }> };
        return page.data[0]?.state === 'suspended' ? true : undefined;
      });
      stop.abort();
      assert.equal(await finished, 0);
      assert.equal(context.out.at(-1), 'demo stopped');
    } finally {
      stop.abort();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
