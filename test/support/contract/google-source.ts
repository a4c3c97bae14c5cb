import { startGoogleEmulator } from '../../../src/emulators/google/index.ts';
import { emulatorConfig, serviceAccountCredentials } from '../google-sync.ts';
import type { ContractCase } from './connector-contract.ts';

/** Google Workspace behind the connector contract: the Directory API emulator with a service account. */
export const googleContractCase: ContractCase = {
  name: 'Google Workspace',
  start: async () => {
    const emulator = await startGoogleEmulator({ users: 60, groups: 4, seed: 17 });
    const userByEmail = (email: string) => emulator.org.userIds().map((id) => emulator.org.userById(id)!).find((u) => u.primaryEmail === email)!;
    const live = () => emulator.org.userIds().map((id) => emulator.org.userById(id)!).filter((u) => !u.deletionTime);
    return {
      type: 'google-workspace',
      connection: () => ({ config: emulatorConfig(emulator, { push: false }), credentials: serviceAccountCredentials(emulator) }),
      userEmails: () => live().map((u) => u.primaryEmail),
      groupCount: () => emulator.org.groupIds().length,
      membershipCount: () =>
        emulator.org.groupIds().reduce((sum, id) => sum + emulator.org.membersOf(id).filter((m) => m.type === 'USER' && !emulator.org.userById(m.id)?.deletionTime).length, 0),
      setTitle: (email, title) => void emulator.control.updateUser(userByEmail(email).id, { organizations: [{ title, primary: true }] }),
      removeUser: (email) => void emulator.control.deleteUser(userByEmail(email).id),
      setThrottling: (on) => emulator.control.setThrottle(on ? { fraction: 0.3, reason: 'userRateLimitExceeded' } : undefined),
      throttled: () => emulator.control.stats().throttled,
      setFailing: (on) => (on ? emulator.control.injectFault({ kind: 'server-error', count: 100_000, status: 503 }) : emulator.control.clearFaults()),
      revokeCredentials: () => {
        emulator.control.deleteServiceAccountKey(emulator.serviceAccountKey.client_email);
        // Access tokens issued before stay good until they expire, as Google's do: let them expire.
        emulator.control.advanceTime(2 * 3600 * 1000);
      },
      close: () => emulator.close(),
    };
  },
};
