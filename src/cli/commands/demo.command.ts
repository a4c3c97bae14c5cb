import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { createRoster } from '../../app.ts';
import { loadConfig } from '../../config.ts';
import { startGoogleEmulator } from '../../emulators/google/index.ts';
import { loggerOptions } from '../../http/server.ts';
import { generateApiKey } from '../../store/api-keys.repo.ts';
import { ApiClient } from '../api-client.ts';
import { untilStopped, type CliContext } from '../context.ts';
import { wholeNumber } from '../options.ts';
import { runOutcome } from '../run-progress.ts';
import { followRun } from './sync.command.ts';

/**
 * `roster demo`: the whole product with no credentials — an emulated Google Workspace org, a Roster on
 * SQLite in a directory of its own, an organization connected to the emulated org, its first sync shown
 * as it runs, and everything left running to explore through the API.
 */
export function registerDemoCommand(program: Command, context: CliContext): void {
  program
    .command('demo')
    .description('Start an emulated Google Workspace org and a Roster connected to it, run the first sync, and keep both running (Ctrl-C stops)')
    .option('--users <n>', 'users in the emulated org', wholeNumber('users'), 2000)
    .option('--groups <n>', 'groups in the emulated org', wholeNumber('groups'), 40)
    .option('--port <n>', 'port Roster listens on (0 picks one)', wholeNumber('port'), 8080)
    .action(async (opts: { users: number; groups: number; port: number }) => {
      const { env } = context;
      const emulator = await startGoogleEmulator({ users: opts.users, groups: opts.groups, seed: 7, domain: 'demo.example.com' });
      // A directory of its own, so the demo never mixes with (or needs the key of) a real Roster's data.
      const dataDir = env.ROSTER_DEMO_DIR ?? mkdtempSync(join(tmpdir(), 'roster-demo-'));
      const apiKey = generateApiKey();
      const base = loadConfig({ ...env, ROSTER_DATABASE_URL: '', ROSTER_API_KEY: '' });
      const config = {
        ...base,
        port: opts.port,
        host: '127.0.0.1',
        dataDir,
        databaseUrl: undefined,
        apiKey,
        // The emulated provider lives on this machine.
        sync: { ...base.sync, worker: true, providerAllowedHosts: ['127.0.0.1', ...base.sync.providerAllowedHosts] },
      };
      const roster = await createRoster(config, { logger: pino(loggerOptions(env.ROSTER_LOG_LEVEL ? base.logLevel : 'warn')) as FastifyBaseLogger });
      try {
        const url = await roster.start();
        context.stdout(`Emulated Google Workspace: ${emulator.org.userCount} users, ${emulator.org.groupCount} groups at ${emulator.url}`);
        context.stdout(`Roster: ${url} (SQLite in ${dataDir})`);
        const client = new ApiClient({ baseUrl: url, apiKey });
        const organization = await client.post<{ id: string }>('/v1/organizations', { name: 'Demo Inc' });
        const connection = await client.post<{ id: string }>(`/v1/organizations/${organization.id}/connections`, {
          type: 'google-workspace',
          name: 'Google Workspace (emulated)',
          config: { api_base_url: `${emulator.url}/admin/directory/v1`, token_url: emulator.tokenUrl, authorize_url: `${emulator.url}/o/oauth2/v2/auth` },
          credentials: { method: 'service_account', service_account_key: emulator.serviceAccountKey, subject: `admin@${emulator.org.domain}` },
        });
        context.stdout(`Connected organization ${organization.id} through ${connection.id}; first sync:`);
        const runId = await firstRun(client, connection.id, context.signal);
        const run = await followRun(client, runId, context);
        context.stdout(runOutcome(run).line);
        context.stdout('');
        context.stdout('Roster is running. Try:');
        context.stdout(`  export ROSTER_URL=${url} ROSTER_API_KEY=${apiKey}`);
        context.stdout(`  curl -H "authorization: Bearer $ROSTER_API_KEY" "$ROSTER_URL/v1/users?organization_id=${organization.id}&limit=5"`);
        context.stdout(`  npm run -s roster -- users ls --org ${organization.id}`);
        context.stdout(`  npm run -s roster -- events tail --org ${organization.id}`);
        context.stdout(`  npm run -s roster -- sync ${connection.id}`);
        const sample = emulator.org.userById(emulator.org.userIds()[1]!)!.primaryEmail;
        context.stdout(`  curl -X POST ${emulator.url}/_emulator/users/${sample}/suspend   # change Google: Roster follows through its watch channel`);
        context.stdout('Ctrl-C stops both.');
        await untilStopped(context.signal);
      } finally {
        await roster.stop();
        await emulator.close();
      }
      context.stdout('demo stopped');
    });
}

/** The run activation queued, once validation has activated the connection. */
async function firstRun(client: ApiClient, connectionId: string, signal?: AbortSignal): Promise<string> {
  for (;;) {
    signal?.throwIfAborted();
    const connection = await client.get<{ state: string; state_reason: string | null }>(`/v1/connections/${connectionId}`);
    if (connection.state === 'invalid_credentials' || connection.state === 'error') throw new Error(`the connection is ${connection.state}: ${connection.state_reason}`);
    const runs = await client.get<{ data: Array<{ id: string }> }>('/v1/sync-runs', { connection_id: connectionId, limit: 1 });
    if (runs.data[0]) return runs.data[0].id;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
