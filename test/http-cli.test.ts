import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ApiClient, ApiError } from '../src/cli/api-client.ts';
import type { CliContext } from '../src/cli/context.ts';
import { runCli } from '../src/cli/program.ts';
import { createOrganization } from './support/api.ts';
import { useTestRoster } from './support/roster.ts';

function captureContext(env: NodeJS.ProcessEnv = {}): CliContext & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { env, out, err, stdout: (line) => out.push(line), stderr: (line) => err.push(line) };
}

describe('CLI API client', () => {
  const roster = useTestRoster('sqlite');

  it('calls the API with the key and follows cursors through every page', async () => {
    const created = [];
    for (let i = 0; i < 3; i++) created.push((await createOrganization(roster(), `Client ${i}`)).id);
    const client = ApiClient.fromEnv({ ROSTER_URL: roster().baseUrl, ROSTER_API_KEY: roster().adminKey });
    const seen: string[] = [];
    for await (const org of client.list<{ id: string }>('/v1/organizations', { limit: 1 })) seen.push(org.id);
    for (const id of created) assert.ok(seen.includes(id));
    const one = await client.get<{ name: string }>(`/v1/organizations/${created[0]}`);
    assert.equal(one.name, 'Client 0');
  });

  it('turns error bodies into an ApiError with the code and a readable message', async () => {
    const client = new ApiClient({ baseUrl: roster().baseUrl, apiKey: roster().adminKey });
    await assert.rejects(client.get('/v1/organizations/nope'), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 404);
      assert.equal(error.code, 'organization_not_found');
      assert.match(error.message, /nope/);
      return true;
    });
    await assert.rejects(client.post('/v1/organizations', { nam: 'x' }), /body\.nam: Unknown field/);
    const anonymous = new ApiClient({ baseUrl: roster().baseUrl });
    await assert.rejects(anonymous.get('/v1/organizations'), /ROSTER_API_KEY/);
  });

  it('reports an unreachable server plainly', async () => {
    const client = new ApiClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'x' });
    await assert.rejects(client.get('/health'), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.code, 'unreachable');
      assert.match(error.message, /Cannot reach Roster at http:\/\/127\.0\.0\.1:9/);
      return true;
    });
  });
});

describe('CLI commands', () => {
  it('shows help for the program and every command', async () => {
    for (const argv of [['--help'], ['start', '--help'], ['migrate', '--help']]) {
      const context = captureContext();
      assert.equal(await runCli(['node', 'roster', ...argv], context), 0);
      assert.match(context.out.join('\n'), /Usage: roster/);
    }
  });

  it('fails on an unknown command with a non-zero exit', async () => {
    const context = captureContext();
    assert.notEqual(await runCli(['node', 'roster', 'frobnicate'], context), 0);
    assert.match(context.err.join('\n'), /unknown command 'frobnicate'/);
  });

  it('migrates, printing each migration, then reports up to date', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roster-cli-'));
    try {
      const first = captureContext({ ROSTER_DATA_DIR: dir });
      assert.equal(await runCli(['node', 'roster', 'migrate'], first), 0);
      assert.match(first.out.join('\n'), /applied {2}001-initial/);
      const second = captureContext({ ROSTER_DATA_DIR: dir });
      assert.equal(await runCli(['node', 'roster', 'migrate'], second), 0);
      assert.match(second.out.join('\n'), /Already up to date/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops on bad configuration with a message naming the variable', async () => {
    const context = captureContext({ ROSTER_LOG_LEVEL: 'chatty' });
    assert.equal(await runCli(['node', 'roster', 'migrate'], context), 1);
    assert.match(context.err.join('\n'), /ROSTER_LOG_LEVEL: must be one of .* \(got 'chatty'\)/);
  });
});
