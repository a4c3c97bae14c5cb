import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { pino } from 'pino';
import { ROSTER_VERSION } from './core/version.ts';
import type { Config } from './config.ts';
import { createAuthenticator } from './http/auth.ts';
import { createMetrics, reconcileMetrics, recordEventsWritten, type Metrics } from './http/metrics.ts';
import { registerApiKeyRoutes } from './http/routes/api-keys.routes.ts';
import { registerAuditLogRoutes } from './http/routes/audit-log.routes.ts';
import { registerConnectionRoutes } from './http/routes/connections.routes.ts';
import { registerOrganizationRoutes } from './http/routes/organizations.routes.ts';
import { registerSystemRoutes } from './http/routes/system.routes.ts';
import { registerConflictRoutes } from './http/routes/conflicts.routes.ts';
import { registerDirectoryRoutes } from './http/routes/directory.routes.ts';
import { registerEventRoutes } from './http/routes/events.routes.ts';
import { registerWebhookEndpointRoutes } from './http/routes/webhook-endpoints.routes.ts';
import { DeliveryWorker } from './events/webhooks/delivery-worker.ts';
import { WebhookSender } from './events/webhooks/webhook-sender.ts';
import { resealAtStartup } from './security/reseal-secrets.ts';
import { createAesGcmSecretBox, loadOrCreateSecretKey } from './security/secret-box.ts';
import { UrlGuard } from './security/url-guard.ts';
import { WebhookEndpointsRepo } from './store/webhook-endpoints.repo.ts';
import { registerIngestRoutes } from './http/routes/ingest.routes.ts';
import { registerScimRoutes } from './http/scim/scim.routes.ts';
import { StatementBatcher } from './reconcile/statement-batcher.ts';
import { ScimReads } from './scim/scim-reads.ts';
import { ScimWrites } from './scim/scim-writes.ts';
import { ScimResourcesRepo } from './store/scim-resources.repo.ts';
import { ScimTokensRepo } from './store/scim-tokens.repo.ts';
import { registerSyncRunRoutes } from './http/routes/sync-runs.routes.ts';
import { ConflictResolver } from './reconcile/conflict-resolution.ts';
import { purgeExpiredEvents } from './events/retention.ts';
import { activateDueHires } from './reconcile/due-hires.ts';
import { Reconciler } from './reconcile/reconciler.ts';
import { SnapshotService } from './reconcile/snapshots.ts';
import { ConflictsRepo } from './store/conflicts.repo.ts';
import { DirectoryRepo } from './store/directory.repo.ts';
import { EventsRepo } from './store/events.repo.ts';
import { SyncRunsRepo } from './store/sync-runs.repo.ts';
import { createServer, loggerOptions } from './http/server.ts';
import { registerPullSyncRoutes } from './http/routes/pull-sync.routes.ts';
import { registerPushRoutes } from './http/routes/push.routes.ts';
import { registerGraphPushRoutes } from './http/routes/graph-push.routes.ts';
import { registerOktaPushRoutes } from './http/routes/okta-push.routes.ts';
import { registerOAuthAuthorizeRoute, registerOAuthCallbackRoute } from './http/routes/oauth.routes.ts';
import { OAUTH_CALLBACK_PATH, OAuthConsents } from './sync/oauth-consent.ts';
import { createJobQueue } from './jobs/create-job-queue.ts';
import type { JobQueue } from './jobs/job-queue.ts';
import { ConnectionSecretsRepo } from './store/connection-secrets.repo.ts';
import { PushChannelsRepo } from './store/push-channels.repo.ts';
import { PUSH_EVENT_MEMORY_MS, PushEventsRepo } from './store/push-events.repo.ts';
import { ConnectionRuntimes } from './sync/connection-runtimes.ts';
import { JOBS, PullConnections } from './sync/pull-connections.ts';
import { SyncScheduler } from './sync/scheduler.ts';
import { SYNC_RUN_JOB, SyncRunner } from './sync/sync-runner.ts';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { FastifyZodInstance } from './http/types.ts';
import { ApiKeysRepo, generateApiKey } from './store/api-keys.repo.ts';
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
  /** Runs the periodic housekeeping now (it also runs hourly once started): due hires become active, expired events go. */
  housekeeping(): Promise<void>;
  /** The sync engine: pull runs (sync now), the scheduler's round, the background job queue. */
  readonly sync: { runner: SyncRunner; scheduler: SyncScheduler; pull: PullConnections; jobs: JobQueue };
  /** Starts background work alone, without listening (what `roster worker` runs). */
  startWorker(): Promise<void>;
  /** Starts listening on `config.host:config.port`; resolves to the address, e.g. `http://127.0.0.1:8080`. */
  start(): Promise<string>;
  /** Stops accepting requests, lets in-flight ones finish, closes the database if this instance opened it. */
  stop(): Promise<void>;
}

const HOUSEKEEPING_INTERVAL_MS = 60 * 60 * 1000;

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
    const reconciler = new Reconciler({ database, now: clock, metrics: reconcileMetrics(metrics) });
    const snapshots = new SnapshotService(database, reconciler, clock);

    if (config.apiKey === undefined) {
      await createFirstAdminKeyFile(apiKeys, config.dataDir, clock().toISOString(), logger);
    } else {
      const outcome = await apiKeys.bootstrap(config.apiKey, clock().toISOString());
      if (outcome === 'created') logger.info('created the first admin API key from ROSTER_API_KEY');
      if (outcome === 'ignored') logger.warn('ROSTER_API_KEY ignored: API keys already exist; manage keys through /v1/api-keys');
    }

    const secretBox = createAesGcmSecretBox(
      loadOrCreateSecretKey(config.secretKey, config.dataDir, (file) =>
        logger.warn({ file }, 'created the key that encrypts stored secrets; keep this file (or set ROSTER_SECRET_KEY): without it, webhook secrets cannot be read'),
      ),
      config.previousSecretKeys,
    );
    // Moves values sealed under a rotated-out key to the current one, before anything reads them.
    await resealAtStartup(database, secretBox, clock, logger);
    const urlGuard = new UrlGuard(config.webhooks.allowedHosts);
    const webhookSender = new WebhookSender(urlGuard, config.webhooks.timeoutMs, clock);
    const deliveryWorker = new DeliveryWorker({ database, secretBox, sender: webhookSender, config: config.webhooks, clock, logger });

    const server = await createServer({ bodyLimitBytes: config.bodyLimitBytes, logger, metrics, version: ROSTER_VERSION });
    registerSystemRoutes(server, { database, metrics });

    // Where clients reach this instance: configured, or learnt from the port it listens on once started.
    let publicUrl = config.publicUrl ?? `http://localhost:${config.port}`;

    // The sync engine: pull connections' provider clients, their runs, schedules and push channels.
    const jobs = await createJobQueue(database, { log: logger, pgBoss: { pollingIntervalSeconds: 0.5 }, inProcess: {} });
    const connectionSecrets = new ConnectionSecretsRepo(database.db, secretBox);
    const providerUrlGuard = new UrlGuard(config.sync.providerAllowedHosts, 'ROSTER_PROVIDER_ALLOWED_HOSTS');
    let pull: PullConnections | undefined;
    const runtimes = new ConnectionRuntimes({
      connections,
      secrets: connectionSecrets,
      urlGuard: providerUrlGuard,
      ...(config.sync.providerHttp ? { http: config.sync.providerHttp } : {}),
      onRevoked: (connection, error) => pull!.onRevoked(connection, error),
      clock,
      logger,
      hooks: (connectionType) => ({
        onThrottle: (event) => metrics.providerThrottled.inc({ connection_type: connectionType, source: event.source }),
        onRetry: (event) => {
          if (event.kind === 'error') metrics.providerRetries.inc({ connection_type: connectionType });
        },
      }),
    });
    const runner = new SyncRunner(
      { database, reconciler, snapshots, runtimes, jobs, clock, logger, onRunEnded: (run, outcome) => pull!.onRunEnded(run, outcome) },
      { leaseMs: config.sync.leaseMs, applyBatch: config.sync.applyBatch, workerId: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}` },
    );
    pull = new PullConnections({
      database,
      connections,
      runtimes,
      reconciler,
      jobs,
      runner: () => runner,
      pushAddress: (connectionId, provider) => `${publicUrl}/push/${connectionId}/${provider}`,
      clock,
      logger,
      onRunMeasured: (run) => {
        metrics.syncRuns.inc({ kind: run.kind, status: run.status });
        // A held run has no finish yet; it ended its work when it was held.
        metrics.syncRunDuration.observe({ kind: run.kind }, (Date.parse(run.finished_at ?? run.updated_at) - Date.parse(run.started_at)) / 1000);
      },
    });
    const scheduler = new SyncScheduler({ database, runner, jobs, clock, logger }, { tickMs: config.sync.tickMs, queuedGraceMs: Math.max(30_000, config.sync.tickMs * 6) });
    const pullSetup = {
      secrets: connectionSecrets,
      checkUrl: (url: string) => providerUrlGuard.check(url),
      validateLater: (connectionId: string) => jobs.send(JOBS.validate, { connection_id: connectionId }),
      afterConfigChange: (connectionId: string) => pull!.reconfigure(connectionId),
      // A channel left open would keep notifying a connection that is gone; it also expires by itself.
      beforeDelete: (connectionId: string) =>
        pull!.stopChannels(connectionId).catch((error: unknown) => logger.warn({ connection_id: connectionId, err: error }, 'could not stop the push channels of a deleted connection')),
    };
    const pushChannels = new PushChannelsRepo(database.db);
    const pushEvents = new PushEventsRepo(database.db);
    registerPushRoutes(server, { channels: pushChannels, jobs, logger });
    registerGraphPushRoutes(server, { channels: pushChannels, jobs, runner, runtimes, logger });
    registerOktaPushRoutes(server, { channels: pushChannels, events: pushEvents, clock, jobs, requestDelta: (connectionId) => runner.request(connectionId, 'delta', 'push'), logger });
    // "Connect Google": an admin's consent completes an OAuth client's credentials; the callback is public.
    const consents = new OAuthConsents({
      database,
      connections,
      secrets: connectionSecrets,
      secretBox,
      checkUrl: pullSetup.checkUrl,
      redirectUri: () => `${publicUrl}${OAUTH_CALLBACK_PATH}`,
      validateLater: pullSetup.validateLater,
      ...(config.sync.providerHttp ? { http: config.sync.providerHttp } : {}),
      clock,
      logger,
    });
    registerOAuthCallbackRoute(server, { consents });
    const scimBaseUrl = (connectionId: string) => `${publicUrl}/scim/v2/${connectionId}`;
    const scimTokens = new ScimTokensRepo(database.db);
    const scimResources = new ScimResourcesRepo(database.db);

    // SCIM: each connection's own service provider, authenticated by that connection's token, not an API key.
    registerScimRoutes(server, {
      tokens: scimTokens,
      reads: new ScimReads(scimResources, scimBaseUrl),
      writes: new ScimWrites({ statements: new StatementBatcher(reconciler), resources: scimResources, clock }),
      baseUrl: scimBaseUrl,
      bodyLimitBytes: config.bodyLimitBytes,
    });

    // Everything under /v1 needs an API key. The hook lives in this encapsulated scope only, so the system
    // routes above stay public.
    server.register(async (scope) => {
      const api = scope.withTypeProvider<ZodTypeProvider>() as FastifyZodInstance;
      api.addHook('onRequest', createAuthenticator(apiKeys, clock));

      registerOrganizationRoutes(api, { organizations, clock, rederiveOrganization: (id) => reconciler.rederiveOrganization(id) });
      registerConnectionRoutes(api, {
        connections,
        scimTokens,
        scimBaseUrl,
        organizations,
        clock,
        detachDeletedConnection: (id) => reconciler.detachDeletedConnection(id),
        pull: pullSetup,
      });
      registerPullSyncRoutes(api, { connections, runner, pull: pullSetup, clock });
      registerOAuthAuthorizeRoute(api, { connections, consents });
      registerApiKeyRoutes(api, { apiKeys, organizations, clock });
      registerAuditLogRoutes(api, { audit, organizations });

      // Reconciliation: the one write path to canonical state, and the reads of what it built.
      registerIngestRoutes(api, { connections, reconciler, snapshots });
      registerDirectoryRoutes(api, { directory: new DirectoryRepo(database.db) });
      registerConflictRoutes(api, { conflicts: new ConflictsRepo(database.db), resolver: new ConflictResolver(database, reconciler) });
      registerSyncRunRoutes(api, { syncRuns: new SyncRunsRepo(database.db), snapshots });
      registerWebhookEndpointRoutes(api, {
        endpoints: new WebhookEndpointsRepo(database.db),
        organizations,
        db: database.db,
        secretBox,
        urlGuard,
        sender: webhookSender,
        clock,
        nudge: () => deliveryWorker.nudge(),
      });
      registerEventRoutes(api, {
        events: new EventsRepo(database.db),
        database,
        organizationExists: (id) => organizations.exists(id),
      });
    });

    await server.ready();

    const housekeeping = async () => {
      try {
        const activated = await activateDueHires(database, reconciler, clock());
        if (activated > 0) logger.info({ activated }, 'pending hires reached their start date');
        const purged = await purgeExpiredEvents(database, config.eventRetentionDays, clock());
        if (purged > 0) logger.info({ purged, retention_days: config.eventRetentionDays }, 'purged expired events');
        await pushEvents.prune(new Date(clock().getTime() - PUSH_EVENT_MEMORY_MS));
      } catch (error) {
        // A background loop logs and goes on; the next round retries.
        logger.error({ err: error }, 'housekeeping failed');
      }
    };
    let timer: NodeJS.Timeout | undefined;
    let stopped: Promise<void> | undefined;
    let working = false;
    const startWorker = async () => {
      if (working) return;
      working = true;
      await jobs.work(SYNC_RUN_JOB, (job) => runner.execute(String(job.run_id)), { concurrency: config.sync.concurrency });
      await jobs.work(JOBS.validate, (job) => pull!.validate(String(job.connection_id)), { concurrency: 2 });
      await jobs.work(JOBS.renewChannels, (job) => pull!.renewChannels(String(job.connection_id), { force: job.force === true }), { concurrency: 2 });
      await jobs.work(JOBS.fetchObject, (job) => pull!.fetchObject(String(job.connection_id), job.kind === 'group' ? 'group' : 'user', String(job.external_id)), {
        concurrency: 4,
      });
      scheduler.start();
      // Runs a dead process left behind are picked up at once, not a tick later.
      void scheduler.tick();
    };
    return {
      config,
      database,
      server,
      metrics,
      logger,
      housekeeping,
      sync: { runner, scheduler, pull, jobs },
      startWorker,
      start: async () => {
        const address = await server.listen({ port: config.port, host: config.host });
        if (config.publicUrl === undefined) publicUrl = `http://localhost:${new URL(address).port}`;
        timer = setInterval(housekeeping, HOUSEKEEPING_INTERVAL_MS).unref();
        void housekeeping();
        deliveryWorker.start();
        if (config.sync.worker) await startWorker();
        return address;
      },
      stop: () =>
        (stopped ??= (async () => {
          clearInterval(timer);
          await scheduler.stop();
          await jobs.stop();
          await deliveryWorker.stop();
          webhookSender.close();
          await server.close();
          await reconciler.idle();
          if (ownsDatabase) await database.close();
        })()),
    };
  } catch (error) {
    if (ownsDatabase) await database.close().catch(() => undefined);
    throw error;
  }
}

/**
 * A fresh instance started without ROSTER_API_KEY would have no way in. It creates the first admin key
 * itself and hands it over in a file only this user can read — never in the log.
 */
async function createFirstAdminKeyFile(apiKeys: ApiKeysRepo, dataDir: string, now: string, logger: FastifyBaseLogger): Promise<void> {
  if (await apiKeys.anyExist()) return;
  const key = generateApiKey();
  if ((await apiKeys.bootstrap(key, now)) !== 'created') return;
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'first-admin-key');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  logger.warn({ file }, 'created the first admin API key; it is in this file, readable only by this user: store it elsewhere and delete the file');
}
