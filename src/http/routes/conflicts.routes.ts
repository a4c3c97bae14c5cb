import { z } from 'zod';
import { CONFLICT_KINDS, CONFLICT_RESOLUTIONS, conflictView } from '../../core/conflicts.ts';
import type { ConflictResolver } from '../../reconcile/conflict-resolution.ts';
import type { ConflictsRepo } from '../../store/conflicts.repo.ts';
import { scopeOrganizationFilter, visibleOr404 } from '../auth.ts';
import { errorResponses } from '../errors.ts';
import { pageParams, pageSchema, paginationQuery, toPage } from '../pagination.ts';
import { idParams, organizationIdQuery, timestampSchema } from '../schemas.ts';
import type { FastifyZodInstance } from '../types.ts';

export const conflictSchema = z
  .object({
    id: z.string(),
    organization_id: z.string(),
    kind: z.enum(CONFLICT_KINDS),
    subject_type: z.enum(['user', 'source_record']),
    subject_id: z.string().describe('The user id, or `connection_id/external_id` of an unlinked record.'),
    attribute: z.string().nullable(),
    details: z.record(z.string(), z.unknown()).describe('The disagreeing values with their connections, or the join candidates.'),
    status: z.enum(['open', 'resolved']),
    resolution: z.enum(CONFLICT_RESOLUTIONS).nullable(),
    resolved_by: z.string().nullable(),
    opened_at: timestampSchema,
    resolved_at: timestampSchema.nullable(),
  })
  .meta({ id: 'Conflict' });

const resolveBody = z
  .discriminatedUnion('resolution', [
    z.strictObject({ resolution: z.literal('accepted').describe('Keep the policy’s winner; the same disagreement does not reopen.') }),
    z.strictObject({
      resolution: z.literal('preferred').describe('Make this connection the winner of the attribute for this person.'),
      connection_id: z.string().max(200),
    }),
    z.strictObject({ resolution: z.literal('linked').describe('Link the record to this user.'), user_id: z.string().max(200) }),
    z.strictObject({ resolution: z.literal('separate').describe('Make the record a person of its own.') }),
  ])
  .meta({ id: 'ConflictResolution' });

export function registerConflictRoutes(app: FastifyZodInstance, deps: { conflicts: ConflictsRepo; resolver: ConflictResolver }): void {
  const { conflicts, resolver } = deps;
  const params = idParams('conflict', 'cfl_01j…');

  app.get('/v1/conflicts', {
    schema: {
      tags: ['conflicts'],
      summary: 'List conflicts',
      querystring: z.strictObject({
        ...paginationQuery,
        organization_id: organizationIdQuery,
        status: z.enum(['open', 'resolved']).optional(),
        kind: z.enum(CONFLICT_KINDS).optional(),
        subject_id: z.string().max(400).optional(),
      }),
      response: { 200: pageSchema(conflictSchema), ...errorResponses(400, 401, 404) },
    },
    handler: async (request) => {
      const q = request.query;
      const organization_id = scopeOrganizationFilter(request.principal, q.organization_id);
      const page = pageParams(q);
      const rows = await conflicts.list({ organization_id, status: q.status, kind: q.kind, subject_id: q.subject_id }, page);
      return toPage(rows, page, (row) => conflictView(row) as z.infer<typeof conflictSchema>);
    },
  });

  app.get('/v1/conflicts/:id', {
    schema: { tags: ['conflicts'], summary: 'Get a conflict', params, response: { 200: conflictSchema, ...errorResponses(401, 404) } },
    handler: async (request) =>
      conflictView(visibleOr404(request.principal, await conflicts.get(request.params.id), 'conflict', request.params.id)) as z.infer<
        typeof conflictSchema
      >,
  });

  app.post('/v1/conflicts/:id/resolve', {
    schema: {
      tags: ['conflicts'],
      summary: 'Resolve a conflict',
      params,
      body: resolveBody,
      response: { 200: conflictSchema, ...errorResponses(400, 401, 404, 409, 415) },
    },
    handler: async (request) => {
      visibleOr404(request.principal, await conflicts.get(request.params.id), 'conflict', request.params.id);
      return (await resolver.resolve(request.params.id, request.body, request.principal.keyId)) as z.infer<typeof conflictSchema>;
    },
  });
}
