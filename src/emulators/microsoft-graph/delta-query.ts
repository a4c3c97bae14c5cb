/**
 * Delta queries: `/users/delta` and `/groups/delta`. A round's changes are fixed when it starts (its ids
 * and, for groups, its `members@delta` chunks); pages follow `@odata.nextLink` (`$skiptoken`) until the
 * last carries `@odata.deltaLink` (`$deltatoken`), a position in the tenant's change log. Query options
 * are baked into both tokens. Expired tokens answer 410 Gone with `Location`, or `syncStateNotFound`.
 */
import { randomBytes } from 'node:crypto';
import type { ApiRequest, ApiResult, DirectoryDeps } from './directory-routes.ts';
import { GraphApiError, odataUrl } from './http-kit.ts';
import { parseSelection, readSelection, renderGroup, renderUser, type Selection } from './select.ts';
import type { GraphTenant, MemberType } from './tenant-model.ts';

/** Directory delta tokens live 7 days. */
export const DELTA_TOKEN_TTL_MS = 7 * 24 * 3600 * 1000;

/** How an expired or unknown delta token is answered; both happen, so both are switchable. */
export type DeltaExpiryMode = 'gone' | 'syncStateNotFound';

export interface DeltaSettings {
  /** Items per page (Graph's is its own choice; `Prefer: odata.maxpagesize` lowers it). */
  pageSize: number;
  /** Members per `members@delta` chunk: a group with more appears on several items, maybe several pages. */
  membersPerChunk: number;
  expiryMode: DeltaExpiryMode;
  /** The status of a `syncStateNotFound` answer ("4xx" in the notes; 400 unless a test says otherwise). */
  syncStateNotFoundStatus: number;
  tokenTtlMs: number;
}

/** Duplicates and replays on demand: each takes a count of upcoming pages (duplicate) or rounds (replay). */
export interface DeltaSwitches {
  /** The next `count` pages carry every item twice. */
  duplicate?: { count: number };
  /** The next `count` delta links point back to where their round started: the next round repeats it. */
  replay?: { count: number };
  /**
   * The next `count` changed users come as their id and relations only, as Graph may answer an item whose
   * change it does not carry in full (a relation-only change, `Prefer: return=minimal`).
   */
  minimal?: { count: number };
  /**
   * The next `count` changed users come with their properties but no `manager@delta`: Graph states a
   * tracked relation when it changes, so an item whose change left the manager alone need not carry it.
   */
  withoutRelations?: { count: number };
}

type Resource = 'users' | 'groups';
type MemberDelta = { id: string; type: MemberType; removed: boolean };
type Entry = { id: string; members?: MemberDelta[]; first: boolean };

interface Round {
  resource: Resource;
  from: number;
  to: number;
  select: string | null;
  entries: Entry[];
}

interface DeltaTokenPayload {
  r: Resource;
  q: number;
  s: string | null;
  i: number;
  [key: string]: unknown;
}

const ROUNDS_KEPT = 256;
/** The `from` of an initial round: everything there is, not what changed after a log position. */
const INITIAL = -1;

export class DeltaQueries {
  private readonly rounds = new Map<string, Round>();
  private switches: DeltaSwitches = {};
  /** Tokens issued before this instant are expired (the control's "expire delta tokens"). */
  private expiredBefore = 0;
  readonly settings: DeltaSettings;

  constructor(
    private readonly deps: DirectoryDeps,
    settings: Partial<DeltaSettings> = {},
  ) {
    this.settings = { pageSize: 100, membersPerChunk: 20, expiryMode: 'gone', syncStateNotFoundStatus: 400, tokenTtlMs: DELTA_TOKEN_TTL_MS, ...settings };
  }

  setSwitches(switches: DeltaSwitches): void {
    this.switches = structuredClone(switches);
  }

  configure(settings: Partial<DeltaSettings>): void {
    Object.assign(this.settings, settings);
  }

  /** Every delta and skip token issued so far stops working, answered in `mode` (default: the configured one). */
  expireTokens(mode?: DeltaExpiryMode): void {
    if (mode) this.settings.expiryMode = mode;
    this.expiredBefore = this.deps.now() + 1;
    this.rounds.clear();
  }

  handle(resource: Resource, request: ApiRequest): ApiResult {
    const { query } = request;
    for (const option of ['$top', '$orderby', '$skip']) {
      if (query.has(option)) throw new GraphApiError(400, 'Request_UnsupportedQuery', `Unsupported query option '${option}' for delta.`);
    }
    const expand = query.get('$expand');
    if (expand !== null && !(resource === 'groups' && expand.trim().toLowerCase() === 'members')) {
      throw new GraphApiError(400, 'Request_UnsupportedQuery', `Unsupported query option '$expand=${expand}' for delta.`);
    }
    const skiptoken = query.get('$skiptoken');
    if (skiptoken !== null) return this.page(resource, request, this.readSkip(resource, skiptoken));
    const deltatoken = query.get('$deltatoken');
    if (deltatoken === 'latest') {
      const select = this.selectOf(resource, query);
      return { status: 200, body: { '@odata.context': this.context(resource, select), '@odata.deltaLink': this.deltaLink(resource, this.deps.tenant.seq, select), value: [] } };
    }
    if (deltatoken !== null) {
      const token = this.readDelta(resource, deltatoken);
      return this.page(resource, request, this.startRound(resource, token.q, token.s, null));
    }
    const select = this.selectOf(resource, query);
    return this.page(resource, request, this.startRound(resource, INITIAL, select, readIdFilter(query.get('$filter'))));
  }

  private selectOf(resource: Resource, query: URLSearchParams): string | null {
    const raw = query.get('$select');
    const expand = query.get('$expand');
    if (raw === null && expand === null) return null;
    readSelection(query, resource === 'users' ? 'user' : 'group', true);
    // `$expand=members` on groups tracks members as `$select=members` does.
    return [raw, expand ? 'members' : null].filter(Boolean).join(',');
  }

  private selection(resource: Resource, select: string | null): Selection & { tracksRelation: boolean } {
    const kind = resource === 'users' ? 'user' : 'group';
    const selection = select === null ? readSelection(new URLSearchParams(), kind, true) : parseSelection(select, kind, true);
    // Without $select, a groups round tracks members (Graph's default); users track the manager only when asked.
    const tracksRelation = select === null ? resource === 'groups' : selection.relations.length > 0;
    return { ...selection, tracksRelation };
  }

  private startRound(resource: Resource, from: number, select: string | null, ids: Set<string> | null): { id: string; offset: number } {
    const { tenant } = this.deps;
    const to = tenant.seq;
    const tracks = this.selection(resource, select).tracksRelation;
    const entries = resource === 'users' ? userEntries(tenant, from, to) : groupEntries(tenant, from, to, tracks, this.settings.membersPerChunk);
    const id = randomBytes(9).toString('base64url');
    this.rounds.set(id, { resource, from, to, select, entries: ids ? entries.filter((entry) => ids.has(entry.id)) : entries });
    if (this.rounds.size > ROUNDS_KEPT) this.rounds.delete(this.rounds.keys().next().value!);
    return { id, offset: 0 };
  }

  private page(resource: Resource, request: ApiRequest, position: { id: string; offset: number }): ApiResult {
    const round = this.rounds.get(position.id);
    if (!round) return this.expired(resource, null);
    const preferred = /odata\.maxpagesize=(\d+)/i.exec(String(request.headers.prefer ?? ''));
    const size = Math.max(1, Math.min(this.settings.pageSize, preferred ? Number(preferred[1]) : Number.POSITIVE_INFINITY));
    const slice = round.entries.slice(position.offset, position.offset + size);
    const selection = this.selection(resource, round.select);
    let value = slice.map((entry) => this.render(resource, entry, selection));
    if (this.take('duplicate')) value = [...value, ...value];
    const body: Record<string, unknown> = { '@odata.context': this.context(resource, round.select) };
    const next = position.offset + size;
    if (next < round.entries.length) {
      body['@odata.nextLink'] = this.link(resource, { $skiptoken: this.deps.tokens.issue({ r: resource, round: position.id, o: next, i: this.deps.now() }) });
    } else {
      body['@odata.deltaLink'] = this.deltaLink(resource, this.take('replay') ? round.from : round.to, round.select);
    }
    body.value = value;
    return { status: 200, body, headers: preferred ? { 'preference-applied': `odata.maxpagesize=${size}` } : {} };
  }

  private render(resource: Resource, entry: Entry, selection: Selection & { tracksRelation: boolean }): Record<string, unknown> {
    const { tenant } = this.deps;
    if (resource === 'users') {
      const state = tenant.userState(entry.id)!;
      if (state.removed) return { id: entry.id, '@removed': { reason: state.removed === 'soft' ? 'changed' : 'deleted' } };
      const item: Record<string, unknown> = this.take('minimal') ? { id: entry.id } : renderUser(state.user, selection);
      if (selection.tracksRelation && state.managerId && !this.take('withoutRelations')) item['manager@delta'] = [{ '@odata.type': '#microsoft.graph.user', id: state.managerId }];
      return item;
    }
    const state = tenant.groupState(entry.id)!;
    if (state.removed) return { id: entry.id, '@removed': { reason: state.removed === 'soft' ? 'changed' : 'deleted' } };
    // A group split over several items carries its properties on the first one only.
    const item: Record<string, unknown> = entry.first ? renderGroup(state.group, selection) : { id: entry.id };
    if (entry.members) {
      item['members@delta'] = entry.members.map((member) => ({
        '@odata.type': `#microsoft.graph.${member.type}`,
        id: member.id,
        ...(member.removed ? { '@removed': { reason: 'deleted' } } : {}),
      }));
    }
    return item;
  }

  private take(name: keyof DeltaSwitches): boolean {
    const rule = this.switches[name];
    if (!rule || rule.count <= 0) return false;
    rule.count -= 1;
    return true;
  }

  private context(resource: Resource, select: string | null): string {
    return `${this.deps.baseUrl()}/v1.0/$metadata#${resource}${select ? `(${select})` : ''}`;
  }

  private link(resource: Resource, params: Record<string, string>): string {
    return odataUrl(`${this.deps.baseUrl()}/v1.0/${resource}/delta`, Object.entries(params));
  }

  private deltaLink(resource: Resource, seq: number, select: string | null): string {
    const payload: DeltaTokenPayload = { r: resource, q: seq, s: select, i: this.deps.now() };
    return this.link(resource, { $deltatoken: this.deps.tokens.issue(payload) });
  }

  private isExpired(issuedAt: number): boolean {
    return issuedAt < this.expiredBefore || this.deps.now() - issuedAt > this.settings.tokenTtlMs;
  }

  private readSkip(resource: Resource, token: string): { id: string; offset: number } {
    const payload = this.deps.tokens.read<{ r: Resource; round: string; o: number; i: number }>(token);
    if (!payload || payload.r !== resource) throw new GraphApiError(400, 'Request_BadRequest', 'Invalid skip token.');
    if (this.isExpired(payload.i)) throw this.expiredError(resource, null);
    return { id: payload.round, offset: payload.o };
  }

  private readDelta(resource: Resource, token: string): DeltaTokenPayload {
    const payload = this.deps.tokens.read<DeltaTokenPayload>(token);
    if (!payload || payload.r !== resource || this.isExpired(payload.i)) throw this.expiredError(resource, payload?.s ?? null);
    return payload;
  }

  private expired(resource: Resource, select: string | null): never {
    throw this.expiredError(resource, select);
  }

  private expiredError(resource: Resource, select: string | null): GraphApiError {
    if (this.settings.expiryMode === 'gone') {
      const location = this.link(resource, select ? { $select: select } : {});
      return new GraphApiError(410, 'resyncRequired', 'Resync required. Replace any local items with the server\'s version (including deletes) if you\'re sure that the service was up to date with your local changes when you last sync\'d. Upload any local changes that the server doesn\'t know about.', { location });
    }
    return new GraphApiError(this.settings.syncStateNotFoundStatus, 'syncStateNotFound', 'The specified sync state was not found. Please restart the sync from the beginning.');
  }
}

function userEntries(tenant: GraphTenant, from: number, to: number): Entry[] {
  if (from === INITIAL) return tenant.userIds().filter((id) => tenant.findUser(id)).map((id) => ({ id, first: true }));
  const ids = new Set<string>();
  for (const change of tenant.changesBetween(from, to)) if (change.kind === 'user') ids.add(change.id);
  return [...ids].map((id) => ({ id, first: true }));
}

function groupEntries(tenant: GraphTenant, from: number, to: number, tracksMembers: boolean, perChunk: number): Entry[] {
  const members = new Map<string, Map<string, MemberDelta>>();
  const order: string[] = [];
  const touch = (id: string) => {
    if (!members.has(id)) {
      members.set(id, new Map());
      order.push(id);
    }
    return members.get(id)!;
  };
  if (from === INITIAL) {
    for (const id of tenant.groupIds()) {
      if (!tenant.findGroup(id)) continue;
      const list = touch(id);
      for (const member of tenant.membersOf(id)) list.set(member.id, { id: member.id, type: member.type, removed: false });
    }
  } else {
    for (const change of tenant.changesBetween(from, to)) {
      if (change.kind === 'group') touch(change.id);
      if (change.kind === 'member') touch(change.groupId).set(change.memberId, { id: change.memberId, type: change.memberType, removed: change.removed });
    }
  }
  const entries: Entry[] = [];
  for (const id of order) {
    const list = [...members.get(id)!.values()];
    if (!tracksMembers || list.length === 0) {
      entries.push({ id, first: true });
      continue;
    }
    for (let start = 0; start < list.length; start += perChunk) entries.push({ id, first: start === 0, members: list.slice(start, start + perChunk) });
  }
  return entries;
}

/** `$filter=id eq '…' or id eq '…'` (up to 50): the only filter delta supports. */
function readIdFilter(filter: string | null): Set<string> | null {
  if (filter === null) return null;
  const ids = [...filter.matchAll(/id\s+eq\s+'([^']+)'/gi)].map((match) => match[1]!);
  const rest = filter.replace(/id\s+eq\s+'[^']+'/gi, '').replace(/\bor\b/gi, '').trim();
  if (ids.length === 0 || ids.length > 50 || rest !== '') throw new GraphApiError(400, 'Request_UnsupportedQuery', 'Unsupported query: delta supports only $filter=id eq \'…\', OR-ed up to 50 times.');
  return new Set(ids);
}
