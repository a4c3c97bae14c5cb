import { z } from 'zod';

/**
 * Process configuration, read once from the environment at start-up. A bad value stops the process with a
 * message naming the variable, what it must be and what it got — never a silent fallback to a default.
 */
export interface Config {
  port: number;
  host: string;
  /**
   * Where clients reach this Roster; SCIM base URLs and resource locations are built on it. Unset:
   * `http://localhost:<port it listens on>`.
   */
  publicUrl: string | undefined;
  dataDir: string;
  /** PostgreSQL when set; the embedded SQLite file under `dataDir` otherwise. */
  databaseUrl: string | undefined;
  /** Bootstrap admin key, created only when no API key exists yet. */
  apiKey: string | undefined;
  logLevel: LogLevel;
  bodyLimitBytes: number;
  /** Events older than this many days are purged; null keeps them forever. */
  eventRetentionDays: number | null;
  /** Key of the secret box that encrypts stored secrets; generated into `<dataDir>/secret-key` when unset. */
  secretKey: Buffer | undefined;
  /** Keys rotated out: still open stored secrets until start-up (or `roster secrets reseal`) re-seals them under `secretKey`. */
  previousSecretKeys: Buffer[];
  webhooks: WebhookConfig;
  sync: SyncConfig;
}

export interface SyncConfig {
  /** Whether this process runs background work (sync runs, schedules, push fetches); `roster worker` always does. */
  worker: boolean;
  /** Hostnames and CIDRs that providers' URLs (a connection's API root, token endpoint) may reach although private. */
  providerAllowedHosts: string[];
  /** How often due schedules and abandoned runs are looked for. */
  tickMs: number;
  /** How long a worker's claim on a run holds without a heartbeat before another worker takes it over. */
  leaseMs: number;
  /** Sync runs one process executes at once. */
  concurrency: number;
  /** Records a pull gathers before applying them with its checkpoint (what a crash redoes at most). */
  applyBatch: number;
  /** Retry and timeout settings of provider calls; the defaults suit real providers. */
  providerHttp?: {
    errorBackoff?: { baseMs: number; capMs: number };
    throttleBackoff?: { baseMs: number; capMs: number };
    attemptTimeoutMs?: number;
    maxErrorAttempts?: number;
  };
}

export const DEFAULT_SYNC_CONFIG: SyncConfig = {
  worker: true,
  providerAllowedHosts: [],
  tickMs: 5_000,
  leaseMs: 60_000,
  concurrency: 4,
  applyBatch: 5_000,
};

export interface WebhookConfig {
  /** Hostnames and CIDRs that endpoint URLs may reach even though they are private, loopback or link-local. */
  allowedHosts: string[];
  /** Per request, connection to last response byte. */
  timeoutMs: number;
  /** Exponential backoff with full jitter: attempt n waits a random time in [0, min(cap, base·2^(n-1))]. */
  retryBaseMs: number;
  retryCapMs: number;
  /** A delivery still failing this long after it was enqueued is marked failed and the next one proceeds. */
  retryForMs: number;
  /** An endpoint failing every attempt for this long, and at least `disableAfterAttempts` times, is disabled. */
  disableAfterMs: number;
  disableAfterAttempts: number;
  /** Requests in flight at once, in total and to one endpoint. */
  concurrency: number;
  perEndpointConcurrency: number;
  /** How often an idle worker looks for new events and due retries. */
  pollIntervalMs: number;
}

const HOUR_MS = 60 * 60 * 1000;

export const DEFAULT_WEBHOOK_CONFIG: WebhookConfig = {
  allowedHosts: [],
  timeoutMs: 10_000,
  retryBaseMs: 5_000,
  retryCapMs: HOUR_MS,
  retryForMs: 72 * HOUR_MS,
  disableAfterMs: 24 * HOUR_MS,
  disableAfterAttempts: 10,
  concurrency: 128,
  perEndpointConcurrency: 32,
  pollIntervalMs: 100,
};

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const MIB = 1024 * 1024;

// Empty strings count as unset: `FOO= roster start` is how people clear a variable in a shell.
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const secretKey = z
  .string()
  .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64 (generate one with `openssl rand -base64 32`)')
  .transform((value) => Buffer.from(value, 'base64'))
  .refine((key) => key.length === 32, 'must decode to exactly 32 bytes');

const envSchema = z.object({
  PORT: optional(integer(0, 65_535)).default(8080),
  HOST: optional(z.string().min(1)).default('0.0.0.0'),
  ROSTER_PUBLIC_URL: optional(
    z
      .string()
      .regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, 'must be an http:// or https:// URL without query or fragment')
      .transform((url) => url.replace(/\/+$/, '')),
  ),
  ROSTER_DATA_DIR: optional(z.string().min(1)).default('./data'),
  ROSTER_DATABASE_URL: optional(
    z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL'),
  ),
  ROSTER_API_KEY: optional(
    z
      .string()
      .min(32, 'must be at least 32 characters (generate one with `openssl rand -base64 32`)')
      .max(512, 'must be at most 512 characters')
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  ),
  ROSTER_LOG_LEVEL: optional(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })).default('info'),
  ROSTER_BODY_LIMIT_BYTES: optional(integer(1024, 1024 * MIB)).default(10 * MIB),
  ROSTER_EVENT_RETENTION_DAYS: optional(
    z.union([z.literal('unlimited'), integer(1, 36_500)], { error: "must be a number of days (1 or more) or 'unlimited'" }),
  ).default(90),
  ROSTER_SECRET_KEY: optional(secretKey),
  ROSTER_SECRET_KEY_PREVIOUS: optional(z.string())
    .transform((value) => (value ?? '').split(',').map((key) => key.trim()).filter((key) => key !== ''))
    .pipe(z.array(secretKey)),
  ROSTER_WORKER: optional(z.enum(['on', 'off'], { error: "must be 'on' or 'off'" })).default('on'),
  ROSTER_PROVIDER_ALLOWED_HOSTS: optional(z.string())
    .transform((value) => (value ?? '').split(',').map((host) => host.trim()).filter((host) => host !== '')),
  ROSTER_SYNC_TICK_MS: optional(integer(50, 600_000)).default(DEFAULT_SYNC_CONFIG.tickMs),
  ROSTER_SYNC_LEASE_MS: optional(integer(1_000, 3_600_000)).default(DEFAULT_SYNC_CONFIG.leaseMs),
  ROSTER_SYNC_CONCURRENCY: optional(integer(1, 64)).default(DEFAULT_SYNC_CONFIG.concurrency),
  ROSTER_SYNC_BATCH_RECORDS: optional(integer(1, 5_000)).default(DEFAULT_SYNC_CONFIG.applyBatch),
  ROSTER_WEBHOOK_ALLOWED_HOSTS: optional(z.string())
    .transform((value) => (value ?? '').split(',').map((host) => host.trim()).filter((host) => host !== '')),
  ROSTER_WEBHOOK_TIMEOUT_MS: optional(integer(100, 120_000)).default(DEFAULT_WEBHOOK_CONFIG.timeoutMs),
  ROSTER_WEBHOOK_RETRY_BASE_MS: optional(integer(1, HOUR_MS)).default(DEFAULT_WEBHOOK_CONFIG.retryBaseMs),
  ROSTER_WEBHOOK_RETRY_CAP_MS: optional(integer(1, 24 * HOUR_MS)).default(DEFAULT_WEBHOOK_CONFIG.retryCapMs),
  ROSTER_WEBHOOK_RETRY_FOR_MS: optional(integer(1, 30 * 24 * HOUR_MS)).default(DEFAULT_WEBHOOK_CONFIG.retryForMs),
  ROSTER_WEBHOOK_DISABLE_AFTER_MS: optional(integer(1, 365 * 24 * HOUR_MS)).default(DEFAULT_WEBHOOK_CONFIG.disableAfterMs),
  ROSTER_WEBHOOK_DISABLE_AFTER_ATTEMPTS: optional(integer(1, 1_000_000)).default(DEFAULT_WEBHOOK_CONFIG.disableAfterAttempts),
  ROSTER_WEBHOOK_CONCURRENCY: optional(integer(1, 1024)).default(DEFAULT_WEBHOOK_CONFIG.concurrency),
  ROSTER_WEBHOOK_ENDPOINT_CONCURRENCY: optional(integer(1, 1024)).default(DEFAULT_WEBHOOK_CONFIG.perEndpointConcurrency),
  ROSTER_WEBHOOK_POLL_MS: optional(integer(5, 10_000)).default(DEFAULT_WEBHOOK_CONFIG.pollIntervalMs),
});

/** Raised for any bad configuration value; the message lists every problem, one per line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const SECRET_VARIABLES = new Set(['ROSTER_API_KEY', 'ROSTER_DATABASE_URL', 'ROSTER_SECRET_KEY', 'ROSTER_SECRET_KEY_PREVIOUS']);

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(environment)');
      // In a comma-separated list, which item: its position, since a secret's value is never shown.
      const item = typeof issue.path[1] === 'number' ? ` (item ${issue.path[1] + 1} of the list)` : '';
      // Never echo the key back: the message may end up in a log.
      const got = SECRET_VARIABLES.has(variable) ? '' : ` (got '${env[variable]}')`;
      return `  ${variable}: ${issue.message}${item}${got}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.ROSTER_PUBLIC_URL,
    dataDir: e.ROSTER_DATA_DIR,
    databaseUrl: e.ROSTER_DATABASE_URL,
    apiKey: e.ROSTER_API_KEY,
    logLevel: e.ROSTER_LOG_LEVEL,
    bodyLimitBytes: e.ROSTER_BODY_LIMIT_BYTES,
    eventRetentionDays: e.ROSTER_EVENT_RETENTION_DAYS === 'unlimited' ? null : e.ROSTER_EVENT_RETENTION_DAYS,
    secretKey: e.ROSTER_SECRET_KEY,
    previousSecretKeys: e.ROSTER_SECRET_KEY_PREVIOUS,
    webhooks: {
      allowedHosts: e.ROSTER_WEBHOOK_ALLOWED_HOSTS,
      timeoutMs: e.ROSTER_WEBHOOK_TIMEOUT_MS,
      retryBaseMs: e.ROSTER_WEBHOOK_RETRY_BASE_MS,
      retryCapMs: e.ROSTER_WEBHOOK_RETRY_CAP_MS,
      retryForMs: e.ROSTER_WEBHOOK_RETRY_FOR_MS,
      disableAfterMs: e.ROSTER_WEBHOOK_DISABLE_AFTER_MS,
      disableAfterAttempts: e.ROSTER_WEBHOOK_DISABLE_AFTER_ATTEMPTS,
      concurrency: e.ROSTER_WEBHOOK_CONCURRENCY,
      perEndpointConcurrency: e.ROSTER_WEBHOOK_ENDPOINT_CONCURRENCY,
      pollIntervalMs: e.ROSTER_WEBHOOK_POLL_MS,
    },
    sync: {
      worker: e.ROSTER_WORKER === 'on',
      providerAllowedHosts: e.ROSTER_PROVIDER_ALLOWED_HOSTS,
      tickMs: e.ROSTER_SYNC_TICK_MS,
      leaseMs: e.ROSTER_SYNC_LEASE_MS,
      concurrency: e.ROSTER_SYNC_CONCURRENCY,
      applyBatch: e.ROSTER_SYNC_BATCH_RECORDS,
    },
  };
}
