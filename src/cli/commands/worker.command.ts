import type { Command } from 'commander';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { createRoster } from '../../app.ts';
import { loadConfig } from '../../config.ts';
import { loggerOptions } from '../../http/server.ts';
import type { CliContext } from '../context.ts';
import { stopOnSignals } from './start.command.ts';

export function registerWorkerCommand(program: Command, context: CliContext): void {
  program
    .command('worker')
    .description(
      'Run background work only — sync runs, schedules, push fetches, channel renewals — without serving the API. ' +
        'With PostgreSQL (ROSTER_DATABASE_URL) any number of workers share the work; a dead worker’s run is taken over from its checkpoint.',
    )
    .action(async () => {
      const config = loadConfig(context.env);
      const logger = pino(loggerOptions(config.logLevel)) as FastifyBaseLogger;
      const roster = await createRoster(config, { logger });
      await roster.startWorker();
      logger.info({ database: roster.database.description }, 'Roster worker started');
      stopOnSignals(roster, logger);
    });
}
