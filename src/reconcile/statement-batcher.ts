import type { Tx } from '../store/database.ts';
import type { IncomingRecord } from './incoming.ts';
import type { Reconciler } from './reconciler.ts';

/** One statement: read and check under the organization's lock, then say which records to apply. */
export type Statement = (tx: Tx) => Promise<IncomingRecord[]>;

interface Pending {
  statement: Statement;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for small concurrent writes of one connection (SCIM requests). Reconciliations of an
 * organization are serialized anyway; rather than each waiting for the lock, the statements that arrive
 * while one transaction runs go together into the next (`Reconciler.applyEach`), each in its own savepoint,
 * so one failing statement fails alone. A lone statement waits one turn of the event loop, no more.
 */
export class StatementBatcher {
  private readonly queues = new Map<string, Pending[]>();

  constructor(
    private readonly reconciler: Reconciler,
    private readonly maxBatch = 64,
  ) {}

  /** Resolves once the statement's transaction committed; rejects with its own error, or the batch's. */
  submit(connectionId: string, statement: Statement): Promise<void> {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(connectionId);
      if (queue) {
        queue.push({ statement, resolve, reject });
        return;
      }
      this.queues.set(connectionId, [{ statement, resolve, reject }]);
      // Started on the next turn of the event loop, so that the requests read in this one join the batch:
      // an embedded database answers without yielding to I/O, so otherwise every batch would be of one.
      setImmediate(() => void this.drain(connectionId));
    });
  }

  /** Applies the connection's queue batch by batch until it is empty; the queue's presence marks a drain running. */
  private async drain(connectionId: string): Promise<void> {
    const queue = this.queues.get(connectionId)!;
    while (queue.length > 0) {
      const batch = queue.splice(0, this.maxBatch);
      try {
        const outcomes = await this.reconciler.applyEach(connectionId, batch.map((p) => p.statement));
        outcomes.forEach((outcome, i) => (outcome.ok ? batch[i]!.resolve() : batch[i]!.reject(outcome.error)));
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
    this.queues.delete(connectionId);
  }
}
