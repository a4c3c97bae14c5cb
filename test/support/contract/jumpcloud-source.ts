import { startJumpCloudEmulator } from '../../../src/emulators/jumpcloud/index.ts';
import { apiKeyCredentials, jumpCloudConfig } from '../jumpcloud-sync.ts';
import type { ContractCase } from './connector-contract.ts';

/** JumpCloud behind the connector contract: the v1/v2 API emulator with an admin's API key. */
export const jumpCloudContractCase: ContractCase = {
  name: 'JumpCloud',
  start: async () => {
    const emulator = await startJumpCloudEmulator({ users: 50, groups: 5, seed: 37 });
    const { control, org } = emulator;
    const userByEmail = (email: string) => org.listUsers().find((u) => u.email === email)!;
    return {
      type: 'jumpcloud',
      connection: () => ({ config: jumpCloudConfig(emulator, { push: false }), credentials: apiKeyCredentials(emulator.apiKey) }),
      userEmails: () => org.listUsers().map((u) => u.email),
      groupCount: () => org.listGroups().length,
      membershipCount: () => org.listGroups().reduce((sum, g) => sum + org.membersOf(g.id).length, 0),
      setTitle: (email, title) => void control.updateUser(userByEmail(email)._id, { jobTitle: title }),
      // Deleting a system user takes them out of every group; the next listing no longer has them.
      removeUser: (email) => void control.deleteUser(userByEmail(email)._id),
      setThrottling: (on) => control.setThrottle(on ? { fraction: 0.3 } : undefined),
      throttled: () => control.stats().throttled,
      setFailing: (on) => (on ? control.injectFault({ kind: 'server-error', count: 100_000, status: 503 }) : control.clearFaults()),
      // An API key has no access tokens behind it: reset in the console, it is refused at once.
      revokeCredentials: () => void control.revokeApiKey(emulator.apiKey),
      close: () => emulator.close(),
    };
  },
};
