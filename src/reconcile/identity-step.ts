import { fingerprint, type ConflictRow } from '../core/conflicts.ts';
import { referenceKey, userEmails } from '../core/derive-user.ts';
import { decideIdentity, type IdentityIndex } from '../core/identity-join.ts';
import { newId } from '../core/ids.ts';
import type { NormalizedUser } from '../core/model.ts';
import { chunks, inSlices } from '../store/batching.ts';
import { bulkInsert, insertRows } from '../store/bulk-insert.ts';
import type { ReconcileContext } from './context.ts';
import { closeConflicts, openConflict } from './conflict-writer.ts';
import { linkedCanonicalIds, usersWithIdentifiers } from './lookups.ts';
import type { ChangedUserRecord } from './source-record-writer.ts';

export interface IdentityStepResult {
  /** Every changed record that belongs to a user now, with that user. */
  owners: Map<string, string>;
  /** Records linked in this step (new person or joined to an existing one). */
  newLinks: Array<{ external_id: string; user_id: string }>;
  newUserIds: Set<string>;
  /** Reference keys (`employee_id:…`, `email:…`, `ext:…`) that now point at a user. */
  newReferenceKeys: string[];
}

type IdentifierKind = 'employee_id' | 'email';

const INSERT_LINKS = bulkInsert('identity_links', ['organization_id', 'connection_id', 'kind', 'external_id', 'canonical_id', 'method', 'created_at']);
const INSERT_IDENTIFIERS = bulkInsert('user_identifiers', ['organization_id', 'kind', 'value', 'user_id', 'connection_id', 'external_id'], (insert) =>
  insert.onConflict((oc) => oc.doNothing()),
);

function identifiersOf(attributes: NormalizedUser): Array<{ kind: IdentifierKind; value: string }> {
  const out: Array<{ kind: IdentifierKind; value: string }> = [];
  const employeeId = attributes.employee_id?.trim();
  if (employeeId) out.push({ kind: 'employee_id', value: employeeId });
  for (const email of userEmails(attributes)) out.push({ kind: 'email', value: email });
  return out;
}

/**
 * Links each changed user record of the connection to its canonical person: existing links are kept
 * (links live on stable ids, so an email change never splits a person), unlinked records go through the
 * join rules. Keeps the identifier index current for the records it touched.
 */
export async function linkUserRecords(ctx: ReconcileContext, changed: readonly ChangedUserRecord[]): Promise<IdentityStepResult> {
  const owners = await linkedCanonicalIds(ctx, ctx.connection.id, 'user', changed.map((r) => r.external_id));
  const previouslyLinked = new Set(owners.keys());

  const unlinked = changed.filter((r) => !owners.has(r.external_id) && !r.tombstoned);
  const index = await loadIdentityIndex(ctx, unlinked);
  const newLinks: IdentityStepResult['newLinks'] = [];
  const newUserIds = new Set<string>();
  const ambiguous = new Map<string, { rule: string; candidates: string[] }>();

  for (const record of unlinked) {
    const identifiers = identifiersOf(record.attributes);
    const decision = decideIdentity(
      {
        connection_id: ctx.connection.id,
        employee_id: identifiers.find((i) => i.kind === 'employee_id')?.value ?? null,
        emails: identifiers.filter((i) => i.kind === 'email').map((i) => i.value),
      },
      ctx.policy,
      index,
    );
    if (decision.kind === 'ambiguous') {
      ambiguous.set(record.external_id, { rule: decision.rule, candidates: decision.candidates });
      continue;
    }
    const userId = decision.kind === 'link' ? decision.user_id : newId('user');
    if (decision.kind === 'new') newUserIds.add(userId);
    owners.set(record.external_id, userId);
    newLinks.push({ external_id: record.external_id, user_id: userId });
    index.addIdentifiers(userId, identifiers);
    index.addRecordFrom(userId, ctx.connection.id);
  }

  await insertLinks(ctx, newLinks, newUserIds);
  await replaceIdentifiers(ctx, changed, owners, previouslyLinked);
  await recordAmbiguity(ctx, changed, ambiguous, owners);

  const newReferenceKeys = newLinks.map((l) => referenceKey.external(ctx.connection.id, l.external_id));
  for (const record of changed) {
    if (!owners.has(record.external_id) || record.tombstoned) continue;
    for (const id of identifiersOf(record.attributes)) newReferenceKeys.push(referenceKey.identifier(id.kind, id.value));
  }
  return { owners, newLinks, newUserIds, newReferenceKeys };
}

class ChunkIdentityIndex implements IdentityIndex {
  private readonly byIdentifier = new Map<string, Set<string>>();
  private readonly connectionsOf = new Map<string, Set<string>>();

  usersWith(kind: IdentifierKind, value: string): readonly string[] {
    return [...(this.byIdentifier.get(`${kind}:${value}`) ?? [])];
  }
  hasRecordFrom(userId: string, connectionId: string): boolean {
    return this.connectionsOf.get(userId)?.has(connectionId) ?? false;
  }
  addIdentifiers(userId: string, identifiers: ReadonlyArray<{ kind: string; value: string }>): void {
    for (const { kind, value } of identifiers) {
      const key = `${kind}:${value}`;
      this.byIdentifier.set(key, (this.byIdentifier.get(key) ?? new Set()).add(userId));
    }
  }
  addRecordFrom(userId: string, connectionId: string): void {
    this.connectionsOf.set(userId, (this.connectionsOf.get(userId) ?? new Set()).add(connectionId));
  }
  candidates(): string[] {
    return [...new Set([...this.byIdentifier.values()].flatMap((users) => [...users]))];
  }
}

async function loadIdentityIndex(ctx: ReconcileContext, records: readonly ChangedUserRecord[]): Promise<ChunkIdentityIndex> {
  const index = new ChunkIdentityIndex();
  if (records.length === 0) return index;
  for (const kind of ['employee_id', 'email'] as const) {
    const values = records.flatMap((r) => identifiersOf(r.attributes).filter((i) => i.kind === kind).map((i) => i.value));
    const rows = await usersWithIdentifiers(ctx, kind, values);
    for (const row of rows) index.addIdentifiers(row.user_id, [{ kind, value: row.value }]);
  }
  const candidates = index.candidates();
  const links = await inSlices(candidates, (slice) =>
    ctx.tx
      .selectFrom('identity_links')
      .select(['canonical_id', 'connection_id'])
      .where('canonical_id', 'in', slice)
      .where('kind', '=', 'user')
      .execute(),
  );
  for (const link of links) index.addRecordFrom(link.canonical_id, link.connection_id);
  return index;
}

export async function insertLinks(
  ctx: ReconcileContext,
  links: IdentityStepResult['newLinks'],
  newUserIds: ReadonlySet<string>,
  method?: 'manual',
) {
  const rows = links.map((l) => ({
    organization_id: ctx.organization_id,
    connection_id: ctx.connection.id,
    kind: 'user',
    external_id: l.external_id,
    canonical_id: l.user_id,
    method: method ?? (newUserIds.has(l.user_id) ? 'new' : 'join'),
    created_at: ctx.now,
  }));
  await insertRows(ctx.tx, INSERT_LINKS, rows, ctx.maxParameters);
}

/** Rewrites the identifiers of linked, live records; only records linked before can have stale ones to clear. */
export async function replaceIdentifiers(
  ctx: ReconcileContext,
  changed: readonly ChangedUserRecord[],
  owners: Map<string, string>,
  previouslyLinked: ReadonlySet<string>,
) {
  const live = changed.filter((r) => !r.tombstoned && owners.has(r.external_id));
  const stale = live.filter((r) => previouslyLinked.has(r.external_id)).map((r) => r.external_id);
  for (const slice of chunks(stale, 1000)) {
    await ctx.tx
      .deleteFrom('user_identifiers')
      .where('connection_id', '=', ctx.connection.id)
      .where('external_id', 'in', slice)
      .execute();
  }
  const rows = live.flatMap((r) =>
    identifiersOf(r.attributes).map((i) => ({
      organization_id: ctx.organization_id,
      kind: i.kind,
      value: i.value,
      user_id: owners.get(r.external_id)!,
      connection_id: ctx.connection.id,
      external_id: r.external_id,
    })),
  );
  await insertRows(ctx.tx, INSERT_IDENTIFIERS, rows, ctx.maxParameters);
}

function recordSubject(ctx: ReconcileContext, externalId: string): string {
  return `${ctx.connection.id}/${externalId}`;
}

/** Ambiguous records get (or keep) an identity_ambiguous conflict; records that linked close theirs. */
async function recordAmbiguity(
  ctx: ReconcileContext,
  changed: readonly ChangedUserRecord[],
  ambiguous: Map<string, { rule: string; candidates: string[] }>,
  owners: Map<string, string>,
) {
  const subjects = changed.map((r) => recordSubject(ctx, r.external_id));
  const open = (await inSlices(subjects, (slice) =>
    ctx.tx
      .selectFrom('conflicts')
      .selectAll()
      .where('subject_id', 'in', slice)
      .where('kind', '=', 'identity_ambiguous')
      .where('status', '=', 'open')
      .execute(),
  )) as ConflictRow[];
  const openBySubject = new Map(open.map((c) => [c.subject_id, c]));

  for (const [externalId, found] of ambiguous) {
    const subject = recordSubject(ctx, externalId);
    if (openBySubject.has(subject)) continue;
    await openConflict(ctx, {
      kind: 'identity_ambiguous',
      subject_type: 'source_record',
      subject_id: subject,
      attribute: null,
      fingerprint: fingerprint(found.candidates),
      details: { connection_id: ctx.connection.id, external_id: externalId, rule: found.rule, candidates: found.candidates },
    });
  }
  const linkedNow = open.filter((c) => {
    const externalId = c.subject_id.slice(ctx.connection.id.length + 1);
    return owners.has(externalId) || changed.some((r) => r.external_id === externalId && r.tombstoned);
  });
  await closeConflicts(
    ctx,
    linkedNow,
    (c) => (owners.has(c.subject_id.slice(ctx.connection.id.length + 1)) ? 'linked' : 'subject_removed'),
    null,
  );
}
