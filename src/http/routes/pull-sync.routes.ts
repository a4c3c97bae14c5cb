import { z } from 'zod';
import { pullConnectionType } from '../../connectors/pull-connection-types.ts';
import { conflictError } from '../../core/errors.ts';
import type { JsonObject } from '../../core/model.ts';
import type { ConnectionRecord, ConnectionsRepo } from '../../store/connections.repo.ts';
import { PULL_KINDS, type SyncRunner } from '../../sync/sync-runner.ts';
import { visibleOr404 } from '../auth.ts';
import { errorResponses, invalidBodyPart } from '../errors.ts';
import { idParams } from '../schemas.ts';
import type { FastifyZodInstance } from '../types.ts';
import type { PullConnectionSetup } from './connections.routes.ts';
import { connectionSchema } from './connections.routes.ts';
import { syncRunSchema } from './sync-runs.routes.ts';

export interface PullSyncRoutesDeps {
  connections: ConnectionsRepo;
  runner: SyncRunner;
  pull: PullConnectionSetup;
  clock: () => Date;
}

const params = idParams('connection', 'conn_01j…');

/** Pull connections: sync now, and new credentials (a rotated key, a different admin). */
export function registerPullSyncRoutes(app: FastifyZodInstance, deps: PullSyncRoutesDeps): void {
  const { connections, runner, pull } = deps;

  app.post('/v1/connections/:id/sync', {
    schema: {
      tags: ['sync runs'],
      summary:
        'Sync now: queue a run of a pull connection (`full` by default; `profile` or `critical` read less and remove nothing). ' +
        'A connection runs one sync at a time: when one is under way it is answered instead, with `created: false`.',
      params,
      body: z.strictObject({ kind: z.enum(PULL_KINDS).default('full') }).nullish(),
      response: { 202: z.object({ run: syncRunSchema, created: z.boolean() }), ...errorResponses(400, 401, 404, 409) },
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      pullConnection(visibleOr404(request.principal, await connections.get(id), 'connection', id));
      return reply.code(202).send(await runner.request(id, request.body?.kind ?? 'full', 'manual'));
    },
  });

  app.put('/v1/connections/:id/credentials', {
    schema: {
      tags: ['connections'],
      summary: 'Replace the credentials of a pull connection; they are checked again before it syncs (write-only, stored encrypted)',
      params,
      body: z.strictObject({ credentials: z.record(z.string(), z.unknown()) }),
      response: { 200: connectionSchema, ...errorResponses(400, 401, 404, 409) },
    },
    handler: async (request) => {
      const { id } = request.params;
      const connection = pullConnection(visibleOr404(request.principal, await connections.get(id), 'connection', id));
      const type = pullConnectionType(connection.type)!;
      const parsed = type.credentialsSchema.safeParse(request.body.credentials);
      if (!parsed.success) throw invalidBodyPart(['body', 'credentials'], parsed.error);
      const now = deps.clock().toISOString();
      // The state table decides first (409 when the move is not allowed), so refused credentials are never stored.
      const state = type.awaitsConsent(parsed.data) ? 'draft' : 'validating';
      const updated = await connections.transition(id, state, { reason: null, audited: { actor: request.principal.keyId, action: 'connection.credentials_replaced' } }, now);
      await pull.secrets.write(undefined, connection, parsed.data as JsonObject, now);
      if (state === 'validating') await pull.validateLater(id);
      return updated!;
    },
  });
}

function pullConnection(connection: ConnectionRecord): ConnectionRecord {
  if (!pullConnectionType(connection.type)) {
    throw conflictError('not_a_pull_connection', `Connection '${connection.id}' is a ${connection.type} connection; Roster does not pull from it.`, {
      connection_id: connection.id,
      type: connection.type,
    });
  }
  return connection;
}
