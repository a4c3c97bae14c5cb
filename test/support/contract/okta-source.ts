import { startOktaEmulator } from '../../../src/emulators/okta/index.ts';
import { DEFAULT_RATE_LIMITS } from '../../../src/emulators/okta/rate-limits.ts';
import { apiTokenCredentials, oktaConfig, oktaMembershipCount, oktaUsers, syncedOktaGroups } from '../okta-sync.ts';
import type { ContractCase } from './connector-contract.ts';

/** Okta behind the connector contract: the Management API emulator with a super admin's API token. */
export const oktaContractCase: ContractCase = {
  name: 'Okta',
  start: async () => {
    const emulator = await startOktaEmulator({ users: 50, groups: 6, seed: 52 });
    const { control } = emulator;
    const userByEmail = (email: string) => oktaUsers(emulator).find((u) => u.profile.email === email)!;
    return {
      type: 'okta',
      connection: () => ({ config: oktaConfig(emulator, { push: false }), credentials: apiTokenCredentials(emulator.apiToken) }),
      // Every user the org holds: DEPROVISIONED ones too, which Roster keeps as inactive.
      userEmails: () => oktaUsers(emulator).map((u) => u.profile.email),
      groupCount: () => syncedOktaGroups(emulator).length,
      membershipCount: () => oktaMembershipCount(emulator),
      setTitle: (email, title) => void control.updateUser(userByEmail(email).id, { title }),
      // Deprovisions first, then deletes for good: the user is no longer listed, even by status filter.
      removeUser: (email) => control.deleteUser(userByEmail(email).id),
      // Another client of the org has spent the users and groups buckets: 429 E0000047 until each resets.
      setThrottling: (on) => {
        if (!on) return control.setRateLimits({ users: DEFAULT_RATE_LIMITS.users, groups: DEFAULT_RATE_LIMITS.groups });
        control.setRateLimits({ users: { limit: 50, windowMs: 2000 }, groups: { limit: 50, windowMs: 2000 } });
        control.consumeRateLimit('users', 50);
        control.consumeRateLimit('groups', 50);
      },
      throttled: () => Object.values(control.stats().throttled).reduce((sum, n) => sum + n, 0),
      setFailing: (on) => (on ? control.injectFault({ kind: 'server-error', count: 100_000, status: 503 }) : control.clearFaults()),
      // An API token has no access tokens behind it: revoked, it is refused at once.
      revokeCredentials: () => void control.revokeApiToken(emulator.apiToken),
      close: () => emulator.close(),
    };
  },
};
