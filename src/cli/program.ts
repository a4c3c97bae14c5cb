import { Command } from 'commander';
import { ConfigError } from '../config.ts';
import { ApiError } from './api-client.ts';
import { registerDirectoryCommands } from './commands/directory.command.ts';
import { registerEmulateCommands } from './commands/emulate.command.ts';
import { registerEventsCommands } from './commands/events.command.ts';
import { registerMigrateCommand } from './commands/migrate.command.ts';
import { registerSecretsCommands } from './commands/secrets.command.ts';
import { registerStartCommand } from './commands/start.command.ts';
import { registerWorkerCommand } from './commands/worker.command.ts';
import { registerSyncCommand } from './commands/sync.command.ts';
import { registerDemoCommand } from './commands/demo.command.ts';
import { registerWebhooksCommands } from './commands/webhooks.command.ts';
import { CommandExit, type CliContext } from './context.ts';

/** A command module adds its command(s) to the program. New commands are added to this list. */
export type RegisterCommand = (program: Command, context: CliContext) => void;

const COMMANDS: RegisterCommand[] = [registerStartCommand, registerWorkerCommand, registerSyncCommand, registerDemoCommand, registerMigrateCommand, registerDirectoryCommands, registerEventsCommands, registerWebhooksCommands, registerEmulateCommands, registerSecretsCommands];

export function buildProgram(context: CliContext): Command {
  const program = new Command('roster')
    .description('Roster: one reconciled directory per organization from every identity source.')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (text) => context.stdout(text.trimEnd()), writeErr: (text) => context.stderr(text.trimEnd()) })
    // Throw instead of process.exit (help, usage errors); subcommands inherit this only if set before they are added.
    .exitOverride();
  for (const register of COMMANDS) register(program, context);
  return program;
}

/** One line for a failed command: the API's own message for API errors, no stack unless ROSTER_DEBUG is set. */
export function describeCliError(error: unknown, env: NodeJS.ProcessEnv): string {
  if (error instanceof ApiError) return `roster: ${error.message} [${error.code}]`;
  if (error instanceof ConfigError) return `roster: ${error.message}`;
  if (env.ROSTER_DEBUG && error instanceof Error && error.stack) return `roster: ${error.stack}`;
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `roster: ${error instanceof Error ? error.message : String(error)}${cause}`;
}

/** Runs the CLI; resolves to the exit code. */
export async function runCli(argv: string[], context: CliContext): Promise<number> {
  const program = buildProgram(context);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommandExit) return error.exitCode;
    // Commander has already printed help, version or a usage error; it only tells us how to exit.
    if (error instanceof Error && 'exitCode' in error && typeof error.exitCode === 'number' && 'code' in error && String(error.code).startsWith('commander.')) {
      return error.exitCode;
    }
    context.stderr(describeCliError(error, context.env));
    return 1;
  }
}
