import { chunks } from './batching.ts';
import type { Db } from './database.ts';

/** How long an acted-on event id is remembered: far beyond a provider's redelivery window (Okta retries once). */
export const PUSH_EVENT_MEMORY_MS = 24 * 60 * 60 * 1000;

/** Event ids of push deliveries already acted on, so at-least-once deliveries are acted on once. */
export class PushEventsRepo {
  constructor(private readonly db: Db) {}

  /** Records the ids as received; answers those not received before (the ones to act on). */
  async claim(connectionId: string, eventIds: readonly string[], now: Date): Promise<Set<string>> {
    const fresh = new Set<string>();
    const received_at = now.toISOString();
    for (const slice of chunks([...new Set(eventIds)], 500)) {
      const rows = await this.db
        .insertInto('push_events')
        .values(slice.map((event_id) => ({ connection_id: connectionId, event_id, received_at })))
        .onConflict((oc) => oc.columns(['connection_id', 'event_id']).doNothing())
        .returning('event_id')
        .execute();
      for (const row of rows) fresh.add(row.event_id);
    }
    return fresh;
  }

  /** Forgets ids that could not be acted on after all, so the provider's retry is. */
  async release(connectionId: string, eventIds: readonly string[]): Promise<void> {
    for (const slice of chunks([...eventIds], 500)) {
      await this.db.deleteFrom('push_events').where('connection_id', '=', connectionId).where('event_id', 'in', slice).execute();
    }
  }

  /** Drops ids received before `before`; answers how many. */
  async prune(before: Date): Promise<number> {
    const result = await this.db.deleteFrom('push_events').where('received_at', '<', before.toISOString()).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
