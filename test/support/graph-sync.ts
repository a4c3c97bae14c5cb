import type { GraphEmulator } from '../../src/emulators/microsoft-graph/index.ts';
import { expectStatus } from './api.ts';
import type { TestRoster } from './roster.ts';

/** A microsoft-graph connection's settings pointing at the emulator instead of Microsoft. */
export function graphConfig(emulator: GraphEmulator, extra: Record<string, unknown> = {}) {
  return { tenant: emulator.tenant.tenantId, api_base_url: emulator.apiBaseUrl, token_url: emulator.tokenUrl, ...extra };
}

export function graphCredentials(emulator: GraphEmulator, secret = emulator.app.clientSecret) {
  return { method: 'client_credentials', client_id: emulator.app.clientId, client_secret: secret };
}

export async function createGraphConnection(roster: TestRoster, organizationId: string, body: Record<string, unknown>): Promise<any> {
  return expectStatus(await roster.request('POST', `/v1/organizations/${organizationId}/connections`, { type: 'microsoft-graph', name: 'Entra ID', ...body }), 201);
}

/** Live users of the emulated tenant, as Graph would list them. */
export function liveGraphUsers(emulator: GraphEmulator) {
  return emulator.tenant.userIds().map((id) => emulator.tenant.findUser(id)).filter((user) => user !== undefined);
}

/** Direct user memberships of live groups, as Roster should hold them. */
export function graphUserMemberships(emulator: GraphEmulator): number {
  const { tenant } = emulator;
  return tenant.groupIds().filter((id) => tenant.findGroup(id)).reduce((sum, id) => sum + tenant.membersOf(id).filter((m) => m.type === 'user' && tenant.findUser(m.id)).length, 0);
}
