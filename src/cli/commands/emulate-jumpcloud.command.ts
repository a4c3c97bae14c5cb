import type { Command } from 'commander';
import { startJumpCloudEmulator } from '../../emulators/jumpcloud/index.ts';
import { untilStopped, type CliContext } from '../context.ts';
import { wholeNumber } from '../options.ts';

/** `roster emulate jumpcloud`: the JumpCloud emulator on its own, with the API keys it accepts. */
export function registerJumpCloudEmulateCommand(emulate: Command, context: CliContext): void {
  emulate
    .command('jumpcloud')
    .description('Emulate JumpCloud (v1 system users, v2 user groups and members, API keys, offset paging with drift on demand)')
    .option('--users <n>', 'users to generate', wholeNumber('users'), 1000)
    .option('--groups <n>', 'groups to generate', wholeNumber('groups'), 20)
    .option('--seed <n>', 'seed of the deterministic generator', wholeNumber('seed'), 1)
    .option('--port <n>', 'port to listen on (0 picks one)', wholeNumber('port'), 8093)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--domain <domain>', 'email domain of the emulated users', 'example.com')
    .option('--api-key <key>', 'the admin API key to accept (random when omitted)')
    .action(async (opts: { users: number; groups: number; seed: number; port: number; host: string; domain: string; apiKey?: string }) => {
      const started = Date.now();
      const emulator = await startJumpCloudEmulator({ users: opts.users, groups: opts.groups, seed: opts.seed, port: opts.port, host: opts.host, domain: opts.domain, ...(opts.apiKey ? { apiKey: opts.apiKey } : {}) });
      context.stdout(`JumpCloud emulator listening on ${emulator.url} (${emulator.org.userCount} users, ${emulator.org.groupCount} groups, built in ${Date.now() - started} ms)`);
      context.stdout(`  API root (api_base_url): ${emulator.apiBaseUrl}`);
      context.stdout(`  admin API key:           ${emulator.apiKey}`);
      context.stdout(`  multi-tenant API key:    ${emulator.multiTenantApiKey} (x-org-id: ${emulator.orgId})`);
      context.stdout(`  control API:             ${emulator.url}/_emulator/`);

      await untilStopped(context.signal);
      await emulator.close();
      context.stdout('emulator stopped');
    });
}
