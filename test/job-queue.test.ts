/**
 * One contract for every JobQueue adapter: in-process (SQLite deployments) and pg-boss over a real
 * PostgreSQL. The pg-boss suite adds what only a shared queue can do: two instances splitting the work,
 * and a job whose worker was SIGKILLed mid-handler coming back to another after expiry.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, afterEach, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { JsonObject } from '../src/core/model.ts';
import { createJobQueue } from '../src/jobs/create-job-queue.ts';
import { InProcessJobQueue } from '../src/jobs/in-process-queue.ts';
import type { JobLogSink, JobQueue } from '../src/jobs/job-queue.ts';
import { jobSchemaOf, PgBossJobQueue, type PgBossJobQueueOptions } from '../src/jobs/pg-boss-queue.ts';
import type { Database } from '../src/store/database.ts';
import { createTestStorage, ENGINES, TEST_DATABASE_URL, type TestStorage } from './support/roster.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RETRY_LIMIT = 2;

class CapturedLog implements JobLogSink {
  readonly entries: { level: 'warn' | 'error'; obj: Record<string, unknown>; msg: string }[] = [];
  debug(): void {}
  warn(obj: Record<string, unknown>, msg: string): void {
    this.entries.push({ level: 'warn', obj, msg });
  }
  error(obj: Record<string, unknown>, msg: string): void {
    this.entries.push({ level: 'error', obj, msg });
  }
  of(queue: string, level: 'warn' | 'error') {
    return this.entries.filter((entry) => entry.obj.queue === queue && entry.level === level);
  }
}

type MakeQueue = (log: JobLogSink) => Promise<JobQueue>;

let queueCount = 0;
const queueName = () => `test-${process.pid}-${(queueCount += 1)}`;

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Queues a test opened are stopped after it, whatever happened. */
function useQueues(): <T extends JobQueue>(queue: T) => T {
  const opened: JobQueue[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((queue) => queue.stop()));
  });
  return (queue) => {
    opened.push(queue);
    return queue;
  };
}

function jobQueueContract(make: MakeQueue): void {
  const track = useQueues();
  const open: MakeQueue = async (log) => track(await make(log));

  test('every sent job is handled exactly once with its payload', async () => {
    const jobs = await open(new CapturedLog());
    const name = queueName();
    const seen: JsonObject[] = [];
    await jobs.work(name, async (payload) => void seen.push(payload), { concurrency: 4 });
    const sent = Array.from({ length: 20 }, (_, n) => ({ n, user: { id: `u${n}`, tags: ['a', 'b'] } }));
    await Promise.all(sent.map((payload) => jobs.send(name, payload)));
    await waitFor(() => seen.length >= sent.length, 'all jobs');
    await sleep(300);
    assert.deepEqual(
      [...seen].sort((a, b) => Number(a.n) - Number(b.n)),
      sent,
    );
  });

  test('jobs sent before anyone works the queue wait, then run', async () => {
    const jobs = await open(new CapturedLog());
    const name = queueName();
    await jobs.send(name, { n: 1 });
    await jobs.send(name, { n: 2 });
    await sleep(600);
    const seen: unknown[] = [];
    await jobs.work(name, async (payload) => void seen.push(payload.n));
    await waitFor(() => seen.length === 2, 'both waiting jobs');
    assert.deepEqual(seen.sort(), [1, 2]);
  });

  test('a delayed job does not run before its delay and runs after it', async () => {
    const jobs = await open(new CapturedLog());
    const name = queueName();
    const ranAt = new Map<string, number>();
    await jobs.work(name, async (payload) => void ranAt.set(String(payload.kind), Date.now()), { concurrency: 2 });
    const sentAt = Date.now();
    await jobs.send(name, { kind: 'delayed' }, { delayMs: 1000 });
    await jobs.send(name, { kind: 'now' });
    await sleep(700);
    assert.ok(ranAt.has('now'), 'the undelayed job ran meanwhile');
    assert.ok(!ranAt.has('delayed'), 'the delayed job waits');
    await waitFor(() => ranAt.has('delayed'), 'the delayed job');
    assert.ok(ranAt.get('delayed')! - sentAt >= 980, `ran after ${ranAt.get('delayed')! - sentAt} ms`);
  });

  test('never more handlers at once than the concurrency', async () => {
    const jobs = await open(new CapturedLog());
    const name = queueName();
    let running = 0;
    let most = 0;
    let done = 0;
    await jobs.work(
      name,
      async () => {
        running += 1;
        most = Math.max(most, running);
        await sleep(150);
        running -= 1;
        done += 1;
      },
      { concurrency: 3 },
    );
    for (let n = 0; n < 9; n += 1) await jobs.send(name, { n });
    await waitFor(() => done === 9, 'nine jobs');
    assert.ok(most <= 3, `${most} handlers ran at once`);
    assert.ok(most >= 2, `concurrency was used (${most} at most)`);
  });

  test('a throwing handler is retried and then succeeds', async () => {
    const log = new CapturedLog();
    const jobs = await open(log);
    const name = queueName();
    const attempts: JsonObject[] = [];
    let succeeded = 0;
    await jobs.work(name, async (payload) => {
      attempts.push(payload);
      if (attempts.length <= RETRY_LIMIT) throw new Error(`flaky ${attempts.length}`);
      succeeded += 1;
    });
    await jobs.send(name, { id: 'j1' });
    await waitFor(() => succeeded === 1, 'the successful attempt');
    await sleep(700);
    assert.equal(attempts.length, RETRY_LIMIT + 1);
    assert.deepEqual(attempts, Array(RETRY_LIMIT + 1).fill({ id: 'j1' }), 'every attempt gets the payload');
    assert.equal(log.of(name, 'warn').length, RETRY_LIMIT);
    assert.equal(log.of(name, 'error').length, 0);
  });

  test('a handler that always throws is given up after the retry limit, and logged', async () => {
    const log = new CapturedLog();
    const jobs = await open(log);
    const name = queueName();
    let attempts = 0;
    await jobs.work(name, async () => {
      attempts += 1;
      throw new Error('always');
    });
    await jobs.send(name, { id: 'doomed' });
    await waitFor(() => attempts === RETRY_LIMIT + 1, 'the last attempt');
    await waitFor(() => log.of(name, 'error').length === 1, 'the given-up log');
    await sleep(1200);
    assert.equal(attempts, RETRY_LIMIT + 1, 'no attempt after the limit');
    assert.match(String((log.of(name, 'error')[0]!.obj.err as Error).message), /always/);
  });

  test('stop() waits for a running handler, and no job starts after it', async () => {
    const jobs = await open(new CapturedLog());
    const name = queueName();
    let started = 0;
    let finished = false;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await jobs.work(name, async () => {
      started += 1;
      await released;
      await sleep(50);
      finished = true;
    });
    for (let n = 0; n < 3; n += 1) await jobs.send(name, { n });
    await waitFor(() => started === 1, 'the first job to start');
    let stopped = false;
    const stopping = jobs.stop().then(() => (stopped = true));
    await sleep(200);
    assert.ok(!stopped, 'stop() is still waiting for the handler');
    release();
    await stopping;
    assert.ok(finished, 'the handler finished before stop() resolved');
    await jobs.stop();
    await sleep(1200);
    assert.equal(started, 1, 'the queued jobs did not start');
  });
}

describe('JobQueue contract [in-process]', () => {
  jobQueueContract(async (log) => new InProcessJobQueue({ log, retryLimit: RETRY_LIMIT, retryBaseMs: 20, stopTimeoutMs: 5000 }));

  test('createJobQueue keeps jobs in process on a database without concurrent writers', { skip: !ENGINES.includes('sqlite') }, async () => {
    const storage = await createTestStorage('sqlite');
    const database = storage.open();
    try {
      const jobs = await createJobQueue(database, { log: new CapturedLog() });
      assert.ok(jobs instanceof InProcessJobQueue);
      await jobs.stop();
    } finally {
      await database.close();
      await storage.destroy();
    }
  });
});

/** Settings that keep the suite fast: pg-boss 10's shortest polling, immediate retries, quick maintenance. */
function testSettings(log: JobLogSink): PgBossJobQueueOptions {
  return { log, retryLimit: RETRY_LIMIT, retryDelaySeconds: 0, pollingIntervalSeconds: 0.5, maintenanceIntervalSeconds: 1, stopTimeoutMs: 5000 };
}

describe('JobQueue contract [pg-boss]', { skip: !ENGINES.includes('postgres') }, () => {
  let storage: TestStorage;
  let database: Database;
  const databases: Database[] = [];
  const children = new Set<ChildProcess>();
  /** Another pool on the same database, as another process would have. */
  const openDatabase = () => {
    const opened = storage.open();
    databases.push(opened);
    return opened;
  };
  before(async () => {
    storage = await createTestStorage('postgres');
    database = openDatabase();
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    if (database) await sql`drop schema if exists ${sql.id(jobSchemaOf(database))} cascade`.execute(database.db);
    await Promise.all(databases.map((opened) => opened.close()));
    await storage?.destroy();
  });

  jobQueueContract((log) => PgBossJobQueue.start(database, testSettings(log)));

  const track = useQueues();

  test('createJobQueue goes through pg-boss on a database with concurrent writers', async () => {
    const jobs = track(await createJobQueue(database, { log: new CapturedLog() }));
    assert.ok(jobs instanceof PgBossJobQueue);
  });

  test('two instances on one database share a queue: each job handled once, both get some', async () => {
    const first = track(await PgBossJobQueue.start(database, testSettings(new CapturedLog())));
    const second = track(await PgBossJobQueue.start(openDatabase(), testSettings(new CapturedLog())));
    const name = queueName();
    const handledBy = new Map<number, string[]>();
    const handler = (instance: string) => async (payload: JsonObject) => {
      handledBy.set(Number(payload.n), [...(handledBy.get(Number(payload.n)) ?? []), instance]);
      await sleep(150);
    };
    for (let n = 0; n < 10; n += 1) await first.send(name, { n });
    await Promise.all([first.work(name, handler('first')), second.work(name, handler('second'))]);
    await waitFor(() => handledBy.size === 10, 'ten jobs');
    await sleep(500);
    for (const [n, instances] of handledBy) assert.equal(instances.length, 1, `job ${n} handled by ${instances.join(', ')}`);
    const instances = [...handledBy.values()].flat();
    assert.ok(instances.includes('first') && instances.includes('second'), `both instances worked: ${instances.join(' ')}`);
  });

  test('a job whose worker was killed mid-handler is retried by another after expiry', async () => {
    const name = queueName();
    const settings = { ...testSettings(new CapturedLog()), queues: { [name]: { expireInSeconds: 1 } } };
    const survivor = track(await PgBossJobQueue.start(openDatabase(), settings));
    await survivor.send(name, { id: 'orphan' });
    const worker = startHangingWorker(database.schema!, name);
    await worker.started;
    worker.kill();
    await worker.exited;
    const seen: JsonObject[] = [];
    await survivor.work(name, async (payload) => void seen.push(payload));
    await waitFor(() => seen.length === 1, 'the orphaned job on the survivor', 15_000);
    await sleep(500);
    // The killed worker could not report anything: the job came back because maintenance found it expired.
    assert.deepEqual(seen, [{ id: 'orphan' }]);
  });

  test('a handler that outlives stop() has its job retried elsewhere, and its late finish reports nothing', async () => {
    const name = queueName();
    const leavingDb = openDatabase();
    const leaving = track(await PgBossJobQueue.start(leavingDb, { ...testSettings(new CapturedLog()), stopTimeoutMs: 1000 }));
    const staying = track(await PgBossJobQueue.start(database, testSettings(new CapturedLog())));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let leavingStarted = false;
    await leaving.work(name, async () => {
      leavingStarted = true;
      await released;
    });
    await leaving.send(name, { id: 'long' });
    await waitFor(() => leavingStarted, 'the job to start on the leaving instance');
    await leaving.stop();
    // The pool is gone before the handler ends, as when a process exits after a bounded shutdown.
    await leavingDb.close();
    const seen: JsonObject[] = [];
    await staying.work(name, async (payload) => void seen.push(payload));
    await waitFor(() => seen.length === 1, 'the job on the staying instance');
    release();
    await sleep(500);
    assert.deepEqual(seen, [{ id: 'long' }]);
  });

  /** Another process working the queue with a handler that never returns: prints `started`, then hangs. */
  function startHangingWorker(schema: string, queue: string) {
    const module = (path: string) => JSON.stringify(pathToFileURL(join(ROOT, path)).href);
    const script = `
      import { openPostgres } from ${module('src/store/database.ts')};
      import { PgBossJobQueue } from ${module('src/jobs/pg-boss-queue.ts')};
      const [url, schema, queue] = process.argv.slice(1);
      const quiet = { debug() {}, warn() {}, error() {} };
      const jobs = await PgBossJobQueue.start(openPostgres({ url, schema, poolSize: 2 }), { log: quiet, pollingIntervalSeconds: 0.5 });
      await jobs.work(queue, () => { process.stdout.write('started\\n'); return new Promise(() => {}); });
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, TEST_DATABASE_URL, schema, queue], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve(void children.delete(child))));
    const started = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk) => String(chunk).includes('started') && resolve());
      void exited.then(() => reject(new Error(`The worker exited before starting the job: ${stderr}`)));
    });
    return { started, exited, kill: () => child.kill('SIGKILL') };
  }
});
