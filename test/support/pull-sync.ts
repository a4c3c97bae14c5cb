import assert from 'node:assert/strict';
import type { Config } from '../../src/config.ts';
import { expectStatus } from './api.ts';
import type { TestRoster } from './roster.ts';

/*
 * Helpers for tests of pull connections, whatever the provider: sync settings, waiting for a connection
 * and its runs, reading the directory it produced.
 */

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

/** The connection's runs, newest first. */
export async function runsOf(roster: TestRoster, connectionId: string): Promise<any[]> {
  return expectStatus(await roster.request('GET', `/v1/sync-runs?connection_id=${connectionId}`), 200).data as any[];
}

/** Waits for the connection to pass validation (state `active`). */
export async function becomesActive(roster: TestRoster, connectionId: string, what = 'the connection to be active'): Promise<void> {
  await eventually(what, async () => ((await getConnection(roster, connectionId)).state === 'active' ? true : undefined));
}

/** Waits for a new connection to become active and answers its first run as first seen (it may still be running). */
export async function firstRun(roster: TestRoster, connectionId: string): Promise<any> {
  await becomesActive(roster, connectionId);
  return eventually('its first run', async () => (await runsOf(roster, connectionId))[0]);
}
