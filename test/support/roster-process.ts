/**
 * A whole Roster (API and background work) in a process of its own, on storage a test made, so the test
 * can SIGKILL it mid-run and see another process take over.
 *
 *   node --import tsx test/support/roster-process.ts <sqlite|postgres> <file|schema>
 *
 * The configuration comes as JSON in ROSTER_TEST_PROCESS_CONFIG (secretKey as base64). Prints
 * `listening <url>` once it serves.
 */
import { pino } from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { createRoster } from '../../src/app.ts';
import type { Config } from '../../src/config.ts';
import { openPostgres, openSqlite } from '../../src/store/database.ts';
import { TEST_DATABASE_URL, testConfig } from './roster.ts';

const [engine, location] = process.argv.slice(2);
if ((engine !== 'sqlite' && engine !== 'postgres') || !location) throw new Error('usage: roster-process.ts <sqlite|postgres> <file|schema>');
const overrides = JSON.parse(process.env.ROSTER_TEST_PROCESS_CONFIG ?? '{}') as Partial<Config> & { secretKey: string };
const database = engine === 'sqlite' ? openSqlite(location) : openPostgres({ url: TEST_DATABASE_URL, schema: location, poolSize: 4 });
const config: Config = testConfig({ ...overrides, secretKey: Buffer.from(overrides.secretKey, 'base64') });
const roster = await createRoster(config, { database, logger: pino({ level: process.env.ROSTER_TEST_LOG_LEVEL ?? 'silent' }) as FastifyBaseLogger, processMetrics: false });
const url = await roster.start();
process.stdout.write(`listening ${url}\n`);
