import { z } from 'zod';
import { invalid, notFound } from '../../core/errors.ts';
import { EVENT_TYPES } from '../../core/model.ts';
import type { Database } from '../../store/database.ts';
import { readDirectorySnapshot } from '../../store/directory-snapshot.repo.ts';
import type { EventsRepo } from '../../store/events.repo.ts';
import { assertCanAccessOrganization, scopeOrganizationFilter } from '../auth.ts';
import { errorResponses } from '../errors.ts';
import { decodeCursor, encodeCursor } from '../pagination.ts';
import { idParams, organizationIdQuery, timestampSchema } from '../schemas.ts';
import { groupSchema, membershipSchema, userSchema } from './directory.routes.ts';
import type { FastifyZodInstance } from '../types.ts';

export const eventSchema = z
  .object({
    id: z.string(),
    type: z.enum(EVENT_TYPES),
    organization_id: z.string(),
    sequence: z.number().int().describe('Monotonic per organization, without gaps.'),
    occurred_at: timestampSchema,
    data: z.record(z.string(), z.unknown()).describe('The full object after the change.'),
    changes: z.record(z.string(), z.object({ from: z.unknown(), to: z.unknown() })).nullable(),
    source: z.object({ connection_id: z.string().nullable(), connection_type: z.string().nullable(), sync_run_id: z.string().nullable() }).nullable(),
  })
  .meta({ id: 'Event' });

function decodePosition(cursor: string): number {
  const decoded = decodeCursor(cursor);
  const position = /^\d{1,15}$/.test(decoded) ? Number(decoded) : NaN;
  if (!Number.isSafeInteger(position)) throw invalid('invalid_cursor', 'query.after: not a cursor returned by this API.', { after: cursor });
  return position;
}

export interface EventRoutesDeps {
  events: EventsRepo;
  database: Database;
  /** Whether an organization exists (another organization's answers 404 for a scoped key before this). */
  organizationExists: (id: string) => Promise<boolean>;
}

export function registerEventRoutes(app: FastifyZodInstance, deps: EventRoutesDeps): void {
  const { events, database, organizationExists } = deps;

  app.get('/v1/organizations/:id/directory', {
    schema: {
      tags: ['events'],
      summary:
        'The whole directory of an organization and the event cursor it is consistent with: bootstrap from it, ' +
        'then follow `/v1/events?after=<cursor>` without gaps',
      params: idParams('organization', 'org_01j…'),
      response: {
        200: z
          .object({
            organization_id: z.string(),
            cursor: z.string().describe('Pass as `after` to /v1/events to receive every later change.'),
            users: z.array(userSchema),
            groups: z.array(groupSchema),
            memberships: z.array(membershipSchema.omit({ id: true, organization_id: true })),
            nested_groups: z
              .array(z.object({ group_id: z.string(), child_group_id: z.string(), created_at: timestampSchema }))
              .describe('Groups inside groups (direct nesting); `group.nested_group_added` and `_removed` events follow it.'),
          })
          .meta({ id: 'DirectorySnapshot' }),
        ...errorResponses(401, 404),
      },
    },
    handler: async (request) => {
      assertCanAccessOrganization(request.principal, request.params.id);
      if (!(await organizationExists(request.params.id))) throw notFound('organization', request.params.id);
      const { position, ...snapshot } = await readDirectorySnapshot(database, request.params.id);
      return { ...snapshot, cursor: encodeCursor(String(position)) };
    },
  });

  app.get('/v1/events', {
    schema: {
      tags: ['events'],
      summary: 'Read the event log in order, after a cursor',
      querystring: z.strictObject({
        after: z.string().max(100).optional().describe('`next_cursor` of a previous call; omit to read from the beginning.'),
        organization_id: organizationIdQuery,
        types: z
          .string()
          .max(2000)
          .optional()
          .describe('Comma-separated event types, e.g. `user.created,user.deactivated`.'),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
      }),
      response: {
        200: z.object({
          data: z.array(eventSchema),
          next_cursor: z.string().describe('Pass as `after` to continue; returned even when the page is empty, to poll from.'),
        }),
        ...errorResponses(400, 401, 404),
      },
    },
    handler: async (request) => {
      const q = request.query;
      const organization_id = scopeOrganizationFilter(request.principal, q.organization_id);
      const types = q.types?.split(',').map((t) => t.trim());
      const unknown = types?.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t)) ?? [];
      if (unknown.length > 0) {
        throw invalid('invalid_request', `query.types: unknown event type ${unknown.map((t) => `'${t}'`).join(', ')}.`, { unknown });
      }
      const after = q.after === undefined ? 0 : decodePosition(q.after);
      const rows = await events.list({ after, organization_id, types, limit: q.limit });
      const last = rows.at(-1)?.position ?? after;
      return {
        data: rows.map(({ position: _position, ...event }) => event),
        next_cursor: encodeCursor(String(last)),
      };
    },
  });

  app.get('/v1/events/head', {
    schema: {
      tags: ['events'],
      summary: 'The cursor of the newest event: follow the log from now on by passing it as `after`',
      querystring: z.strictObject({ organization_id: organizationIdQuery }),
      response: { 200: z.object({ cursor: z.string() }), ...errorResponses(400, 401, 404) },
    },
    handler: async (request) => {
      const organization_id = scopeOrganizationFilter(request.principal, request.query.organization_id);
      return { cursor: encodeCursor(String(await events.head(organization_id))) };
    },
  });
}
