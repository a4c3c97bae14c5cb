/**
 * Google sync benchmark: a full sync of an emulated Google Workspace org (100,000 users and 2,000 groups by
 * default) over HTTP into a fresh store (SQLite unless `--engine postgres`), the way an operator runs one: a Roster instance, a
 * google-workspace connection created through its API with a service account, validated and synced by
 * its sync engine (runner, checkpoints, provider HTTP client, mapping, snapshot commit). The emulator runs
 * in a process of its own (`roster emulate google`), so its CPU and memory are not counted in this one.
 *
 * Phases (bench/pull-sync-harness.ts): the floor (every page of users, groups and members fetched and
 * JSON-parsed through an authorized provider HTTP client, nothing mapped or stored, members as many groups at
 * once as the engine reads), the full sync (from the connection's creation to the end of its first run), and an unchanged
 * re-sync (sync now). Targets: full sync under 30 s per 100,000 users, within 2× the floor, peak RSS under
 * 1 GiB; the unchanged re-sync writes no change event.
 *
 *   npm run bench -- --only google [--users N] [--engine sqlite|postgres]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonObject } from '../src/core/model.ts';
import { loadProviderDefinition } from '../src/connectors/definition/load-provider-definition.ts';
import { pages } from '../src/connectors/definition/pager.ts';
import { googleWorkspaceType } from '../src/connectors/google/google.connection.ts';
import { googleWorkspaceDefinition } from '../src/connectors/google/google.definition.ts';
import type { ServiceAccountKey } from '../src/emulators/google/index.ts';
import { JwtBearerStrategy } from '../src/sync/credentials/jwt-bearer.strategy.ts';
import { TokenManager } from '../src/sync/credentials/token-manager.ts';
import { fetchJsonVia } from '../src/sync/http/fetch-json.ts';
import { ProviderHttpClient } from '../src/sync/http/provider-http-client.ts';
import { printed } from './emulator-process.ts';
import type { PullSource } from './pull-floor.ts';
import { runPullSyncBenchmark, type BenchProvider, type PullSyncBenchOptions } from './pull-sync-harness.ts';

const SCOPES = [
  'https://www.googleapis.com/auth/admin.directory.user.readonly',
  'https://www.googleapis.com/auth/admin.directory.group.readonly',
  'https://www.googleapis.com/auth/admin.directory.group.member.readonly',
].join(' ');

export type GoogleSyncBenchOptions = PullSyncBenchOptions;

const keyFileIn = (workDir: string) => join(workDir, 'service-account.json');
const apiRoot = (url: string) => `${url}/admin/directory/v1`;

export const googleBench: BenchProvider = {
  tag: 'google',
  label: 'Google',
  emulatorArgs: (options, workDir) => ['google', '--users', String(options.users), '--groups', String(options.groups), '--port', '0', '--seed', String(options.seed ?? 1), '--key-file', keyFileIn(workDir)],
  startupTimeoutMs: 120_000,
  connection: (emulator, workDir) => ({
    type: 'google-workspace',
    name: 'Google Workspace',
    config: { api_base_url: apiRoot(emulator.url), token_url: printed(emulator, 'token URL:'), push: false },
    credentials: { method: 'service_account', service_account_key: JSON.parse(readFileSync(keyFileIn(workDir), 'utf8')) as JsonObject, subject: 'admin@example.com' },
  }),
  // A Google source as a connection would assemble it, with its API root at the emulator.
  floorSource: (emulator, connection): PullSource => {
    const key = connection.credentials.service_account_key as unknown as ServiceAccountKey;
    const definition = loadProviderDefinition({ ...googleWorkspaceDefinition, baseUrl: apiRoot(emulator.url) });
    const tokens = new TokenManager({
      strategy: new JwtBearerStrategy({
        http: new ProviderHttpClient(),
        tokenUrl: printed(emulator, 'token URL:'),
        issuer: key.client_email,
        subject: 'admin@example.com',
        scope: SCOPES,
        privateKey: key.private_key,
      }),
    });
    const http = new ProviderHttpClient({ label: 'bench-google', throttle: googleWorkspaceType.throttle, maxConcurrent: 4, authorize: () => tokens.getAuthHeader() });
    return { definition, config: {}, fetchJson: fetchJsonVia(http) };
  },
  floorPlan: (source) => ({
    userListings: [() => pages(source.definition, 'users', { config: source.config }, source.fetchJson)],
    keepsUser: (user) => !(user as { deletionTime?: string }).deletionTime,
    groups: () => pages(source.definition, 'groups', { config: source.config }, source.fetchJson),
    groupId: (group) => (group as { id: string }).id,
    members: (groupId) => pages(source.definition, 'members', { config: source.config, groupId }, source.fetchJson),
    // Members of type USER: the memberships a sync keeps.
    isUserMember: (member) => (member as { type?: string }).type === 'USER',
  }),
  targets: { fullSyncSecondsPer100k: 30, fullSyncPeakRssBytes: 1024 ** 3 },
};

export async function runGoogleSyncBenchmark(options: GoogleSyncBenchOptions): Promise<void> {
  await runPullSyncBenchmark(googleBench, options);
}
