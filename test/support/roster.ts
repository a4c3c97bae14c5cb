import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { createRoster, type Roster } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { openPostgres, openSqlite, quoteIdentifier, type Database } from '../../src/store/database.ts';

export type Engine = 'sqlite' | 'postgres';

export const TEST_DATABASE_URL = process.env.ROSTER_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Engines to run suites on: both by default; `ROSTER_TEST_ENGINES=sqlite` narrows (e.g. without PostgreSQL). */
export const ENGINES: Engine[] = (process.env.ROSTER_TEST_ENGINES ?? 'sqlite,postgres')
  .split(',')
  .map((engine) => engine.trim())
  .filter((engine): engine is Engine => engine === 'sqlite' || engine === 'postgres');

export interface TestResponse<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

export interface RequestOptions {
  /** API key to send; defaults to the admin key; null sends no Authorization header. */
  key?: string | null;
  headers?: Record<string, string>;
  /** Send this text as the body verbatim (with `contentType`, default application/json). */
  raw?: string;
  contentType?: string;
}

export interface TestRoster {
  engine: Engine;
  baseUrl: string;
  adminKey: string;
  roster: Roster;
  database: Database;
  request<T = any>(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<TestResponse<T>>;
  close(): Promise<void>;
}

export interface TestRosterOptions {
  /** Overrides of the configuration (apiKey defaults to a fresh admin key). */
  config?: Partial<Config>;
  clock?: () => Date;
  logger?: FastifyBaseLogger;
  /** Reuse this storage (e.g. to restart on the same database); otherwise a fresh one is made and dropped. */
  storage?: TestStorage;
}

/** An isolated database: a temp directory for SQLite, a schema of its own for PostgreSQL. */
export interface TestStorage {
  engine: Engine;
  /** The SQLite file, or the PostgreSQL schema (for a child process opening the same storage). */
  location?: string;
  open(): Database;
  destroy(): Promise<void>;
}

export async function createTestStorage(engine: Engine): Promise<TestStorage> {
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'roster-test-'));
    return {
      engine,
      location: join(dir, 'roster.db'),
      open: () => openSqlite(join(dir, 'roster.db')),
      destroy: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = `roster_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create schema ${quoteIdentifier(schema)}`);
  return {
    engine,
    location: schema,
    open: () => openPostgres({ url: TEST_DATABASE_URL, schema, poolSize: 4 }),
    // The job queue keeps its tables in a schema of its own beside the test's (see jobSchemaOf).
    destroy: () => adminQuery(`drop schema if exists ${quoteIdentifier(schema)} cascade; drop schema if exists ${quoteIdentifier(`${schema}_jobs`)} cascade`),
  };
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL tests need a database at ${TEST_DATABASE_URL} (set ROSTER_TEST_DATABASE_URL, or ROSTER_TEST_ENGINES=sqlite to skip)`,
      { cause: error },
    );
  }
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export function newAdminKey(): string {
  return `rk_${randomBytes(32).toString('base64url')}`;
}

/** The configuration of a test Roster: a random port on loopback, no data directory, quiet. */
export function testConfig(overrides: Partial<Config>): Config {
  return { ...loadConfig({}), port: 0, host: '127.0.0.1', dataDir: '/nonexistent', logLevel: 'silent', bodyLimitBytes: 1024 * 1024, ...overrides };
}

/** Starts a real Roster listening on 127.0.0.1 (random port) over isolated storage. */
export async function startTestRoster(engine: Engine, options: TestRosterOptions = {}): Promise<TestRoster> {
  const storage = options.storage ?? (await createTestStorage(engine));
  const ownsStorage = options.storage === undefined;
  const database = storage.open();
  const adminKey = options.config?.apiKey ?? newAdminKey();
  const config: Config = { ...testConfig({ secretKey: randomBytes(32), ...options.config }), apiKey: adminKey };
  let roster: Roster;
  try {
    roster = await createRoster(config, {
      database,
      logger: options.logger ?? (pino({ level: process.env.ROSTER_TEST_LOG_LEVEL ?? 'silent' }) as FastifyBaseLogger),
      processMetrics: false,
      ...(options.clock ? { clock: options.clock } : {}),
    });
  } catch (error) {
    await database.close();
    if (ownsStorage) await storage.destroy();
    throw error;
  }
  const baseUrl = await roster.start();

  async function request<T>(method: string, path: string, body?: unknown, requestOptions: RequestOptions = {}): Promise<TestResponse<T>> {
    const headers: Record<string, string> = { ...requestOptions.headers };
    const key = requestOptions.key === undefined ? adminKey : requestOptions.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let payload: string | undefined;
    if (requestOptions.raw !== undefined) payload = requestOptions.raw;
    else if (body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined) headers['content-type'] = requestOptions.contentType ?? 'application/json';
    const response = await fetch(`${baseUrl}${path}`, { method, headers, body: payload });
    const text = await response.text();
    let parsed: unknown = text;
    if (response.headers.get('content-type')?.includes('application/json') && text !== '') parsed = JSON.parse(text);
    return { status: response.status, body: parsed as T, text, headers: response.headers };
  }

  let closed = false;
  return {
    engine,
    baseUrl,
    adminKey,
    roster,
    database,
    request,
    async close() {
      if (closed) return;
      closed = true;
      await roster.stop();
      await database.close();
      if (ownsStorage) await storage.destroy();
    },
  };
}

/** Registers `fn` as a suite once per engine: `describe('<name> [sqlite]')`, `describe('<name> [postgres]')`. */
export function forEachEngine(name: string, fn: (engine: Engine) => void): void {
  for (const engine of ENGINES) describe(`${name} [${engine}]`, () => fn(engine));
}

/**
 * Inside a suite: starts one Roster before its tests and closes it after them. Returns an accessor, since
 * the instance exists only once `before` has run.
 */
export function useTestRoster(engine: Engine, options: TestRosterOptions = {}): () => TestRoster {
  let instance: TestRoster | undefined;
  before(async () => {
    instance = await startTestRoster(engine, options);
  });
  after(async () => {
    await instance?.close();
  });
  return () => {
    if (!instance) throw new Error('The test Roster is not started yet (use it inside a test, not at suite level).');
    return instance;
  };
}
