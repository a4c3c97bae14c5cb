import type { JumpCloudEmulator } from '../../src/emulators/jumpcloud/index.ts';
import { expectStatus } from './api.ts';
import type { TestRoster } from './roster.ts';

/** A JumpCloud connection's settings pointing at the emulator, with tiers that never fall due by themselves. */
export function jumpCloudConfig(emulator: JumpCloudEmulator, extra: Record<string, unknown> = {}) {
  return { api_base_url: emulator.apiBaseUrl, schedule: { critical_seconds: 3600, profile_seconds: 3600, full_seconds: 86_400 }, ...extra };
}

export function apiKeyCredentials(apiKey: string) {
  return { method: 'api_key', api_key: apiKey };
}

export async function createJumpCloudConnection(roster: TestRoster, organizationId: string, body: Record<string, unknown>): Promise<any> {
  return expectStatus(await roster.request('POST', `/v1/organizations/${organizationId}/connections`, { type: 'jumpcloud', name: 'JumpCloud', ...body }), 201);
}

/** Queues a run through the API and answers it (the one created, or the one already under way). */
export async function requestRun(roster: TestRoster, connectionId: string, kind: 'full' | 'profile' | 'critical'): Promise<any> {
  return (expectStatus(await roster.request('POST', `/v1/connections/${connectionId}/sync`, { kind }), 202) as any).run;
}
