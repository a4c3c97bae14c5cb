import { readFileSync } from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { pino } from 'pino';
import type { Config } from './config.ts';
import { createAuthenticator } from './http/auth.ts';
import { createMetrics, recordEventsWritten, type Metrics } from './http/metrics.ts';
import { registerApiKeyRoutes } from './http/routes/api-keys.routes.ts';
import { registerAuditLogRoutes } from './http/routes/audit-log.routes.ts';
import { registerConnectionRoutes } from './http/routes/connections.routes.ts';
import { registerOrganizationRoutes } from './http/routes/organizations.routes.ts';
import { registerSystemRoutes } from './http/routes/system.routes.ts';
import { createServer, loggerOptions } from './http/server.ts';
import type { FastifyZodInstance } from './http/types.ts';
import { ApiKeysRepo } from './store/api-keys.repo.ts';
import { AuditRepo } from './store/audit.repo.ts';
import { ConnectionsRepo } from './store/connections.repo.ts';
import { openDatabase, type Database } from './store/database.ts';
import { migrateToLatest } from './store/migrator.ts';
import { OrganizationsRepo } from './store/organizations.repo.ts';

export interface RosterOptions {
  /** Defaults to a JSON logger at `config.logLevel` with secrets redacted. */
  logger?: FastifyBaseLogger;
  /** An already open database (tests pass one on a schema of their own). It is the caller's to close. */
  database?: Database;
  /** The time source of everything this instance writes. */
  clock?: () => Date;
  /** Process-wide metrics (CPU, memory); default on. */
  processMetrics?: boolean;
}

export interface Roster {
  readonly config: Config;
  readonly database: Database;
  readonly server: FastifyZodInstance;
  readonly metrics: Metrics;
  readonly logger: FastifyBaseLogger;
  /** Starts listening on `config.host:config.port`; resolves to the address, e.g. `http://127.0.0.1:8080`. */
  start(): Promise<string>;
  /** Stops accepting requests, lets in-flight ones finish, closes the database if this instance opened it. */
  stop(): Promise<void>;
}

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * The composition root: every service of a Roster process is built here, by hand, and handed to what needs
 * it. Nothing else creates repositories or reads configuration.
 */
export async function createRoster(config: Config, options: RosterOptions = {}): Promise<Roster> {
  const logger = options.logger ?? (pino(loggerOptions(config.logLevel)) as FastifyBaseLogger);
  const ownsDatabase = options.database === undefined;
  const database = options.database ?? openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const clock = options.clock ?? (() => new Date());
  try {
    await migrateToLatest(database);

    const metrics = createMetrics({ processMetrics: options.processMetrics ?? true });
    const apiKeys = new ApiKeysRepo(database.db);
    const organizations = new OrganizationsRepo(database);
    const connections = new ConnectionsRepo(database, { onEventsWritten: (events) => recordEventsWritten(metrics, events) });
    const audit = new AuditRepo(database.db);

    if (config.apiKey !== undefined) {
      const outcome = await apiKeys.bootstrap(config.apiKey, clock().toISOString());
      if (outcome === 'created') logger.info('created the first admin API key from ROSTER_API_KEY');
      if (outcome === 'ignored') logger.warn('ROSTER_API_KEY ignored: API keys already exist; manage keys through /v1/api-keys');
    }

    const server = await createServer({ bodyLimitBytes: config.bodyLimitBytes, logger, metrics, version: VERSION });
    registerSystemRoutes(server, { database, metrics });

    // Everything under /v1 needs an API key. The hook lives in this encapsulated scope only, so the system
    // routes above stay public.
    server.register(async (scope) => {
      const api = scope.withTypeProvider<ZodTypeProvider>() as FastifyZodInstance;
      api.addHook('onRequest', createAuthenticator(apiKeys, clock));

      registerOrganizationRoutes(api, { organizations, clock });
      registerConnectionRoutes(api, { connections, organizations, clock });
      registerApiKeyRoutes(api, { apiKeys, organizations, clock });
      registerAuditLogRoutes(api, { audit, organizations });

      // ── Reconciliation services ─────────────────────────────────────────────────────────────────────
      // Construct the ingest/reconcile services here from `database`, `metrics` and `clock`, and register
      // their route modules (ingest, directory, conflicts, sync-runs, events) on `api`, e.g.
      //   const reconciler = new Reconciler(database, { metrics, clock });
      //   registerIngestRoutes(api, { reconciler, connections, clock });
      // Route modules use `request.principal` with the helpers in src/http/auth.ts for tenant isolation.
      // ─────────────────────────────────────────────────────────────────────────────────────────────────
    });

    await server.ready();

    let stopped: Promise<void> | undefined;
    return {
      config,
      database,
      server,
      metrics,
      logger,
      start: () => server.listen({ port: config.port, host: config.host }),
      stop: () =>
        (stopped ??= (async () => {
          await server.close();
          if (ownsDatabase) await database.close();
        })()),
    };
  } catch (error) {
    if (ownsDatabase) await database.close().catch(() => undefined);
    throw error;
  }
}
