import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { startOktaEmulator } from '../../emulators/okta/index.ts';
import { untilStopped, type CliContext } from '../context.ts';
import { wholeNumber } from '../options.ts';

/** `roster emulate okta`: the Okta Management API emulator on its own, with an API token and a service app it trusts. */
export function registerOktaEmulateCommand(emulate: Command, context: CliContext): void {
  emulate
    .command('okta')
    .description('Emulate the Okta Management API (users in every status, groups, members, System Log, event hooks, API tokens and a private_key_jwt service app, X-Rate-Limit buckets)')
    .option('--users <n>', 'users to generate', wholeNumber('users'), 1000)
    .option('--groups <n>', 'groups to generate', wholeNumber('groups'), 50)
    .option('--seed <n>', 'seed of the deterministic generator', wholeNumber('seed'), 1)
    .option('--port <n>', 'port to listen on (0 picks one)', wholeNumber('port'), 8092)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--domain <domain>', 'email domain of the generated people', 'example.com')
    .option('--key-file <path>', "where to write the service app's private key (PKCS#8 PEM)")
    .action(async (opts: { users: number; groups: number; seed: number; port: number; host: string; domain: string; keyFile?: string }) => {
      const started = Date.now();
      const emulator = await startOktaEmulator({ users: opts.users, groups: opts.groups, seed: opts.seed, port: opts.port, host: opts.host, domain: opts.domain });
      const keyFile = opts.keyFile ?? join(tmpdir(), `roster-okta-emulator-${new URL(emulator.url).port}.pem`);
      // Owner-only: it is a private key, even if only the emulator trusts it.
      await writeFile(keyFile, emulator.serviceApp.privateKey, { mode: 0o600 });
      context.stdout(`Okta emulator listening on ${emulator.url} (${emulator.org.userCount} users, ${emulator.org.groupCount} groups, built in ${Date.now() - started} ms)`);
      context.stdout(`  API root:         ${emulator.url}/api/v1/`);
      context.stdout(`  API token:        SSWS ${emulator.apiToken}`);
      context.stdout(`  token URL:        ${emulator.tokenUrl}`);
      context.stdout(`  service app:      ${emulator.serviceApp.clientId} (key id ${emulator.serviceApp.keyId}, private key in ${keyFile})`);
      context.stdout(`  control API:      ${emulator.url}/_emulator/`);

      await untilStopped(context.signal);
      await emulator.close();
      context.stdout('emulator stopped');
    });
}
