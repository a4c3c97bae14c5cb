import assert from 'node:assert/strict';
import type { Config } from '../../src/config.ts';
import type { GoogleEmulator } from '../../src/emulators/google/index.ts';
import { expectStatus } from './api.ts';
import type { TestRoster } from './roster.ts';

/** Sync settings for tests: provider calls reach the emulator on loopback, and waits are short. */
export function fastSyncConfig(overrides: Partial<Config['sync']> = {}): Partial<Config> {
  return {
    sync: {
      worker: true,
      providerAllowedHosts: ['127.0.0.1', 'localhost'],
      tickMs: 200,
      leaseMs: 3_000,
      concurrency: 4,
      applyBatch: 5_000,
      providerHttp: {
        errorBackoff: { baseMs: 5, capMs: 20 },
        throttleBackoff: { baseMs: 5, capMs: 50 },
        attemptTimeoutMs: 2_000,
        maxErrorAttempts: 3,
      },
      ...overrides,
    },
  };
}

/** A Google connection's settings pointing at the emulator instead of Google. */
export function emulatorConfig(emulator: GoogleEmulator, extra: Record<string, unknown> = {}) {
  return {
    api_base_url: `${emulator.url}/admin/directory/v1`,
    token_url: emulator.tokenUrl,
    authorize_url: `${emulator.url}/o/oauth2/v2/auth`,
    ...extra,
  };
}

export function serviceAccountCredentials(emulator: GoogleEmulator) {
  return { method: 'service_account', service_account_key: emulator.serviceAccountKey, subject: `admin@${emulator.org.domain}` };
}

export async function createGoogleConnection(roster: TestRoster, organizationId: string, body: Record<string, unknown>): Promise<any> {
  return expectStatus(await roster.request('POST', `/v1/organizations/${organizationId}/connections`, { type: 'google-workspace', name: 'Google Workspace', ...body }), 201);
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs` with what it last saw. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function getConnection(roster: TestRoster, id: string): Promise<any> {
  return expectStatus(await roster.request('GET', `/v1/connections/${id}`), 200);
}

/** Waits for a run to end (any status but queued and running) and returns it. */
export async function runEnded(roster: TestRoster, runId: string, timeoutMs = 30_000): Promise<any> {
  return eventually(
    `run ${runId} to end`,
    async () => {
      const run = expectStatus(await roster.request('GET', `/v1/sync-runs/${runId}`), 200) as any;
      return run.status === 'queued' || run.status === 'running' ? undefined : run;
    },
    timeoutMs,
  );
}

/** Every user of an organization through the API. */
export async function usersOf(roster: TestRoster, organizationId: string, query = ''): Promise<any[]> {
  const rows: any[] = [];
  let cursor: string | null = null;
  do {
    const page: any = expectStatus(await roster.request('GET', `/v1/users?organization_id=${organizationId}&limit=200${query}${cursor ? `&cursor=${cursor}` : ''}`), 200);
    rows.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return rows;
}

export async function userByEmail(roster: TestRoster, organizationId: string, email: string): Promise<any> {
  const page = expectStatus(await roster.request('GET', `/v1/users?organization_id=${organizationId}&email=${encodeURIComponent(email)}`), 200) as any;
  return page.data[0];
}
