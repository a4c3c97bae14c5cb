import type { FetchJson } from '../definition/pager.ts';
import { linkPages } from './okta-link-pages.ts';

/**
 * The System Log as a change feed, in polling mode: ascending, no `until`, following the `next` link, which
 * Okta always sends (even after an empty page). The link after the last page read is where the next poll
 * resumes; events are ordered by when Okta persisted them, so the link, not a `published` time, is the cursor.
 */

/** The event types that say a user, a group or a membership changed. */
export const OKTA_CHANGE_EVENT_TYPES = [
  'user.lifecycle.create',
  'user.lifecycle.activate',
  'user.lifecycle.deactivate',
  'user.lifecycle.suspend',
  'user.lifecycle.unsuspend',
  'user.lifecycle.reactivate',
  'user.lifecycle.delete.initiated',
  'user.lifecycle.delete.completed',
  'user.account.update_profile',
  'user.account.lock',
  'user.account.unlock',
  'user.account.expire_password',
  'user.account.reset_password',
  'group.user_membership.add',
  'group.user_membership.remove',
  'group.lifecycle.create',
  'group.lifecycle.delete',
  'group.profile.update',
] as const;

const LOG_PAGE_SIZE = 1000;
/** A round reads at most this many log pages; the rest waits for the next round, from the link it stopped at. */
const MAX_LOG_PAGES = 20;

/** The first poll of the log, from a time (`since` is persistence time in polling mode). */
export function systemLogUrl(apiBaseUrl: string, since: string): string {
  const url = new URL(`${apiBaseUrl}/logs`);
  url.searchParams.set('since', since);
  url.searchParams.set('limit', String(LOG_PAGE_SIZE));
  url.searchParams.set('sortOrder', 'ASCENDING');
  url.searchParams.set('filter', OKTA_CHANGE_EVENT_TYPES.map((type) => `eventType eq "${type}"`).join(' or '));
  return url.href;
}

/** What a batch of log events (polled, or delivered by an event hook) names as changed. */
export interface NamedChanges {
  users: Set<string>;
  /** Groups created, deleted or renamed. */
  groups: Set<string>;
  /** Groups whose membership changed. */
  memberships: Set<string>;
}

export function emptyChanges(): NamedChanges {
  return { users: new Set(), groups: new Set(), memberships: new Set() };
}

interface LogTarget {
  id?: unknown;
  type?: unknown;
}

/** Adds what one LogEvent names; events of other types, and targets without an id, say nothing. */
export function collectChanges(into: NamedChanges, event: unknown): void {
  if (event === null || typeof event !== 'object') return;
  const { eventType, target } = event as { eventType?: unknown; target?: unknown };
  if (typeof eventType !== 'string' || !(OKTA_CHANGE_EVENT_TYPES as readonly string[]).includes(eventType) || !Array.isArray(target)) return;
  const ids = (type: string) => (target as LogTarget[]).filter((t) => t?.type === type && typeof t.id === 'string' && t.id !== '').map((t) => t.id as string);
  if (eventType.startsWith('user.')) for (const id of ids('User')) into.users.add(id);
  else if (eventType.startsWith('group.user_membership.')) for (const id of ids('UserGroup')) into.memberships.add(id);
  else for (const id of ids('UserGroup')) into.groups.add(id);
}

/** Polls the log from `url`; answers what it named and the link to resume from. */
export async function pollSystemLog(fetchJson: FetchJson, url: string, signal?: AbortSignal): Promise<{ changes: NamedChanges; next: string; events: number }> {
  const changes = emptyChanges();
  let next = url;
  let events = 0;
  let pagesRead = 0;
  for await (const page of linkPages(fetchJson, url, signal)) {
    for (const event of page.items) collectChanges(changes, event);
    events += page.items.length;
    pagesRead += 1;
    // In polling mode there is always a next link; a short page means nothing more is there yet.
    next = page.next ?? page.url;
    const limit = Number(new URL(page.url).searchParams.get('limit') ?? 100);
    if (page.items.length < limit || pagesRead >= MAX_LOG_PAGES) break;
  }
  return { changes, next, events };
}
