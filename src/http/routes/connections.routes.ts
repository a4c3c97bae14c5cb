import { z } from 'zod';
import { CONNECTION_STATES, stateAfterResume } from '../../core/connection-states.ts';
import { conflictError, notFound } from '../../core/errors.ts';
// Bodies are parsed JSON, so a validated object is a JsonObject.
import { CONNECTION_CATEGORIES, type JsonObject } from '../../core/model.ts';
import type { ConnectionRecord, ConnectionsRepo } from '../../store/connections.repo.ts';
import type { OrganizationsRepo } from '../../store/organizations.repo.ts';
import type { ScimTokensRepo } from '../../store/scim-tokens.repo.ts';
import type { ConnectionSecretsRepo } from '../../store/connection-secrets.repo.ts';
import { connectionConfigSchema } from '../../connectors/pull-connection-type.ts';
import { PULL_CONNECTION_TYPES, pullConnectionType } from '../../connectors/pull-connection-types.ts';
import { assertCanAccessOrganization, scopeOrganizationFilter, visibleOr404 } from '../auth.ts';
import { errorResponses, invalidBodyPart } from '../errors.ts';
import { pageParams, pageSchema, paginationQuery, toPage } from '../pagination.ts';
import { idParams, jsonObjectSchema, nameSchema, organizationIdQuery, timestampSchema } from '../schemas.ts';
import type { FastifyZodInstance } from '../types.ts';

export interface ConnectionRoutesDeps {
  connections: ConnectionsRepo;
  /** Pull connections: where their credentials are sealed, and how their setup continues in the background. */
  pull: PullConnectionSetup;
  scimTokens: ScimTokensRepo;
  /** The SCIM base URL of a connection. */
  scimBaseUrl: (connectionId: string) => string;
  /** Re-derives the people a deleted connection spoke for. */
  detachDeletedConnection: (connectionId: string) => Promise<unknown>;
  organizations: OrganizationsRepo;
  clock: () => Date;
}

export const connectionSchema = z
  .object({
    id: z.string(),
    organization_id: z.string(),
    type: z.string(),
    category: z.enum(CONNECTION_CATEGORIES),
    name: z.string(),
    state: z.enum(CONNECTION_STATES),
    state_reason: z.string().nullable(),
    config: z.record(z.string(), z.unknown()),
    created_at: timestampSchema,
    updated_at: timestampSchema,
  })
  .meta({ id: 'Connection' });

/** One body per pull connection type: its settings beside the common ones, and its write-only credentials. */
const pullConnectionBodies = [...PULL_CONNECTION_TYPES.values()].map((type) =>
  z
    .strictObject({
      type: z.literal(type.type).describe(type.description),
      name: nameSchema,
      category: z.enum(CONNECTION_CATEGORIES).default(type.defaultCategory).describe(`Default ${type.defaultCategory}.`),
      config: (connectionConfigSchema(type) as z.ZodType<JsonObject>)
        .optional()
        .describe('Provider settings and URLs, push channels and the sync schedule; defaults suit the public API.'),
      credentials: type.credentialsSchema.describe('Write-only, stored encrypted; never answered.'),
    })
    .meta({ id: `Create${type.displayName.replace(/[^A-Za-z0-9]/g, '')}Connection` }),
);

/** What pull connections need from the engine when they are created or resumed. */
export interface PullConnectionSetup {
  secrets: ConnectionSecretsRepo;
  /** Refuses provider URLs that reach private addresses unless allow-listed. */
  checkUrl: (url: string) => Promise<void>;
  /** Queues the check of a connection's credentials (validating → active, or invalid_credentials). */
  validateLater: (connectionId: string) => Promise<void>;
  /** A pull connection's settings changed: its schedule and push channels follow. */
  afterConfigChange: (connectionId: string) => Promise<void>;
  /** Tears down what the provider holds for a connection about to be deleted (push channels); never throws. */
  beforeDelete: (connectionId: string) => Promise<void>;
}

/** One member per connection type; `type` picks the member, so an unknown type is named as such. */
const createConnectionBody = z.discriminatedUnion('type', [
  z
    .strictObject({
      type: z.literal('push').describe('Records are fed through the ingest API.'),
      name: nameSchema,
      category: z.enum(CONNECTION_CATEGORIES).describe('What kind of system feeds it; decides attribute ownership defaults.'),
      config: jsonObjectSchema.optional(),
    })
    .meta({ id: 'CreatePushConnection' }),
  z
    .strictObject({
      type: z.literal('scim').describe('An IdP provisions users and groups into its own SCIM 2.0 endpoint.'),
      name: nameSchema,
      category: z.enum(CONNECTION_CATEGORIES).default('idp').describe('What kind of system pushes; default idp.'),
      config: jsonObjectSchema.optional(),
    })
    .meta({ id: 'CreateScimConnection' }),
  ...pullConnectionBodies,
]);

const scimCredentialsSchema = z
  .object({
    base_url: z.string().describe('The SCIM base URL to enter in the IdP (`…/scim/v2/{connection_id}`).'),
    token: z.string().describe('The bearer token to enter in the IdP. Shown once: only its hash is stored.'),
  })
  .meta({ id: 'ScimCredentials' });

const createdConnectionSchema = connectionSchema
  .extend({ scim: scimCredentialsSchema.optional().describe('SCIM connections: where the IdP provisions, and its token.') })
  .meta({ id: 'CreatedConnection' });

const params = idParams('connection', 'conn_01j…');
const organizationParams = idParams('organization', 'org_01j…');

export function registerConnectionRoutes(app: FastifyZodInstance, deps: ConnectionRoutesDeps): void {
  const { connections, organizations, clock, detachDeletedConnection, scimTokens, scimBaseUrl, pull } = deps;
  const now = () => clock().toISOString();

  app.post('/v1/organizations/:id/connections', {
    schema: {
      tags: ['connections'],
      summary: 'Create a connection',
      params: organizationParams,
      body: createConnectionBody,
      response: { 201: createdConnectionSchema, ...errorResponses(400, 401, 404, 413, 415) },
    },
    handler: async (request, reply) => {
      const organizationId = request.params.id;
      assertCanAccessOrganization(request.principal, organizationId);
      if (!(await organizations.exists(organizationId))) throw notFound('organization', organizationId);
      const body = request.body;
      const audited = { actor: request.principal.keyId, action: 'connection.created' };
      const type = pullConnectionType(body.type);
      if (type && 'credentials' in body) {
        const config = connectionConfigSchema(type).parse(body.config ?? {});
        for (const url of [config.api_base_url, config.token_url, config.authorize_url]) if (url !== undefined) await pull.checkUrl(url);
        // Credentials that need an admin's consent wait in draft; the others are checked at once, in the background.
        const state = type.awaitsConsent(body.credentials) ? 'draft' : 'validating';
        const created = await connections.create(
          { organizationId, type: body.type, category: body.category, name: body.name, config: config as unknown as JsonObject, state },
          audited,
          now(),
          (tx, record) => pull.secrets.write(tx, record, body.credentials, now()),
        );
        if (state === 'validating') await pull.validateLater(created.id);
        return reply.code(201).send(created);
      }
      let token: string | undefined;
      const created = await connections.create(
        { organizationId, type: body.type, category: body.category, name: body.name, config: (body.config ?? {}) as JsonObject, state: 'active' },
        audited,
        now(),
        body.type === 'scim' ? async (tx, record) => void (token = await scimTokens.issue(tx, record, now())) : undefined,
      );
      const scim = token === undefined ? undefined : { base_url: scimBaseUrl(created.id), token };
      return reply.code(201).send({ ...created, ...(scim ? { scim } : {}) });
    },
  });

  app.post('/v1/connections/:id/scim-token', {
    schema: {
      tags: ['connections'],
      summary: 'Rotate the SCIM token of a SCIM connection: the new token is answered once, the old one stops working at once',
      params,
      response: { 200: scimCredentialsSchema, ...errorResponses(401, 404, 409) },
    },
    handler: async (request) => {
      const { id } = request.params;
      const connection = visibleOr404(request.principal, await connections.get(id), 'connection', id);
      if (connection.type !== 'scim') {
        throw conflictError('not_a_scim_connection', `Connection '${id}' is a ${connection.type} connection; only SCIM connections have a SCIM token.`, {
          connection_id: id,
          type: connection.type,
        });
      }
      const token = await scimTokens.rotate(connection, { actor: request.principal.keyId, action: 'connection.scim_token_rotated' }, now());
      return { base_url: scimBaseUrl(id), token };
    },
  });

  app.get('/v1/connections', {
    schema: {
      tags: ['connections'],
      summary: 'List connections (a scoped key sees only its organization’s)',
      querystring: z.strictObject({ ...paginationQuery, organization_id: organizationIdQuery }),
      response: { 200: pageSchema(connectionSchema), ...errorResponses(400, 401, 404) },
    },
    handler: async (request) => {
      const organizationId = scopeOrganizationFilter(request.principal, request.query.organization_id);
      // Naming an organization that does not exist is a mistake worth reporting, not an empty list.
      if (request.query.organization_id !== undefined && !(await organizations.exists(request.query.organization_id))) {
        throw notFound('organization', request.query.organization_id);
      }
      const page = pageParams(request.query);
      return toPage(await connections.list({ organizationId }, page), page, (row: ConnectionRecord) => row);
    },
  });

  app.get('/v1/connections/:id', {
    schema: {
      tags: ['connections'],
      summary: 'Get a connection',
      params,
      response: { 200: connectionSchema, ...errorResponses(401, 404) },
    },
    handler: async (request) =>
      visibleOr404(request.principal, await connections.get(request.params.id), 'connection', request.params.id),
  });

  app.patch('/v1/connections/:id', {
    schema: {
      tags: ['connections'],
      summary: 'Rename or reconfigure a connection',
      params,
      body: z
        .strictObject({ name: nameSchema.optional(), config: jsonObjectSchema.optional() })
        .refine((body) => body.name !== undefined || body.config !== undefined, { message: 'provide name and/or config' }),
      response: { 200: connectionSchema, ...errorResponses(400, 401, 404, 413, 415) },
    },
    handler: async (request) => {
      const { id } = request.params;
      const current = visibleOr404(request.principal, await connections.get(id), 'connection', id);
      let config = request.body.config as JsonObject | undefined;
      const type = pullConnectionType(current.type);
      // A pull connection's settings are checked like at creation: its runs read them.
      if (type && config !== undefined) {
        const parsed = connectionConfigSchema(type).safeParse(config);
        if (!parsed.success) throw invalidBodyPart(['body', 'config'], parsed.error);
        for (const url of [parsed.data.api_base_url, parsed.data.token_url, parsed.data.authorize_url]) if (url !== undefined) await pull.checkUrl(url);
        config = parsed.data as unknown as JsonObject;
      }
      const updated = await connections.update(id, { name: request.body.name, config }, { actor: request.principal.keyId, action: 'connection.updated' }, now());
      if (!updated) throw notFound('connection', id);
      if (type && config !== undefined) await pull.afterConfigChange(id);
      return updated;
    },
  });

  const stateChangeBody = z
    .strictObject({ reason: z.string().trim().min(1).max(500).optional().describe('Why; kept as the state reason.') })
    // Fastify hands a request without a body to validation as null.
    .nullish();

  app.post('/v1/connections/:id/pause', {
    schema: {
      tags: ['connections'],
      summary: 'Pause a connection: stop syncing and ingesting until resumed',
      params,
      body: stateChangeBody,
      response: { 200: connectionSchema, ...errorResponses(400, 401, 404, 409) },
    },
    handler: async (request) => {
      const { id } = request.params;
      visibleOr404(request.principal, await connections.get(id), 'connection', id);
      const paused = await connections.transition(
        id,
        'paused',
        { reason: request.body?.reason ?? null, audited: { actor: request.principal.keyId, action: 'connection.paused' } },
        now(),
      );
      if (!paused) throw notFound('connection', id);
      return paused;
    },
  });

  app.post('/v1/connections/:id/resume', {
    schema: {
      tags: ['connections'],
      summary: 'Resume a paused connection',
      params,
      response: { 200: connectionSchema, ...errorResponses(401, 404, 409) },
    },
    handler: async (request) => {
      const { id } = request.params;
      visibleOr404(request.principal, await connections.get(id), 'connection', id);
      const resumed = await connections.transition(
        id,
        (current) => {
          if (current.state !== 'paused') {
            throw conflictError('invalid_state_transition', `Connection '${id}' is ${current.state}, not paused; only a paused connection can be resumed.`, {
              connection_id: id,
              from: current.state,
            });
          }
          return stateAfterResume(current.type);
        },
        { reason: null, audited: { actor: request.principal.keyId, action: 'connection.resumed' } },
        now(),
      );
      if (!resumed) throw notFound('connection', id);
      if (resumed.state === 'validating') await pull.validateLater(id);
      return resumed;
    },
  });

  app.delete('/v1/connections/:id', {
    schema: {
      tags: ['connections'],
      summary:
        'Delete a connection (soft: it answers 404 afterwards; its records and events are kept). People known only ' +
        'through it become inactive (`connection_deleted`); its groups are deleted.',
      params,
      response: { 204: z.undefined().describe('Deleted.'), ...errorResponses(401, 404, 409) },
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      const connection = visibleOr404(request.principal, await connections.get(id), 'connection', id);
      if (pullConnectionType(connection.type)) await pull.beforeDelete(id);
      const deleted = await connections.delete(id, { actor: request.principal.keyId, action: 'connection.deleted' }, now());
      if (!deleted) throw notFound('connection', id);
      await detachDeletedConnection(id);
      return reply.code(204).send();
    },
  });
}
