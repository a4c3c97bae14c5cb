import type { GoogleEmulator } from '../../src/emulators/google/index.ts';
import { expectStatus } from './api.ts';
import type { TestRoster } from './roster.ts';

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
