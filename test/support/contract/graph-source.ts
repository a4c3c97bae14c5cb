import { startGraphEmulator, type GraphUser } from '../../../src/emulators/microsoft-graph/index.ts';
import { graphConfig, graphCredentials, graphUserMemberships, liveGraphUsers } from '../graph-sync.ts';
import type { ContractCase } from './connector-contract.ts';

/** The address Roster stores as `email`: `mail`, else the primary SMTP proxy address (graph.definition.ts). */
const emailOf = (user: GraphUser): string | null => user.mail ?? user.proxyAddresses.find((a) => a.startsWith('SMTP:'))?.slice(5) ?? null;

/** Microsoft Entra ID behind the connector contract: the Graph emulator with an app's client credentials. */
export const graphContractCase: ContractCase = {
  name: 'Microsoft Graph',
  start: async () => {
    const emulator = await startGraphEmulator({ users: 50, groups: 5, seed: 23 });
    const { control } = emulator;
    // The generator leaves some accounts without a mailbox (null email); give those a primary SMTP proxy
    // address instead, so every person has an email and the mapping's fallback is exercised too.
    for (const user of liveGraphUsers(emulator).filter((u) => emailOf(u) === null)) control.updateUser(user.id, { proxyAddresses: [`SMTP:${user.userPrincipalName}`] });
    const userByEmail = (email: string) => liveGraphUsers(emulator).find((u) => emailOf(u) === email)!;
    return {
      type: 'microsoft-graph',
      connection: () => ({ config: graphConfig(emulator, { push: false }), credentials: graphCredentials(emulator) }),
      userEmails: () => liveGraphUsers(emulator).map((u) => emailOf(u)!),
      groupCount: () => emulator.tenant.groupCount,
      membershipCount: () => graphUserMemberships(emulator),
      setTitle: (email, title) => void control.updateUser(userByEmail(email).id, { jobTitle: title }),
      // What DELETE /users/{id} does: to the recycle bin, no longer listed.
      removeUser: (email) => void control.deleteUser(userByEmail(email).id),
      setThrottling: (on) => control.setThrottle(on ? { capacity: 6, windowMs: 1000 } : undefined),
      throttled: () => control.stats().throttled,
      setFailing: (on) => (on ? control.injectFault({ kind: 'server-error', count: 100_000, status: 503 }) : control.clearFaults()),
      revokeCredentials: () => {
        control.rotateClientSecret();
        // Tokens issued before would live out their 60–90 minutes: let them go now.
        control.revokeAccessTokens();
      },
      close: () => emulator.close(),
    };
  },
};
