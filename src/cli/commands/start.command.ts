import type { Command } from 'commander';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { createRoster, type Roster } from '../../app.ts';
import { loadConfig } from '../../config.ts';
import { loggerOptions } from '../../http/server.ts';
import type { CliContext } from '../context.ts';

/** In-flight requests and running jobs get this long to finish on shutdown before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

export function registerStartCommand(program: Command, context: CliContext): void {
  program
    .command('start')
    .description('Start the Roster server (PORT, default 8080; SQLite under ROSTER_DATA_DIR unless ROSTER_DATABASE_URL is set)')
    .action(async () => {
      const config = loadConfig(context.env);
      const logger = pino(loggerOptions(config.logLevel)) as FastifyBaseLogger;
      const roster = await createRoster(config, { logger });
      const address = await roster.start();
      // Listening on every interface: the address people can open from this machine is localhost.
      const url = /^(0\.0\.0\.0|::)$/.test(config.host) ? `http://localhost:${new URL(address).port}` : address;
      logger.info({ url, database: roster.database.description }, `Roster listening on ${url}`);

      stopOnSignals(roster, logger);
    });
}

/** SIGINT or SIGTERM stops the instance gracefully; a second signal, or a stop that takes too long, exits at once. */
export function stopOnSignals(roster: Roster, logger: FastifyBaseLogger): void {
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight work');
    const force = setTimeout(() => {
      logger.error('shutdown took too long: exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    roster.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
