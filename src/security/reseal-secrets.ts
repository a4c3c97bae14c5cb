import { sql } from 'kysely';
import type { Database } from '../store/database.ts';
import type { Schema } from '../store/schema.ts';
import type { SecretBox } from './secret-box.ts';

/** A column holding values sealed by the secret box, named against the schema so a rename fails to compile. */
type SealedColumn = {
  [T in keyof Schema]: {
    table: T;
    key: keyof Schema[T] & string;
    column: keyof Schema[T] & string;
    /** Set to the time of the re-seal: it records when the sealed value was last written. */
    writtenAt?: keyof Schema[T] & string;
  };
}[keyof Schema];

/**
 * Every sealed value Roster stores. A new sealed column is added here, or it keeps its old key forever and
 * is lost once that key is dropped. `webhook_endpoints.updated_at` is not touched: it is the endpoint's
 * time of change in the API, and re-encryption changes nothing a client sees.
 */
export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { table: 'webhook_endpoints', key: 'id', column: 'secret' },
  { table: 'webhook_endpoints', key: 'id', column: 'previous_secret' },
  { table: 'connection_secrets', key: 'connection_id', column: 'sealed', writtenAt: 'updated_at' },
  { table: 'oauth_states', key: 'state_hash', column: 'sealed' },
];

export interface ResealedColumn {
  table: string;
  column: string;
  /** Already under the current key (or gone, deleted by someone else before we could write). */
  current: number;
  resealed: number;
  /** Rewritten by someone else every time we tried (a busy row): left to them, and to the next pass. */
  changed: number;
  /** Opened by no configured key; left as they are. */
  unreadable: number;
  /** The rows' keys (not the values), at most MAX_REPORTED_KEYS. */
  unreadableKeys: string[];
}

export interface ResealReport {
  columns: ResealedColumn[];
  resealed: number;
  unreadable: number;
}

export interface ResealOptions {
  /** Rows read per query. */
  batchSize?: number;
}

const DEFAULT_BATCH_SIZE = 500;
const MAX_REPORTED_KEYS = 100;

/**
 * Re-seals under the current key every stored value sealed under a previous one, so the previous key can
 * be dropped. Safe to run from any number of processes at once, and next to live writers: a row is only
 * updated if its sealed value is still the one read. A value no key opens is counted and reported, never
 * overwritten: with the right key back in ROSTER_SECRET_KEY_PREVIOUS, a later pass recovers it.
 */
export async function resealStoredSecrets(database: Database, box: SecretBox, clock: () => Date, options: ResealOptions = {}): Promise<ResealReport> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const columns: ResealedColumn[] = [];
  for (const spec of SEALED_COLUMNS) columns.push(await resealColumn(database, box, clock, spec, batchSize));
  return {
    columns,
    resealed: columns.reduce((sum, c) => sum + c.resealed, 0),
    unreadable: columns.reduce((sum, c) => sum + c.unreadable, 0),
  };
}

async function resealColumn(database: Database, box: SecretBox, clock: () => Date, spec: SealedColumn, batchSize: number): Promise<ResealedColumn> {
  const result: ResealedColumn = { table: spec.table, column: spec.column, current: 0, resealed: 0, changed: 0, unreadable: 0, unreadableKeys: [] };
  const key = sql.ref(spec.key);
  const column = sql.ref(spec.column);
  let after: string | undefined;
  for (;;) {
    // Keyset pages: re-sealing changes the sealed column only, so the order by key stays put.
    const page = await sql<{ row_key: string; sealed_value: string }>`
      select ${key} as row_key, ${column} as sealed_value from ${sql.table(spec.table)}
      where ${column} is not null ${after === undefined ? sql`` : sql`and ${key} > ${after}`}
      order by ${key} limit ${batchSize}`.execute(database.db);
    for (const row of page.rows) {
      const outcome = await resealRow(database, box, clock, spec, row.row_key, row.sealed_value);
      result[outcome]++;
      if (outcome === 'unreadable' && result.unreadableKeys.length < MAX_REPORTED_KEYS) result.unreadableKeys.push(row.row_key);
    }
    if (page.rows.length < batchSize) return result;
    after = page.rows.at(-1)!.row_key;
  }
}

const ATTEMPTS_PER_ROW = 3;

/**
 * One row, updated only if its sealed value is still the one read. When another writer got there first its
 * value is read again and judged in turn, so the report says what is stored now, not what was read.
 */
async function resealRow(
  database: Database,
  box: SecretBox,
  clock: () => Date,
  spec: SealedColumn,
  rowKey: string,
  read: string,
): Promise<'current' | 'resealed' | 'changed' | 'unreadable'> {
  const table = sql.table(spec.table);
  const key = sql.ref(spec.key);
  const column = sql.ref(spec.column);
  let sealed: string | null | undefined = read;
  for (let attempt = 0; attempt < ATTEMPTS_PER_ROW; attempt++) {
    if (box.isCurrent(sealed)) return 'current';
    let plaintext: string;
    try {
      plaintext = box.open(sealed);
    } catch {
      return 'unreadable';
    }
    const set = spec.writtenAt === undefined
      ? sql`${column} = ${box.seal(plaintext)}`
      : sql`${column} = ${box.seal(plaintext)}, ${sql.ref(spec.writtenAt)} = ${clock().toISOString()}`;
    const updated = await sql`update ${table} set ${set} where ${key} = ${rowKey} and ${column} = ${sealed}`.execute(database.db);
    if (Number(updated.numAffectedRows ?? 0) > 0) return 'resealed';
    const again = await sql<{ sealed_value: string | null }>`select ${column} as sealed_value from ${table} where ${key} = ${rowKey}`.execute(database.db);
    sealed = again.rows[0]?.sealed_value;
    // Deleted or cleared meanwhile (an expired previous secret, a removed connection): nothing left to move.
    if (sealed === null || sealed === undefined) return 'current';
  }
  return 'changed';
}

/** The part of a pino logger the start-up pass writes to. */
export interface ResealLogger {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

/**
 * The start-up pass: logs what it did (counts and row keys, never a value) and never stops start-up — every
 * value it could not move still opens with the key that sealed it, if that key is configured.
 */
export async function resealAtStartup(database: Database, box: SecretBox, clock: () => Date, logger: ResealLogger): Promise<ResealReport | undefined> {
  let report: ResealReport;
  try {
    report = await resealStoredSecrets(database, box, clock);
  } catch (error) {
    logger.error({ err: error }, 're-sealing stored secrets failed; the next start retries (or run `roster secrets reseal`)');
    return undefined;
  }
  const counts = Object.fromEntries(report.columns.map((c) => [`${c.table}.${c.column}`, { current: c.current, resealed: c.resealed, changed: c.changed, unreadable: c.unreadable }]));
  for (const c of report.columns.filter((c) => c.unreadable > 0)) {
    logger.error(
      { table: c.table, column: c.column, unreadable: c.unreadable, keys: c.unreadableKeys },
      'stored secrets that no configured key opens were left as they are: put the key that sealed them in ROSTER_SECRET_KEY_PREVIOUS',
    );
  }
  const changed = report.columns.reduce((sum, c) => sum + c.changed, 0);
  if (report.unreadable === 0 && changed === 0) {
    logger.info({ resealed: report.resealed, columns: counts }, 'every stored secret is sealed under the current key (ROSTER_SECRET_KEY); previous keys are no longer needed');
  } else {
    logger.info({ resealed: report.resealed, unreadable: report.unreadable, changed, columns: counts }, 're-sealed stored secrets under the current key, except some: previous keys are still needed');
  }
  return report;
}
