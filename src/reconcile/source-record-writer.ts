import { contentHash } from '../core/content-hash.ts';
import type { NormalizedGroup, NormalizedUser, RecordKind } from '../core/model.ts';
import { chunks, groupBy, inSlices } from '../store/batching.ts';
import { bulkInsert, insertRows } from '../store/bulk-insert.ts';
import type { ReconcileContext } from './context.ts';
import type { IncomingRecord, RestatedRecord } from './incoming.ts';

/** A record whose stored statement changed in this transaction: what the reconciler steps work from. */
export interface ChangedUserRecord {
  external_id: string;
  /** What the record says now; empty for a tombstone (nothing downstream reads a removed record's statement). */
  attributes: NormalizedUser;
  tombstoned: boolean;
  /** The record was tombstoned and the source states it again. */
  revived: boolean;
}
export interface ChangedGroupRecord {
  external_id: string;
  attributes: NormalizedGroup;
  tombstoned: boolean;
}
export interface ChangedMembershipRecord {
  group_external_id: string;
  user_external_id: string;
  tombstoned: boolean;
}
export interface ChangedNestingRecord {
  group_external_id: string;
  child_group_external_id: string;
  tombstoned: boolean;
}

export interface SourceRecordChanges {
  users: ChangedUserRecord[];
  groups: ChangedGroupRecord[];
  memberships: ChangedMembershipRecord[];
  nestings: ChangedNestingRecord[];
}

interface StoredState {
  content_hash: string;
  source_hash: string | null;
  tombstoned_at: string | null;
  last_seen_at: string;
}

const UPSERT_SOURCE_RECORDS = bulkInsert(
  'source_records',
  [
    'organization_id', 'connection_id', 'kind', 'external_id', 'group_external_id', 'user_external_id', 'child_group_external_id',
    'raw', 'normalized', 'content_hash', 'source_hash', 'first_seen_at', 'last_seen_at', 'tombstoned_at', 'tombstone_reason',
  ],
  (insert) =>
    insert.onConflict((oc) =>
      oc.columns(['connection_id', 'kind', 'external_id']).doUpdateSet((eb) => ({
        raw: eb.ref('excluded.raw'),
        normalized: eb.ref('excluded.normalized'),
        content_hash: eb.ref('excluded.content_hash'),
        source_hash: eb.ref('excluded.source_hash'),
        last_seen_at: eb.ref('excluded.last_seen_at'),
        tombstoned_at: null,
        tombstone_reason: null,
      })),
    ),
);

const MARK_SEEN = bulkInsert('snapshot_records', ['organization_id', 'run_id', 'kind', 'external_id'], (insert) => insert.onConflict((oc) => oc.doNothing()));

/** `last_seen_at` of an unchanged record is refreshed at most this often: it is "last seen, to the hour". */
const SEEN_REFRESH_MS = 60 * 60 * 1000;

/**
 * Writes one connection's statements as source records: new or changed content is upserted (raw kept),
 * deletions become tombstones, unchanged content only refreshes when it was last seen (hourly). A
 * restated record is unchanged by definition. Every record stated is marked seen by the connection's open
 * snapshots. Returns what changed, which is all the reconciler has to look at.
 */
export async function writeSourceRecords(ctx: ReconcileContext, records: readonly IncomingRecord[]): Promise<SourceRecordChanges> {
  const latest = new Map<string, IncomingRecord>();
  for (const record of records) latest.set(`${record.kind}\u0000${record.external_id}`, record);
  ctx.counters.records_received += records.length;

  const stored = await loadStoredState(ctx, [...latest.values()]);
  const changes: SourceRecordChanges = { users: [], groups: [], memberships: [], nestings: [] };
  const upserts: Array<Record<string, string | null>> = [];
  const tombstones: Array<{ kind: RecordKind; external_id: string }> = [];
  const touched: Array<{ kind: RecordKind; external_id: string }> = [];
  const staleBefore = new Date(Date.parse(ctx.now) - SEEN_REFRESH_MS).toISOString();
  let unchanged = 0;
  let changed = 0;

  for (const record of latest.values()) {
    const key = `${record.kind}\u0000${record.external_id}`;
    const before = stored.get(key);
    if ('restated' in record) {
      // The listing found this hash on the live record before it was applied. A record that changed in
      // between (a push, a tombstone) was stated later than the listing read it, so it stays as it is; the
      // mark below still keeps a full run from removing it.
      if (before && before.last_seen_at < staleBefore && before.source_hash === record.restated && !before.tombstoned_at) touched.push(record);
      unchanged += 1;
      continue;
    }
    if (record.deleted) {
      if (!before || before.tombstoned_at) continue;
      tombstones.push(record);
      noteChange(changes, record, {}, { tombstoned: true, revived: false });
      continue;
    }
    const normalized = 'attributes' in record ? record.attributes : {};
    // Serialized once, for storage and hash alike. Key order is the source's own and stable for one
    // source; a source that reorders keys costs a rewrite of the record, never an event.
    const normalizedJson = JSON.stringify(normalized);
    const rawJson = JSON.stringify(record.raw);
    const hash = contentHash(normalizedJson, rawJson);
    const sourceHash = 'source_hash' in record ? (record.source_hash ?? null) : null;
    if (before && before.content_hash === hash && !before.tombstoned_at) {
      unchanged += 1;
      // Same content from a different item (a volatile field moved) or stated otherwise: the stored hash is
      // rewritten with the row, so the next listing of this item restates it. Nothing downstream changes.
      if (sourceHash !== null && before.source_hash !== sourceHash) upserts.push(sourceRecordRow(ctx, record, rawJson, normalizedJson, hash, sourceHash));
      else if (before.last_seen_at < staleBefore) touched.push(record);
      continue;
    }
    upserts.push(sourceRecordRow(ctx, record, rawJson, normalizedJson, hash, sourceHash));
    changed += 1;
    noteChange(changes, record, normalized, { tombstoned: false, revived: before?.tombstoned_at != null });
  }

  ctx.counters.records_changed += changed + tombstones.length;
  ctx.counters.records_unchanged += unchanged;
  await upsertRows(ctx, upserts);
  await markTombstoned(ctx, tombstones);
  await refreshLastSeen(ctx, touched);
  await markSeenBySnapshots(ctx, [...latest.values()]);
  return changes;
}

function sourceRecordRow(
  ctx: ReconcileContext,
  record: Exclude<IncomingRecord, { deleted: true } | { restated: string }>,
  rawJson: string,
  normalizedJson: string,
  hash: string,
  sourceHash: string | null,
): Record<string, string | null> {
  return {
    organization_id: ctx.organization_id,
    connection_id: ctx.connection.id,
    kind: record.kind,
    external_id: record.external_id,
    group_external_id: record.kind === 'membership' || record.kind === 'group_nesting' ? record.group_external_id : null,
    user_external_id: record.kind === 'membership' ? record.user_external_id : null,
    child_group_external_id: record.kind === 'group_nesting' ? record.child_group_external_id : null,
    raw: rawJson,
    normalized: normalizedJson,
    content_hash: hash,
    source_hash: sourceHash,
    first_seen_at: ctx.now,
    last_seen_at: ctx.now,
    tombstoned_at: null,
    tombstone_reason: null,
  };
}

function noteChange(
  changes: SourceRecordChanges,
  record: Exclude<IncomingRecord, RestatedRecord>,
  normalized: any,
  { tombstoned, revived }: { tombstoned: boolean; revived: boolean },
): void {
  if (record.kind === 'user') changes.users.push({ external_id: record.external_id, attributes: normalized, tombstoned, revived });
  else if (record.kind === 'group') changes.groups.push({ external_id: record.external_id, attributes: normalized, tombstoned });
  else if (record.kind === 'membership') changes.memberships.push({ group_external_id: record.group_external_id, user_external_id: record.user_external_id, tombstoned });
  else if (record.kind === 'group_nesting') changes.nestings.push({ group_external_id: record.group_external_id, child_group_external_id: record.child_group_external_id, tombstoned });
}

async function loadStoredState(ctx: ReconcileContext, records: IncomingRecord[]): Promise<Map<string, StoredState>> {
  const out = new Map<string, StoredState>();
  for (const [kind, group] of groupBy(records, (r) => r.kind)) {
    const ids = group.map((r) => r.external_id);
    const rows = await inSlices(ids, (slice) =>
      ctx.tx
        .selectFrom('source_records')
        .select(['external_id', 'content_hash', 'source_hash', 'tombstoned_at', 'last_seen_at'])
        .where('connection_id', '=', ctx.connection.id)
        .where('kind', '=', kind)
        .where('external_id', 'in', slice)
        .execute(),
    );
    for (const row of rows) out.set(`${kind}\u0000${row.external_id}`, row);
  }
  return out;
}

async function upsertRows(ctx: ReconcileContext, rows: Array<Record<string, string | null>>): Promise<void> {
  await insertRows(ctx.tx, UPSERT_SOURCE_RECORDS, rows, ctx.maxParameters);
}

async function forEachKindSlice(
  records: ReadonlyArray<{ kind: RecordKind; external_id: string }>,
  write: (kind: RecordKind, ids: string[]) => Promise<unknown>,
): Promise<void> {
  for (const [kind, group] of groupBy(records, (r) => r.kind)) {
    for (const slice of chunks(group.map((r) => r.external_id), 1000)) await write(kind, slice);
  }
}

async function markTombstoned(ctx: ReconcileContext, records: Array<{ kind: RecordKind; external_id: string }>) {
  await forEachKindSlice(records, (kind, ids) =>
    ctx.tx
      .updateTable('source_records')
      .set({ tombstoned_at: ctx.now, tombstone_reason: ctx.tombstone_reason, last_seen_at: ctx.now })
      .where('connection_id', '=', ctx.connection.id)
      .where('kind', '=', kind)
      .where('external_id', 'in', ids)
      .execute(),
  );
}

/** Unchanged records last seen over an hour ago (the caller filtered them) get a fresh `last_seen_at`. */
async function refreshLastSeen(ctx: ReconcileContext, records: Array<{ kind: RecordKind; external_id: string }>) {
  await forEachKindSlice(records, (kind, ids) =>
    ctx.tx
      .updateTable('source_records')
      .set({ last_seen_at: ctx.now })
      .where('connection_id', '=', ctx.connection.id)
      .where('kind', '=', kind)
      .where('external_id', 'in', ids)
      .execute(),
  );
}

/** Records that a running (or held) snapshot must not remove: it contained them, or they were pushed while it ran. */
async function markSeenBySnapshots(ctx: ReconcileContext, records: readonly IncomingRecord[]) {
  if (ctx.seen_run_ids.length === 0) return;
  const marks = ctx.seen_run_ids.flatMap((run_id) =>
    records.map((r) => ({ organization_id: ctx.organization_id, run_id, kind: r.kind, external_id: r.external_id })),
  );
  await insertRows(ctx.tx, MARK_SEEN, marks, ctx.maxParameters);
}
