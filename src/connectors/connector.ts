import type { PageCheckpoint } from './definition/pager.ts';
import type { IncomingRecord } from '../reconcile/incoming.ts';

/**
 * What the sync engine asks of a pull source. A connector only reads the source and says what it holds as
 * source records (DESIGN law 1): it never writes canonical state, and never decides what is gone.
 */
export interface Connector {
  /** Pages of users or groups, resumable after `checkpoint` (stored with the records of the page it follows). */
  pages(resource: 'users' | 'groups', options?: PageOptions): AsyncIterable<RecordPage>;
  /** Pages of the memberships of one group; members that are not users (nested groups, customers) are left out. */
  memberPages(groupExternalId: string, options?: PageOptions): AsyncIterable<RecordPage>;
  /** The current state of one object: an upsert, or a tombstone when the source answers that it is gone. */
  fetchObject(kind: 'user' | 'group', externalId: string, signal?: AbortSignal): Promise<IncomingRecord>;
  /**
   * What changed since `cursor`, for sources with a delta protocol (Graph delta links, Okta `lastUpdated`):
   * each page carries the cursor to store in the same transaction as its records. Absent where the source
   * has none (Google): there the critical and profile tiers list again instead.
   */
  readonly changes?: ((cursor: string, options?: { signal?: AbortSignal }) => AsyncIterable<ChangePage>) | undefined;
  /** Push channels, for sources that notify (Google users.watch). */
  readonly push?: PushChannels | undefined;
}

export interface ChangePage {
  /** Upserts and tombstones the source reported. */
  records: IncomingRecord[];
  /** The cursor to resume after this page; on the last page, the one the next delta round starts from. */
  cursor: string;
}

export interface PageOptions {
  checkpoint?: PageCheckpoint | null | undefined;
  signal?: AbortSignal | undefined;
}

export interface RecordPage {
  records: IncomingRecord[];
  /** Where the next page starts; null after the last page. */
  checkpoint: PageCheckpoint | null;
}

/** A channel the provider delivers change notifications through. */
export interface OpenedChannel {
  id: string;
  /** The provider's handle, needed to stop the channel. */
  resourceId: string;
  /** Epoch ms. */
  expiresAt: number;
}

export interface PushChannels {
  /** Opens a channel that POSTs to `address`, echoing `token` on every notification. */
  open(request: { id: string; address: string; token: string; ttlSeconds: number }, signal?: AbortSignal): Promise<OpenedChannel>;
  close(channel: { id: string; resourceId: string }, signal?: AbortSignal): Promise<void>;
}
