import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints off the event loop. SQLite checkpoints on the commit that crosses its threshold, so one
 * request in a few hundred pays for copying the whole log back into the database file — the slowest
 * requests of a busy instance. Here a worker thread with a connection of its own runs a PASSIVE checkpoint
 * every `intervalMs` (PASSIVE never waits for readers or writers), and the main connection's own
 * automatic checkpoint stays only as a far backstop.
 */
export interface Checkpointer {
  stop(): Promise<void>;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export function startCheckpointer(file: string, intervalMs = 200): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, intervalMs } });
  // A failed checkpoint is retried on the next tick; it is reported, not fatal (the backstop remains).
  worker.on('message', (message: { error?: string }) => {
    if (message.error) process.emitWarning(`SQLite checkpoint of ${file} failed: ${message.error}`);
  });
  worker.unref();
  let stopped: Promise<void> | undefined;
  return {
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        // Held until it has exited, or a process with nothing else to do would end before its last checkpoint.
        worker.ref();
        worker.once('exit', () => resolve());
        worker.postMessage('stop');
      })),
  };
}
