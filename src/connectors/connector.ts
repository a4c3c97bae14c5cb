import type { PageCheckpoint } from './definition/pager.ts';
import type { IncomingRecord } from '../reconcile/incoming.ts';

/**
 * What the sync engine asks of a pull source. A connector only reads the source and says what it holds as
 * source records (DESIGN law 1): it never writes canonical state, and never decides what is gone.
 */
export interface Connector {
  /** Pages of users or groups, resumable after `checkpoint` (stored with the records of the page it follows). */
  pages(resource: 'users' | 'groups', options?: PageOptions): AsyncIterable<RecordPage>;
  /** Pages of the members of one group: users as memberships, groups as nestings; others (customers) are left out. */
  memberPages(groupExternalId: string, options?: PageOptions): AsyncIterable<RecordPage>;
  /** The current state of one object: an upsert, or a tombstone when the source answers that it is gone. */
  fetchObject(kind: 'user' | 'group', externalId: string, signal?: AbortSignal): Promise<IncomingRecord>;
  /**
   * Users the source lists as deleted (Google `showDeleted=true`), as tombstones. A statement, not an
   * absence: runs that do not enumerate everything (critical, profile) remove them within the deprovision
   * guard, so a deletion whose notification was lost is acted on at the next poll, not the next full run.
   */
  deletedUsers?(options?: PageOptions): AsyncIterable<RecordPage>;
  /** Changes since a cursor, for sources with a delta protocol (Graph delta links, Okta's System Log). */
  readonly delta?: DeltaSource | undefined;
  /** Push channels, for sources that notify (Google users.watch). */
  readonly push?: PushChannels | undefined;
}

/**
 * A source's delta protocol. The engine stores the cursor in the same transaction as the records of the
 * page it follows; a full run asks `latest()` before it lists, so the next delta round starts from then
 * (changes during the full run come again: reconciling them twice changes nothing).
 */
export interface DeltaSource {
  /** A cursor meaning "from now on" (Graph `$deltatoken=latest`, the System Log's `since=now`). */
  latest(signal?: AbortSignal): Promise<string>;
  /** Pages of what changed since `cursor`; throws CursorExpiredError when the source no longer knows it. */
  changes(cursor: string, options?: { signal?: AbortSignal }): AsyncIterable<ChangePage>;
}

export interface ChangePage {
  /** Upserts and tombstones the source reported (a tombstone here is the source's statement, not an absence). */
  records: IncomingRecord[];
  /** Where to resume after this page; on the last page, the cursor the next round starts from. */
  cursor: string;
  /**
   * Groups whose complete member list this round states (across its pages): memberships of these groups
   * the round did not state are gone. For sources that re-list a changed group's members instead of
   * reporting each removal (Okta's `lastMembershipUpdated`).
   */
  completeGroups?: readonly string[];
}

/** The source no longer knows the cursor (Graph 410 Gone / syncStateNotFound): only a full run can resume. */
export class CursorExpiredError extends Error {
  override readonly name = 'CursorExpiredError';
  constructor(readonly providerReason: string) {
    super(`the delta cursor has expired (${providerReason})`);
  }
}

export interface PageOptions {
  checkpoint?: PageCheckpoint | null | undefined;
  signal?: AbortSignal | undefined;
  /**
   * Asked once a page (by connectors whose items name their id): which of the page's items, by record id
   * and source hash, the store holds unchanged. Those come back restated, unmapped.
   */
  restated?: RestatedLookup | undefined;
}

/** Of a page's items (id and source hash), the ids whose live stored record holds that very hash. */
export type RestatedLookup = (
  kind: 'user' | 'group' | 'membership' | 'group_nesting',
  items: ReadonlyArray<{ external_id: string; source_hash: string }>,
) => Promise<ReadonlySet<string>>;

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
  /**
   * Opens what it takes for the provider to POST changes to `address`, each notification carrying `token`
   * (Google: one users.watch channel; Graph: a subscription per resource, `token` as their clientState).
   * `id` is a fresh id the provider may use as the channel's.
   */
  open(request: { id: string; address: string; token: string; ttlSeconds: number }, signal?: AbortSignal): Promise<OpenedChannel[]>;
  close(channel: { id: string; resourceId: string }, signal?: AbortSignal): Promise<void>;
  /**
   * Whether the provider still delivers through a channel, for channels that do not expire (Okta event
   * hooks an admin may delete or deactivate): a dead one is replaced at the next channel check.
   */
  check?(channel: { id: string; resourceId: string }, signal?: AbortSignal): Promise<boolean>;
}
