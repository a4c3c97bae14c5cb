import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { startGoogleEmulator } from '../../emulators/google/index.ts';
import { registerGraphEmulateCommand } from './emulate-graph.command.ts';
import { registerJumpCloudEmulateCommand } from './emulate-jumpcloud.command.ts';
import { registerOktaEmulateCommand } from './emulate-okta.command.ts';
import { untilStopped, type CliContext } from '../context.ts';
import { wholeNumber } from '../options.ts';

export function registerEmulateCommands(program: Command, context: CliContext): void {
  const emulate = program.command('emulate').description('Run a local emulator of an identity provider, for connector development and tests');
  registerGraphEmulateCommand(emulate, context);
  registerJumpCloudEmulateCommand(emulate, context);
  registerOktaEmulateCommand(emulate, context);
  emulate
    .command('google')
    .description('Emulate the Google Workspace Admin SDK Directory API (users, groups, members, watch channels, OAuth)')
    .option('--users <n>', 'users to generate', wholeNumber('users'), 1000)
    .option('--groups <n>', 'groups to generate', wholeNumber('groups'), 50)
    .option('--seed <n>', 'seed of the deterministic generator', wholeNumber('seed'), 1)
    .option('--port <n>', 'port to listen on (0 picks one)', wholeNumber('port'), 8090)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--domain <domain>', 'primary domain of the emulated org', 'example.com')
    .option('--key-file <path>', 'where to write the service-account JSON key')
    .action(async (opts: { users: number; groups: number; seed: number; port: number; host: string; domain: string; keyFile?: string }) => {
      const started = Date.now();
      const emulator = await startGoogleEmulator({ users: opts.users, groups: opts.groups, seed: opts.seed, port: opts.port, host: opts.host, domain: opts.domain });
      const keyFile = opts.keyFile ?? join(tmpdir(), `roster-google-emulator-${new URL(emulator.url).port}.json`);
      // The key is written owner-only: it is a private key, even if only the emulator trusts it.
      await writeFile(keyFile, JSON.stringify(emulator.serviceAccountKey, null, 2), { mode: 0o600 });
      context.stdout(`Google Directory emulator listening on ${emulator.url} (${emulator.org.userCount} users, ${emulator.org.groupCount} groups, built in ${Date.now() - started} ms)`);
      context.stdout(`  API root:            ${emulator.url}/admin/directory/v1/`);
      context.stdout(`  token URL:           ${emulator.tokenUrl}`);
      context.stdout(`  service account key: ${keyFile} (${emulator.serviceAccountKey.client_email})`);
      context.stdout(`  OAuth client:        ${emulator.oauthClient.clientId} / ${emulator.oauthClient.clientSecret}`);
      context.stdout(`  control API:         ${emulator.url}/_emulator/`);

      await untilStopped(context.signal);
      await emulator.close();
      context.stdout('emulator stopped');
    });
}
