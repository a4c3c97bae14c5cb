/**
 * Law 3 (atomic with its events) under a real crash: a process applying a long series of pages is
 * SIGKILLed part-way through, on SQLite and on PostgreSQL. What it committed must satisfy the outbox
 * invariants, and resuming the same series must end in exactly the state of an uninterrupted run.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createStore, createTenant, type StoreLocation } from '../bench/bench-store.ts';
import { SyntheticDirectory } from '../bench/synthetic-directory.ts';
import type { Database } from '../src/store/database.ts';
import { assertOutboxInvariants, directorySnapshot, type StoreCounts } from './support/directory-invariants.ts';
import { ENGINES, TEST_DATABASE_URL } from './support/roster.ts';

const USERS = 20_000;
const MEMBERSHIPS = 40_000;
const PAGE_SIZE = 2_000;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WORKER = join(ROOT, 'test', 'support', 'crash-worker.ts');

const directory = new SyntheticDirectory({ users: USERS, memberships: MEMBERSHIPS });
/** Workers still running, killed if a test fails before waiting for them. */
const running = new Set<ChildProcess>();

interface WorkerRun {
  /** Resolves when the worker exits, with how it ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; done: boolean; stderr: string }>;
  kill(): void;
}

function startWorker(store: StoreLocation, connectionId: string): WorkerRun {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      WORKER,
      '--engine',
      store.engine,
      '--location',
      store.where,
      '--connection',
      connectionId,
      '--users',
      String(USERS),
      '--memberships',
      String(MEMBERSHIPS),
      '--page-size',
      String(PAGE_SIZE),
      '--postgres-url',
      TEST_DATABASE_URL,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<Awaited<WorkerRun['exited']>>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      running.delete(child);
      resolve({
        code,
        signal,
        done: stdout.includes('\ndone\n'),
        stderr,
      });
    });
  });
  return { exited, kill: () => child.kill('SIGKILL') };
}

async function runToCompletion(store: StoreLocation, connectionId: string): Promise<void> {
  const result = await startWorker(store, connectionId).exited;
  assert.equal(result.code, 0, `worker failed: ${result.stderr}`);
  assert.ok(result.done);
}

async function countOf(database: Database, table: 'users' | 'memberships'): Promise<number> {
  const row = await database.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

async function eventCount(database: Database, type: string): Promise<number> {
  const row = await database.db
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('type', '=', type)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Starts the series and SIGKILLs the worker as soon as `ready` holds (polled in the database), while
 * later pages are still to come.
 */
async function crashWhen(store: StoreLocation, connectionId: string, database: Database, ready: () => Promise<boolean>) {
  const run = startWorker(store, connectionId);
  let finished = false;
  void run.exited.then(() => (finished = true));
  while (!finished && !(await ready())) await new Promise((resolve) => setTimeout(resolve, 10));
  run.kill();
  const result = await run.exited;
  assert.equal(result.signal, 'SIGKILL', `the worker ended before it could be killed (code ${result.code}): ${result.stderr}`);
  assert.equal(result.done, false);
}

/** Each page is all-or-nothing, so what a killed series left behind is a whole number of pages. */
function assertWholePages(count: number, what: string): void {
  assert.equal(count % PAGE_SIZE, 0, `${count} ${what} is not a whole number of pages of ${PAGE_SIZE}`);
}

for (const engine of ENGINES) {
  describe(`crash safety on ${engine}`, () => {
    const stores: StoreLocation[] = [];
    const open: Database[] = [];
    after(async () => {
      for (const child of running) child.kill('SIGKILL');
      while (running.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      for (const database of open) await database.close();
      for (const store of stores) await store.destroy();
    });

    test('a series killed mid-way keeps the outbox laws and resumes to the state of a clean run', { timeout: 120_000 }, async () => {
      const clean = await createStore(engine, 'crash_clean', TEST_DATABASE_URL);
      const crashed = await createStore(engine, 'crash_killed', TEST_DATABASE_URL);
      stores.push(clean, crashed);
      const cleanDb = clean.open();
      const db = crashed.open();
      open.push(cleanDb, db);
      const { connectionId } = await createTenant(cleanDb);
      await createTenant(db);

      // The uninterrupted reference runs alongside the crashes.
      const cleanRun = runToCompletion(clean, connectionId);
      cleanRun.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled

      // First crash: among the user pages, after at least two committed.
      await crashWhen(crashed, connectionId, db, async () => (await eventCount(db, 'user.created')) >= 2 * PAGE_SIZE);
      const afterFirst = await assertOutboxInvariants(db);
      assert.ok(afterFirst.users >= 2 * PAGE_SIZE && afterFirst.users < USERS, `users after first crash: ${afterFirst.users}`);
      assertWholePages(afterFirst.users, 'users');
      assert.equal(afterFirst.memberships, 0);

      // Second crash: the resumed series re-applies the committed pages and dies among the membership pages.
      await crashWhen(crashed, connectionId, db, async () => (await eventCount(db, 'group.member_added')) > 0);
      const afterSecond = await assertOutboxInvariants(db);
      assert.equal(afterSecond.users, USERS);
      assert.equal(afterSecond.eventsByType['user.created'], USERS);
      assert.ok(
        afterSecond.memberships > 0 && afterSecond.memberships < directory.membershipCount,
        `memberships after second crash: ${afterSecond.memberships}`,
      );
      assertWholePages(afterSecond.memberships, 'memberships');

      // Resume to the end in a new process.
      await runToCompletion(crashed, connectionId);
      await cleanRun;
      const resumed = await assertOutboxInvariants(db);
      const reference = await assertOutboxInvariants(cleanDb);
      const expected: Partial<StoreCounts> = {
        users: USERS,
        groups: directory.groupCount,
        memberships: directory.membershipCount,
      };
      assert.deepEqual({ users: resumed.users, groups: resumed.groups, memberships: resumed.memberships }, expected);
      assert.deepEqual({ users: reference.users, groups: reference.groups, memberships: reference.memberships }, expected);
      assert.equal(resumed.eventsByType['user.created'], USERS);
      assert.equal(resumed.eventsByType['group.member_added'], directory.membershipCount);
      // Replayed pages that had committed emit nothing, so the whole event history matches the clean run's.
      assert.deepEqual(resumed.eventsByType, reference.eventsByType);
      assert.deepEqual(await directorySnapshot(db), await directorySnapshot(cleanDb));

      // Applying the whole series once more changes nothing and emits no event.
      await runToCompletion(crashed, connectionId);
      const reapplied = await assertOutboxInvariants(db);
      assert.equal(reapplied.events, resumed.events);
      assert.deepEqual(reapplied.eventsByType, resumed.eventsByType);
    });
  });
}
