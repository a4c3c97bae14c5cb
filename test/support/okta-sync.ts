import type { OktaEmulator, OktaUser } from '../../src/emulators/okta/index.ts';
import { expectStatus } from './api.ts';
import type { TestRoster } from './roster.ts';

/** An Okta connection's settings pointing at the emulator instead of https://{domain}. */
export function oktaConfig(emulator: OktaEmulator, extra: Record<string, unknown> = {}) {
  return { domain: 'acme.okta.com', api_base_url: `${emulator.url}/api/v1`, token_url: emulator.tokenUrl, ...extra };
}

export function apiTokenCredentials(token: string) {
  return { method: 'api_token', token };
}

export function serviceAppCredentials(emulator: OktaEmulator, scopes?: string[]) {
  return {
    method: 'service_app',
    client_id: emulator.serviceApp.clientId,
    private_key: emulator.serviceApp.privateKey,
    key_id: emulator.serviceApp.keyId,
    ...(scopes ? { scopes } : {}),
  };
}

export async function createOktaConnection(roster: TestRoster, organizationId: string, body: Record<string, unknown>): Promise<any> {
  return expectStatus(await roster.request('POST', `/v1/organizations/${organizationId}/connections`, { type: 'okta', name: 'Okta', ...body }), 201);
}

/** Every user the emulated org holds, in id order. */
export function oktaUsers(emulator: OktaEmulator): OktaUser[] {
  return emulator.org.userIds().map((id) => emulator.org.userById(id)!);
}

/** The groups Roster syncs: Okta's own and imported ones (not the built-in Everyone). */
export function syncedOktaGroups(emulator: OktaEmulator) {
  return emulator.org
    .groupIds()
    .map((id) => emulator.org.groupById(id)!)
    .filter((group) => group.type !== 'BUILT_IN');
}

export function oktaMembershipCount(emulator: OktaEmulator): number {
  return syncedOktaGroups(emulator).reduce((sum, group) => sum + emulator.org.memberIdsOf(group.id).length, 0);
}
