import { conflictView, type ConflictRow } from '../core/conflicts.ts';
import { DomainError, invalid, notFound } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { JsonObject, OwnedUserAttribute } from '../core/model.ts';
import { appendAudit } from '../store/audit.repo.ts';
import type { Database } from '../store/database.ts';
import type { ReconcileContext } from './context.ts';
import { closeConflicts } from './conflict-writer.ts';
import { insertLinks, replaceIdentifiers } from './identity-step.ts';
import { reconcileMemberships } from './membership-step.ts';
import type { Reconciler } from './reconciler.ts';
import { reconcileRoles } from './role-step.ts';
import { recomputeUsers } from './user-step.ts';

/** What an admin decides about an open conflict. */
export type ConflictDecision =
  | { resolution: 'accepted' }
  | { resolution: 'preferred'; connection_id: string }
  | { resolution: 'linked'; user_id: string }
  | { resolution: 'separate' };

const ATTRIBUTE_DECISIONS = new Set(['accepted', 'preferred']);
const IDENTITY_DECISIONS = new Set(['linked', 'separate']);

/**
 * Admin resolution of conflicts, through the reconciler's single write path:
 * - attribute conflicts: `accepted` keeps the policy's winner, `preferred` pins a connection as the
 *   winner of that attribute for that person (the user is re-derived at once);
 * - identity conflicts: `linked` joins the record to the chosen user, `separate` makes it a person of its own.
 */
export class ConflictResolver {
  constructor(
    private readonly database: Database,
    private readonly reconciler: Reconciler,
  ) {}

  async resolve(conflictId: string, decision: ConflictDecision, actor: string): Promise<JsonObject> {
    const conflict = (await this.database.db.selectFrom('conflicts').selectAll().where('id', '=', conflictId).executeTakeFirst()) as
      | ConflictRow
      | undefined;
    if (!conflict) throw notFound('conflict', conflictId);
    const details = JSON.parse(conflict.details) as JsonObject;
    const allowed = conflict.kind === 'attribute' ? ATTRIBUTE_DECISIONS : IDENTITY_DECISIONS;
    if (!allowed.has(decision.resolution)) {
      throw invalid('invalid_resolution', `body.resolution: a ${conflict.kind} conflict is resolved with ${[...allowed].join(' or ')}.`, {
        allowed: [...allowed],
      });
    }
    const connectionId =
      conflict.kind === 'attribute' ? ((details.winner as JsonObject).connection_id as string) : (details.connection_id as string);

    await this.reconciler.adjust(connectionId, async (ctx) => {
      const current = (await ctx.tx.selectFrom('conflicts').selectAll().where('id', '=', conflictId).executeTakeFirstOrThrow()) as ConflictRow;
      if (current.status !== 'open') {
        throw new DomainError('conflict_not_open', `Conflict '${conflictId}' is already ${current.status}.`, 409, { status: current.status });
      }
      await closeConflicts(ctx, [current], () => (decision.resolution === 'separate' ? 'linked' : decision.resolution) as any, actor);
      if (decision.resolution === 'preferred') await this.pin(ctx, current, details, decision.connection_id);
      if (decision.resolution === 'linked' || decision.resolution === 'separate') {
        await this.link(ctx, details.external_id as string, decision.resolution === 'linked' ? decision.user_id : null);
      }
      await appendAudit(
        ctx.tx,
        {
          organizationId: ctx.organization_id,
          actor,
          action: 'conflict.resolved',
          targetType: 'conflict',
          targetId: conflictId,
          details: decision as unknown as JsonObject,
        },
        ctx.now,
      );
    });
    const row = await this.database.db.selectFrom('conflicts').selectAll().where('id', '=', conflictId).executeTakeFirstOrThrow();
    return conflictView(row as ConflictRow);
  }

  private async pin(ctx: ReconcileContext, conflict: ConflictRow, details: JsonObject, connectionId: string) {
    const candidates = (details.values as JsonObject[]).map((v) => v.connection_id as string);
    if (!candidates.includes(connectionId)) {
      throw invalid('invalid_preference', `body.connection_id: must be one of the connections in the conflict (${candidates.join(', ')}).`, {
        allowed: candidates,
      });
    }
    const user = await ctx.tx.selectFrom('users').select(['pins']).where('id', '=', conflict.subject_id).executeTakeFirstOrThrow();
    const pins = JSON.parse(user.pins) as Partial<Record<OwnedUserAttribute, string>>;
    pins[conflict.attribute as OwnedUserAttribute] = connectionId;
    await ctx.tx.updateTable('users').set({ pins: JSON.stringify(pins) }).where('id', '=', conflict.subject_id).execute();
    await recomputeUsers(ctx, [conflict.subject_id]);
  }

  /** Links an unlinked record of the connection to `userId`, or to a new person when null. */
  private async link(ctx: ReconcileContext, externalId: string, userId: string | null) {
    const already = await ctx.tx
      .selectFrom('identity_links')
      .select('canonical_id')
      .where('connection_id', '=', ctx.connection.id)
      .where('kind', '=', 'user')
      .where('external_id', '=', externalId)
      .executeTakeFirst();
    if (already) throw new DomainError('record_already_linked', `Record '${externalId}' is already linked to '${already.canonical_id}'.`, 409);
    if (userId) {
      const user = await ctx.tx.selectFrom('users').select('id').where('id', '=', userId).where('organization_id', '=', ctx.organization_id).executeTakeFirst();
      if (!user) throw notFound('user', userId);
      const sameSource = await ctx.tx
        .selectFrom('identity_links')
        .select('external_id')
        .where('canonical_id', '=', userId)
        .where('connection_id', '=', ctx.connection.id)
        .executeTakeFirst();
      if (sameSource) {
        throw new DomainError('user_already_has_record', `User '${userId}' already has record '${sameSource.external_id}' from this connection.`, 409);
      }
    }
    const target = userId ?? newId('user');
    const record = await ctx.tx
      .selectFrom('source_records')
      .select(['normalized', 'tombstoned_at'])
      .where('connection_id', '=', ctx.connection.id)
      .where('kind', '=', 'user')
      .where('external_id', '=', externalId)
      .executeTakeFirstOrThrow();
    await insertLinks(ctx, [{ external_id: externalId, user_id: target }], userId ? new Set() : new Set([target]), 'manual');
    const changed = { external_id: externalId, attributes: JSON.parse(record.normalized), tombstoned: record.tombstoned_at !== null, revived: false };
    await replaceIdentifiers(ctx, [changed], new Map([[externalId, target]]), new Set());
    await recomputeUsers(ctx, [target]);
    const touched = await reconcileMemberships(ctx, { changed: [], linkedUsers: [externalId], removedUsers: [], activatedGroups: [] });
    await reconcileRoles(ctx, new Set([target, ...touched]));
  }
}
