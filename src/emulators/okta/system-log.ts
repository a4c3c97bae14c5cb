import { randomBytes, randomUUID } from 'node:crypto';
import { checkFilter, matchesFilter, parseFilter, readField, type AllowedFilters } from './filter-expression.ts';
import { OKTA_ERRORS } from './http-kit.ts';
import type { LogTarget, OktaOrg, OrgChange } from './org-model.ts';

/** A System Log event (LogEvent), with the fields clients read; the rest as Okta fills them for an admin action. */
export interface LogEvent {
  uuid: string;
  published: string;
  eventType: string;
  version: '0';
  severity: 'INFO';
  legacyEventType: string | null;
  displayMessage: string;
  actor: { id: string; type: string; alternateId: string; displayName: string; detailEntry: null };
  client: { userAgent: { rawUserAgent: string; os: string; browser: string }; zone: string; device: string; id: null; ipAddress: string; geographicalContext: null };
  outcome: { result: 'SUCCESS'; reason: null };
  target: Array<LogTarget & { detailEntry: null }>;
  transaction: { type: 'WEB'; id: string; detail: Record<string, never> };
  debugContext: { debugData: Record<string, string> };
  authenticationContext: { authenticationStep: number; externalSessionId: string };
  securityContext: { asNumber: null; asOrg: null; isp: null; domain: null; isProxy: null };
  request: { ipChain: unknown[] };
}

interface StoredEvent {
  seq: number;
  /** When it becomes readable: polling reads by persistence time, which may trail `published`. */
  persistedAt: number;
  event: LogEvent;
}

/** Filterable fields of the System Log (a subset of what Okta takes; enough for connectors). */
const LOG_FILTERS: AllowedFilters = {
  eventType: ['eq', 'sw', 'co'],
  'target.id': ['eq'],
  'target.type': ['eq'],
  'actor.id': ['eq'],
  'outcome.result': ['eq'],
  severity: ['eq'],
  uuid: ['eq'],
};

export const LOG_RETENTION_DAYS = 90;
const DEFAULT_WINDOW_MS = 7 * 24 * 3600_000;

export interface LogQuery {
  since?: string | null;
  until?: string | null;
  after?: string | null;
  filter?: string | null;
  q?: string | null;
  limit: number;
  sortOrder: 'ASCENDING' | 'DESCENDING';
}

export interface LogPage {
  events: LogEvent[];
  /** The `after` of the next page; always set when polling (no `until`), even after an empty page. */
  nextAfter: string | undefined;
}

export class SystemLog {
  private readonly stored: StoredEvent[] = [];
  private seq = 0;
  private readonly listeners = new Set<(event: LogEvent) => void>();
  /** How long an event takes to become readable after it is published. */
  persistenceDelayMs = 0;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly org: OktaOrg,
    private readonly now: () => number,
  ) {
    this.unsubscribe = org.onChange((change) => this.append(change));
  }

  close(): void {
    this.unsubscribe();
  }

  /** Hears every event as it is published (event hooks). */
  onEvent(listener: (event: LogEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.stored.length;
  }

  private append(change: OrgChange): void {
    const now = this.now();
    const event: LogEvent = {
      uuid: randomUUID(),
      published: new Date(now).toISOString(),
      eventType: change.eventType,
      version: '0',
      severity: 'INFO',
      legacyEventType: null,
      displayMessage: change.displayMessage,
      actor: { id: 'emulator-admin', type: 'User', alternateId: `admin@${this.org.domain}`, displayName: 'Emulator Admin', detailEntry: null },
      client: { userAgent: { rawUserAgent: 'roster-okta-emulator', os: 'Unknown', browser: 'UNKNOWN' }, zone: 'null', device: 'Unknown', id: null, ipAddress: '127.0.0.1', geographicalContext: null },
      outcome: { result: 'SUCCESS', reason: null },
      target: change.targets.map((target) => ({ ...target, detailEntry: null })),
      transaction: { type: 'WEB', id: randomBytes(18).toString('base64url'), detail: {} },
      debugContext: { debugData: { requestUri: '/_emulator' } },
      authenticationContext: { authenticationStep: 0, externalSessionId: 'emulator' },
      securityContext: { asNumber: null, asOrg: null, isp: null, domain: null, isProxy: null },
      request: { ipChain: [] },
    };
    this.seq += 1;
    this.stored.push({ seq: this.seq, persistedAt: now + this.persistenceDelayMs, event });
    for (const listener of this.listeners) listener(event);
  }

  /** Every event published so far, readable or not (for tests). */
  all(): LogEvent[] {
    return this.stored.map((entry) => entry.event);
  }

  query(query: LogQuery): LogPage {
    const now = this.now();
    const since = query.since ? parseTime(query.since, 'since') : now - DEFAULT_WINDOW_MS;
    if (since < now - LOG_RETENTION_DAYS * 24 * 3600_000) {
      throw OKTA_ERRORS.validation('since', [`since: The since parameter must be within the last ${LOG_RETENTION_DAYS} days`]);
    }
    const filter = query.filter ? parseFilter(query.filter) : undefined;
    if (filter) checkFilter(filter, LOG_FILTERS);
    const matches = (entry: StoredEvent) => (!filter || matchesFilter(filter, (field) => readLogField(entry.event, field))) && matchesKeywords(entry.event, query.q);
    // Sorted by persistence time; seq breaks ties (and is the order events were published in).
    const readable = this.stored.filter((entry) => entry.persistedAt <= now).sort((a, b) => a.persistedAt - b.persistedAt || a.seq - b.seq);

    if (!query.until) {
      if (query.sortOrder === 'DESCENDING') throw OKTA_ERRORS.validation('sortOrder', ['sortOrder: DESCENDING needs until (polling reads ascending)']);
      const from = query.after ? parseAfter(query.after) : { at: since, seq: 0 };
      const page = readable.filter((entry) => isAfter(entry, from) && matches(entry)).slice(0, query.limit);
      const last = page[page.length - 1];
      // Polling never ends: the next link is there even when nothing is new, and resumes after what was read.
      const nextAfter = last ? cursorOf(last) : query.after ?? `${from.at}_${from.seq}`;
      return { events: page.map((entry) => entry.event), nextAfter };
    }

    const until = parseTime(query.until, 'until');
    const bounded = readable.filter((entry) => {
      const published = Date.parse(entry.event.published);
      return published >= since && published < until && matches(entry);
    });
    if (query.sortOrder === 'DESCENDING') bounded.reverse();
    const start = query.after ? bounded.findIndex((entry) => cursorOf(entry) === query.after) + 1 : 0;
    const page = bounded.slice(start, start + query.limit);
    const more = start + query.limit < bounded.length;
    return { events: page.map((entry) => entry.event), nextAfter: more && page.length > 0 ? cursorOf(page[page.length - 1]!) : undefined };
  }
}

function parseTime(value: string, name: string): number {
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw OKTA_ERRORS.validation(name, [`${name}: must be an ISO 8601 date-time`]);
  return time;
}

/** `after` cursors are opaque to clients; here the persistence time and sequence of the last event read. */
function cursorOf(entry: StoredEvent): string {
  return `${entry.persistedAt}_${entry.seq}`;
}

function parseAfter(after: string): { at: number; seq: number } {
  const match = /^(\d+)_(\d+)$/.exec(after);
  if (!match) throw OKTA_ERRORS.validation('after', ['after: invalid cursor']);
  return { at: Number(match[1]), seq: Number(match[2]) };
}

function isAfter(entry: StoredEvent, from: { at: number; seq: number }): boolean {
  return entry.persistedAt > from.at || (entry.persistedAt === from.at && entry.seq > from.seq);
}

function readLogField(event: LogEvent, field: string): unknown {
  // `target.id eq "x"` matches when any target has that id.
  if (field.startsWith('target.')) {
    const key = field.slice('target.'.length) as keyof LogTarget;
    return event.target.map((target) => target[key]);
  }
  return readField(event, field);
}

function matchesKeywords(event: LogEvent, q: string | null | undefined): boolean {
  if (!q) return true;
  const haystack = [event.eventType, event.displayMessage, ...event.target.flatMap((t) => [t.id, t.alternateId, t.displayName])].join(' ').toLowerCase();
  return q
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((word) => haystack.includes(word));
}

