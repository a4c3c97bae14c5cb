import type { Command } from 'commander';
import { startGraphEmulator } from '../../emulators/microsoft-graph/index.ts';
import { untilStopped, type CliContext } from '../context.ts';
import { wholeNumber } from '../options.ts';

/** `roster emulate graph`: the Microsoft Graph emulator on its own, with the app registration it trusts. */
export function registerGraphEmulateCommand(emulate: Command, context: CliContext): void {
  emulate
    .command('graph')
    .description('Emulate Microsoft Graph for an Entra tenant (users, groups, members, delta queries, subscriptions, client-credentials tokens)')
    .option('--users <n>', 'users to generate', wholeNumber('users'), 1000)
    .option('--groups <n>', 'groups to generate', wholeNumber('groups'), 50)
    .option('--seed <n>', 'seed of the deterministic generator', wholeNumber('seed'), 1)
    .option('--port <n>', 'port to listen on (0 picks one)', wholeNumber('port'), 8091)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--domain <domain>', 'primary domain of the emulated tenant', 'contoso.onmicrosoft.com')
    .option('--client-id <id>', 'application (client) id the emulator trusts (random by default)')
    .option('--client-secret <secret>', 'client secret the emulator trusts (random by default)')
    .action(async (opts: { users: number; groups: number; seed: number; port: number; host: string; domain: string; clientId?: string; clientSecret?: string }) => {
      const started = Date.now();
      const emulator = await startGraphEmulator({
        users: opts.users,
        groups: opts.groups,
        seed: opts.seed,
        port: opts.port,
        host: opts.host,
        domain: opts.domain,
        ...(opts.clientId && opts.clientSecret ? { app: { clientId: opts.clientId, clientSecret: opts.clientSecret } } : {}),
      });
      context.stdout(`Microsoft Graph emulator listening on ${emulator.url} (${emulator.tenant.userCount} users, ${emulator.tenant.groupCount} groups, built in ${Date.now() - started} ms)`);
      context.stdout(`  API root:       ${emulator.apiBaseUrl}/`);
      context.stdout(`  tenant:         ${emulator.tenant.tenantId} (${emulator.tenant.domain})`);
      context.stdout(`  token URL:      ${emulator.tokenUrl}`);
      context.stdout(`  app (client):   ${emulator.app.clientId} / ${emulator.app.clientSecret}`);
      context.stdout(`  control API:    ${emulator.url}/_emulator/`);

      await untilStopped(context.signal);
      await emulator.close();
      context.stdout('emulator stopped');
    });
}
