import { z } from 'zod';
import type { ConnectionsRepo } from '../../store/connections.repo.ts';
import { pullConnectionType } from '../../connectors/pull-connection-types.ts';
import { conflictError } from '../../core/errors.ts';
import { newCounters } from '../../reconcile/context.ts';
import { recordBatchSchema, toIncoming } from '../../reconcile/incoming.ts';
import type { Reconciler } from '../../reconcile/reconciler.ts';
import type { SnapshotService } from '../../reconcile/snapshots.ts';
import { visibleOr404 } from '../auth.ts';
import { errorResponses } from '../errors.ts';
import { idParams } from '../schemas.ts';
import type { FastifyZodInstance } from '../types.ts';
import { syncRunSchema } from './sync-runs.routes.ts';

export interface IngestRoutesDeps {
  connections: ConnectionsRepo;
  reconciler: Reconciler;
  snapshots: SnapshotService;
}

export const countersSchema = z
  .object(Object.fromEntries(Object.keys(newCounters()).map((key) => [key, z.number().int()])))
  .meta({ id: 'ReconcileCounters' });

const batchBody = recordBatchSchema.meta({
  id: 'RecordBatch',
  description:
    'Upserts and tombstones of one connection’s users, groups and memberships, keyed by the source’s stable ids. ' +
    'Applied in one transaction: every record or none.',
});
const params = idParams('connection', 'conn_01j…');
const snapshotParams = z.strictObject({
  id: z.string().max(200).describe('The connection id.'),
  snapshot_id: z.string().max(200).describe('The snapshot (sync run) id, `run_…`.'),
});

/** The generic ingest path every source feeds: record batches and snapshot framing. */
export function registerIngestRoutes(app: FastifyZodInstance, deps: IngestRoutesDeps): void {
  const { connections, reconciler, snapshots } = deps;
  const visibleConnection = async (principal: Parameters<typeof visibleOr404>[0], id: string) => {
    const connection = visibleOr404(principal, await connections.get(id), 'connection', id);
    // What a pull connection holds is what its source lists: records fed from outside would be undone by its next full run.
    if (pullConnectionType(connection.type)) {
      throw conflictError('not_a_push_connection', `Connection '${id}' is a ${connection.type} connection: Roster pulls its records; only push connections take records through this API.`, {
        connection_id: id,
        type: connection.type,
      });
    }
    return connection;
  };

  app.post('/v1/connections/:id/records', {
    schema: {
      tags: ['ingest'],
      summary: 'Apply a batch of records (upserts and tombstones) from this connection',
      params,
      body: batchBody,
      response: { 200: z.object({ counters: countersSchema }), ...errorResponses(400, 401, 404, 409, 413, 415) },
    },
    handler: async (request) => {
      const connection = await visibleConnection(request.principal, request.params.id);
      const counters = await reconciler.apply(connection.id, request.body.records.map(toIncoming));
      return { counters };
    },
  });

  app.post('/v1/connections/:id/snapshots', {
    schema: {
      tags: ['ingest'],
      summary: 'Begin a full snapshot: only a committed snapshot may remove what it did not contain',
      params,
      response: { 201: syncRunSchema, ...errorResponses(401, 404, 409) },
    },
    handler: async (request, reply) => {
      const connection = await visibleConnection(request.principal, request.params.id);
      return reply.code(201).send(await snapshots.begin(connection.id));
    },
  });

  app.post('/v1/connections/:id/snapshots/:snapshot_id/records', {
    schema: {
      tags: ['ingest'],
      summary: 'Add a page of records to a running snapshot',
      params: snapshotParams,
      body: batchBody,
      response: { 200: z.object({ counters: countersSchema, snapshot: syncRunSchema }), ...errorResponses(400, 401, 404, 409, 413, 415) },
    },
    handler: async (request) => {
      const connection = await visibleConnection(request.principal, request.params.id);
      return snapshots.addRecords(connection.id, request.params.snapshot_id, request.body.records.map(toIncoming));
    },
  });

  app.post('/v1/connections/:id/snapshots/:snapshot_id/commit', {
    schema: {
      tags: ['ingest'],
      summary: 'Commit a snapshot: what it did not contain is removed, or the run is held by the deprovision guard',
      params: snapshotParams,
      response: { 200: syncRunSchema, ...errorResponses(401, 404, 409) },
    },
    handler: async (request) => {
      const connection = await visibleConnection(request.principal, request.params.id);
      return snapshots.commit(connection.id, request.params.snapshot_id);
    },
  });

  app.delete('/v1/connections/:id/snapshots/:snapshot_id', {
    schema: {
      tags: ['ingest'],
      summary: 'Abort a running snapshot; nothing is removed',
      params: snapshotParams,
      response: { 200: syncRunSchema, ...errorResponses(401, 404, 409) },
    },
    handler: async (request) => {
      const connection = await visibleConnection(request.principal, request.params.id);
      return snapshots.abort(connection.id, request.params.snapshot_id, request.principal.keyId);
    },
  });
}
