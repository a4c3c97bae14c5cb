import { Worker } from 'node:worker_threads';

/**
 * Samples the process's resident set size every `intervalMs` from a worker thread. The main thread
 * cannot do it reliably: better-sqlite3 runs synchronously, so its timers may not fire for a whole
 * transaction. RSS is per process, so the worker sees the main thread's memory as well.
 */
export class RssSampler {
  private readonly shared = new Float64Array(new SharedArrayBuffer(16));
  private readonly worker: Worker;

  constructor(intervalMs = 50) {
    this.worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       const cells = new Float64Array(workerData.buffer);
       setInterval(() => {
         const rss = process.memoryUsage.rss();
         if (rss > cells[0]) cells[0] = rss;
         cells[1] += 1;
       }, workerData.intervalMs);`,
      { eval: true, workerData: { buffer: this.shared.buffer, intervalMs } },
    );
    this.worker.unref();
  }

  /** Starts a new measurement window: the peak so far is forgotten. */
  reset(): void {
    this.shared[0] = process.memoryUsage.rss();
    this.shared[1] = 0;
  }

  /** Highest RSS seen since the last reset, in bytes, and how many samples it was taken from. */
  peak(): { bytes: number; samples: number } {
    return { bytes: Math.max(this.shared[0]!, process.memoryUsage.rss()), samples: this.shared[1]! };
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}
