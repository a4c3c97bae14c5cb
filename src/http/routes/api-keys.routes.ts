import { z } from 'zod';
import { notFound } from '../../core/errors.ts';
import type { ApiKeyRecord, ApiKeysRepo } from '../../store/api-keys.repo.ts';
import type { OrganizationsRepo } from '../../store/organizations.repo.ts';
import { assertAdmin } from '../auth.ts';
import { errorResponses } from '../errors.ts';
import { pageParams, pageSchema, paginationQuery, toPage } from '../pagination.ts';
import { idParams, nameSchema, organizationIdQuery, timestampSchema } from '../schemas.ts';
import type { FastifyZodInstance } from '../types.ts';

export interface ApiKeyRoutesDeps {
  apiKeys: ApiKeysRepo;
  organizations: OrganizationsRepo;
  clock: () => Date;
}

const apiKeyFields = {
  id: z.string(),
  name: z.string(),
  organization_id: z.string().nullable().describe('The one organization this key reaches; null for an admin key.'),
  prefix: z.string().describe('First characters of the key, to recognise it.'),
  created_at: timestampSchema,
  last_used_at: timestampSchema.nullable().describe('Refreshed at most once a minute.'),
  revoked_at: timestampSchema.nullable(),
};

export const apiKeySchema = z.object(apiKeyFields).meta({ id: 'ApiKey' });
const createdApiKeySchema = z
  .object({ ...apiKeyFields, key: z.string().describe('The secret key. Shown only in this response: store it now.') })
  .meta({ id: 'CreatedApiKey' });

const params = idParams('API key', 'key_01j…');

function toJson(record: ApiKeyRecord) {
  return {
    id: record.id,
    name: record.name,
    organization_id: record.organization_id,
    prefix: record.prefix,
    created_at: record.created_at,
    last_used_at: record.last_used_at,
    revoked_at: record.revoked_at,
  };
}

/** Key management is for admin keys only: a scoped key could otherwise mint itself an admin key. */
export function registerApiKeyRoutes(app: FastifyZodInstance, deps: ApiKeyRoutesDeps): void {
  const { apiKeys, organizations, clock } = deps;

  app.post('/v1/api-keys', {
    schema: {
      tags: ['api-keys'],
      summary: 'Create an API key (admin keys only); the key is returned once',
      body: z.strictObject({
        name: nameSchema,
        organization_id: z
          .string()
          .max(200)
          .nullable()
          .optional()
          .describe('Limit the key to this organization; omit or null for an admin key.'),
      }),
      response: { 201: createdApiKeySchema, ...errorResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request, reply) => {
      assertAdmin(request.principal, 'manage API keys');
      const organizationId = request.body.organization_id ?? null;
      if (organizationId !== null && !(await organizations.exists(organizationId))) throw notFound('organization', organizationId);
      const { record, key } = await apiKeys.create(
        { name: request.body.name, organizationId },
        request.principal.keyId,
        clock().toISOString(),
      );
      return reply.code(201).send({ ...toJson(record), key });
    },
  });

  app.get('/v1/api-keys', {
    schema: {
      tags: ['api-keys'],
      summary: 'List API keys, revoked ones included (admin keys only; no secrets)',
      querystring: z.strictObject({ ...paginationQuery, organization_id: organizationIdQuery }),
      response: { 200: pageSchema(apiKeySchema), ...errorResponses(400, 401, 403, 404) },
    },
    handler: async (request) => {
      assertAdmin(request.principal, 'manage API keys');
      const organizationId = request.query.organization_id;
      if (organizationId !== undefined && !(await organizations.exists(organizationId))) throw notFound('organization', organizationId);
      const page = pageParams(request.query);
      return toPage(await apiKeys.list({ organizationId: request.query.organization_id }, page), page, toJson);
    },
  });

  app.delete('/v1/api-keys/:id', {
    schema: {
      tags: ['api-keys'],
      summary: 'Revoke an API key (admin keys only); revoking twice is harmless',
      params,
      response: { 204: z.undefined().describe('Revoked.'), ...errorResponses(401, 403, 404) },
    },
    handler: async (request, reply) => {
      assertAdmin(request.principal, 'manage API keys');
      const revoked = await apiKeys.revoke(request.params.id, request.principal.keyId, clock().toISOString());
      if (!revoked) throw notFound('api_key', request.params.id);
      return reply.code(204).send();
    },
  });
}
