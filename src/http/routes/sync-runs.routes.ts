import { z } from 'zod';
import { SYNC_RUN_STATUSES } from '../../core/sync-run-states.ts';
import { syncRunView } from '../../reconcile/sync-runs.ts';
import type { SnapshotService } from '../../reconcile/snapshots.ts';
import type { SyncRunsRepo } from '../../store/sync-runs.repo.ts';
import { scopeOrganizationFilter, visibleOr404 } from '../auth.ts';
import { errorResponses } from '../errors.ts';
import { pageParams, pageSchema, paginationQuery, toPage } from '../pagination.ts';
import { idParams, organizationIdQuery, timestampSchema } from '../schemas.ts';
import type { FastifyZodInstance } from '../types.ts';

export const syncRunSchema = z
  .object({
    id: z.string(),
    organization_id: z.string(),
    connection_id: z.string(),
    kind: z.string(),
    status: z.enum(SYNC_RUN_STATUSES),
    counters: z.record(z.string(), z.number()),
    held: z.record(z.string(), z.unknown()).nullable().describe('Why the deprovision guard held the run.'),
    error: z.string().nullable(),
    started_at: timestampSchema,
    finished_at: timestampSchema.nullable(),
    updated_at: timestampSchema,
    trigger: z.string().nullable().describe('What started it: manual, schedule, activation, api (a pushed snapshot).'),
    progress: z
      .object({
        phase: z.string().describe('users, groups, members, or done'),
        pages: z.number(),
        records: z.number(),
        rate: z.number().describe('records per second'),
        expected_records: z.number().nullable().describe('records of the previous run of this kind'),
        eta_seconds: z.number().nullable(),
        fallback: z.string().optional().describe('Why a delta run became a full run: no_cursor, cursor_expired: …'),
      })
      .nullable()
      .describe('Where a pull run is; null for pushed snapshots.'),
    attempts: z.number().describe('Workers that started or took over the run; above 1 it resumed from its checkpoint.'),
  })
  .meta({ id: 'SyncRun' });

export interface SyncRunRoutesDeps {
  syncRuns: SyncRunsRepo;
  snapshots: SnapshotService;
}

export function registerSyncRunRoutes(app: FastifyZodInstance, deps: SyncRunRoutesDeps): void {
  const { syncRuns, snapshots } = deps;
  const params = idParams('sync run', 'run_01j…');

  app.get('/v1/sync-runs', {
    schema: {
      tags: ['sync runs'],
      summary: 'List sync runs, newest first',
      querystring: z.strictObject({
        ...paginationQuery,
        organization_id: organizationIdQuery,
        connection_id: z.string().max(200).optional(),
        status: z.enum(SYNC_RUN_STATUSES).optional(),
      }),
      response: { 200: pageSchema(syncRunSchema), ...errorResponses(400, 401, 404) },
    },
    handler: async (request) => {
      const organization_id = scopeOrganizationFilter(request.principal, request.query.organization_id);
      const page = pageParams(request.query);
      const rows = await syncRuns.list({ organization_id, connection_id: request.query.connection_id, status: request.query.status }, page);
      return toPage(rows, page, syncRunView);
    },
  });

  app.get('/v1/sync-runs/:id', {
    schema: { tags: ['sync runs'], summary: 'Get a sync run', params, response: { 200: syncRunSchema, ...errorResponses(401, 404) } },
    handler: async (request) => syncRunView(visibleOr404(request.principal, await syncRuns.get(request.params.id), 'sync_run', request.params.id)),
  });

  app.post('/v1/sync-runs/:id/confirm', {
    schema: {
      tags: ['sync runs'],
      summary: 'Confirm a held run: apply the removals the deprovision guard stopped',
      params,
      response: { 200: syncRunSchema, ...errorResponses(401, 404, 409) },
    },
    handler: async (request) => {
      visibleOr404(request.principal, await syncRuns.get(request.params.id), 'sync_run', request.params.id);
      return snapshots.confirm(request.params.id, request.principal.keyId);
    },
  });

  app.post('/v1/sync-runs/:id/discard', {
    schema: {
      tags: ['sync runs'],
      summary: 'Discard a held run: nobody is removed',
      params,
      response: { 200: syncRunSchema, ...errorResponses(401, 404, 409) },
    },
    handler: async (request) => {
      visibleOr404(request.principal, await syncRuns.get(request.params.id), 'sync_run', request.params.id);
      return snapshots.discard(request.params.id, request.principal.keyId);
    },
  });
}
