import { z } from 'zod';
import { invalid, notFound } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import { EVENT_TYPES } from '../../core/model.ts';
import { generateWebhookSecret, type WebhookSender } from '../../events/webhooks/webhook-sender.ts';
import type { SecretBox } from '../../security/secret-box.ts';
import type { UrlGuard } from '../../security/url-guard.ts';
import type { Db } from '../../store/database.ts';
import type { OrganizationsRepo } from '../../store/organizations.repo.ts';
import type { WebhookEndpointsTable } from '../../store/schema.ts';
import { toEndpointRecord, type DeliveryRecord, type WebhookEndpointsRepo } from '../../store/webhook-endpoints.repo.ts';
import { assertAdmin, assertCanAccessOrganization, scopeOrganizationFilter } from '../auth.ts';
import { errorResponses } from '../errors.ts';
import { pageParams, pageSchema, paginationQuery, toPage } from '../pagination.ts';
import { idParams, organizationIdQuery, timestampSchema } from '../schemas.ts';
import type { FastifyZodInstance, Principal } from '../types.ts';

export interface WebhookEndpointRoutesDeps {
  endpoints: WebhookEndpointsRepo;
  organizations: OrganizationsRepo;
  db: Db;
  secretBox: SecretBox;
  urlGuard: UrlGuard;
  sender: WebhookSender;
  clock: () => Date;
  /** Tells the delivery worker there is work now. */
  nudge: () => void;
}

const DEFAULT_OVERLAP_SECONDS = 24 * 60 * 60;
const MAX_REDELIVERY_EVENTS = 100_000;

const endpointSchema = z
  .object({
    id: z.string(),
    organization_id: z.string().nullable().describe('Only this organization’s events; null: every organization (admin keys only).'),
    url: z.string(),
    description: z.string().nullable(),
    event_types: z.array(z.string()),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable().describe('Why Roster disabled it (sustained failure); null otherwise.'),
    batch_size: z.number().int(),
    previous_secret_expires_at: timestampSchema.nullable().describe('Until when the secret before the last rotation still signs.'),
    created_at: timestampSchema,
    updated_at: timestampSchema,
  })
  .meta({ id: 'WebhookEndpoint' });

const createdEndpointSchema = endpointSchema
  .extend({ secret: z.string().describe('`whsec_…`: shown only here; verify signatures with it.') })
  .meta({ id: 'CreatedWebhookEndpoint' });

const attemptSchema = z.object({
  id: z.string(),
  webhook_id: z.string(),
  attempted_at: timestampSchema,
  status_code: z.number().int().nullable(),
  latency_ms: z.number().int(),
  response_excerpt: z.string().nullable().describe('The first KiB of the response body.'),
  error: z.string().nullable(),
});

const deliverySchema = z
  .object({
    id: z.string(),
    endpoint_id: z.string(),
    organization_id: z.string(),
    event_id: z.string(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    next_attempt_at: timestampSchema.nullable(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    created_at: timestampSchema,
    updated_at: timestampSchema,
    delivered_at: timestampSchema.nullable(),
    attempt_log: z.array(attemptSchema).describe('The latest attempts, oldest first.'),
  })
  .meta({ id: 'WebhookDelivery' });

const urlSchema = z.string().trim().min(1).max(2048).describe('http(s) URL; private, loopback and link-local addresses need allow-listing.');
const eventTypesSchema = z
  .array(z.enum([...EVENT_TYPES, '*']))
  .min(1)
  .max(EVENT_TYPES.length + 1)
  .describe('Event types to send, or `["*"]` for all.');
const batchSizeSchema = z.number().int().min(1).max(1000).describe('Events per request; above 1 the body is a JSON array of one organization’s events in order.');
const descriptionSchema = z.string().trim().max(500).nullable();

const params = idParams('webhook endpoint', 'whep_01j…');

/** An environment-wide endpoint exists only for admin keys; another organization's, for nobody else. */
function visibleEndpoint(principal: Principal, row: WebhookEndpointsTable | undefined, id: string): WebhookEndpointsTable {
  if (!row || (principal.organizationId !== null && row.organization_id !== principal.organizationId)) throw notFound('webhook_endpoint', id);
  return row;
}

export function registerWebhookEndpointRoutes(app: FastifyZodInstance, deps: WebhookEndpointRoutesDeps): void {
  const { endpoints, organizations, secretBox, urlGuard, sender, clock, db } = deps;
  const now = () => clock().toISOString();
  const load = async (principal: Principal, id: string) => visibleEndpoint(principal, await endpoints.getRow(id), id);

  app.post('/v1/webhook-endpoints', {
    schema: {
      tags: ['webhooks'],
      summary: 'Create a webhook endpoint (its secret is in this response only)',
      body: z.strictObject({
        url: urlSchema,
        organization_id: z.string().max(200).optional().describe('Only this organization’s events; omit (admin keys) for all.'),
        event_types: eventTypesSchema.default(['*']),
        description: descriptionSchema.optional(),
        enabled: z.boolean().default(true),
        batch_size: batchSizeSchema.default(1),
      }),
      response: { 201: createdEndpointSchema, ...errorResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request, reply) => {
      const body = request.body;
      // A scoped key's endpoints are its organization's, named or not.
      const organizationId = body.organization_id ?? request.principal.organizationId;
      if (organizationId === null) assertAdmin(request.principal, 'create environment-wide webhook endpoints');
      else {
        assertCanAccessOrganization(request.principal, organizationId);
        if (!(await organizations.exists(organizationId))) throw notFound('organization', organizationId);
      }
      await urlGuard.check(body.url);
      const secret = generateWebhookSecret();
      const created = await endpoints.create(
        {
          organizationId,
          url: body.url,
          description: body.description ?? null,
          eventTypes: body.event_types,
          enabled: body.enabled,
          batchSize: body.batch_size,
          sealedSecret: secretBox.seal(secret),
        },
        { actor: request.principal.keyId, action: 'webhook_endpoint.created' },
        now(),
      );
      return reply.code(201).send({ ...created, secret });
    },
  });

  app.get('/v1/webhook-endpoints', {
    schema: {
      tags: ['webhooks'],
      summary: 'List webhook endpoints (a scoped key sees only its organization’s)',
      querystring: z.strictObject({ ...paginationQuery, organization_id: organizationIdQuery }),
      response: { 200: pageSchema(endpointSchema), ...errorResponses(400, 401, 404) },
    },
    handler: async (request) => {
      const organizationId = scopeOrganizationFilter(request.principal, request.query.organization_id);
      const page = pageParams(request.query);
      return toPage(await endpoints.list({ organizationId }, page), page, (row) => row);
    },
  });

  app.get('/v1/webhook-endpoints/:id', {
    schema: {
      tags: ['webhooks'],
      summary: 'Get a webhook endpoint',
      params,
      response: { 200: endpointSchema, ...errorResponses(401, 404) },
    },
    handler: async (request) => toEndpointRecord(await load(request.principal, request.params.id)),
  });

  app.patch('/v1/webhook-endpoints/:id', {
    schema: {
      tags: ['webhooks'],
      summary: 'Change a webhook endpoint; `enabled: true` re-enables a disabled one and resumes its pending deliveries',
      params,
      body: z
        .strictObject({
          url: urlSchema.optional(),
          event_types: eventTypesSchema.optional(),
          description: descriptionSchema.optional(),
          enabled: z.boolean().optional(),
          batch_size: batchSizeSchema.optional(),
        })
        .refine((body) => Object.keys(body).length > 0, { message: 'provide at least one field' }),
      response: { 200: endpointSchema, ...errorResponses(400, 401, 404, 413, 415) },
    },
    handler: async (request) => {
      const { id } = request.params;
      await load(request.principal, id);
      if (request.body.url !== undefined) await urlGuard.check(request.body.url);
      const updated = await endpoints.update(
        id,
        {
          url: request.body.url,
          description: request.body.description,
          eventTypes: request.body.event_types,
          enabled: request.body.enabled,
          batchSize: request.body.batch_size,
        },
        { actor: request.principal.keyId, action: 'webhook_endpoint.updated' },
        now(),
      );
      if (!updated) throw notFound('webhook_endpoint', id);
      deps.nudge();
      return updated;
    },
  });

  app.delete('/v1/webhook-endpoints/:id', {
    schema: {
      tags: ['webhooks'],
      summary: 'Delete a webhook endpoint; its pending deliveries are dropped',
      params,
      response: { 204: z.undefined().describe('Deleted.'), ...errorResponses(401, 404) },
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      await load(request.principal, id);
      if (!(await endpoints.delete(id, { actor: request.principal.keyId, action: 'webhook_endpoint.deleted' }, now()))) {
        throw notFound('webhook_endpoint', id);
      }
      return reply.code(204).send();
    },
  });

  app.post('/v1/webhook-endpoints/:id/rotate-secret', {
    schema: {
      tags: ['webhooks'],
      summary: 'Replace the signing secret; the old one keeps signing (as a second signature) during the overlap',
      params,
      body: z
        .strictObject({
          overlap_seconds: z
            .number()
            .int()
            .min(0)
            .max(7 * 24 * 60 * 60)
            .default(DEFAULT_OVERLAP_SECONDS)
            .describe('How long the previous secret stays valid (default 24 h).'),
        })
        .nullish(),
      response: { 200: createdEndpointSchema, ...errorResponses(400, 401, 404) },
    },
    handler: async (request) => {
      const { id } = request.params;
      await load(request.principal, id);
      const overlapSeconds = request.body?.overlap_seconds ?? DEFAULT_OVERLAP_SECONDS;
      const secret = generateWebhookSecret();
      const expiresAt = new Date(clock().getTime() + overlapSeconds * 1000).toISOString();
      const rotated = await endpoints.rotateSecret(
        id,
        secretBox.seal(secret),
        expiresAt,
        { actor: request.principal.keyId, action: 'webhook_endpoint.secret_rotated' },
        now(),
      );
      if (!rotated) throw notFound('webhook_endpoint', id);
      return { ...rotated, secret };
    },
  });

  app.get('/v1/webhook-endpoints/:id/deliveries', {
    schema: {
      tags: ['webhooks'],
      summary: 'Deliveries to an endpoint with their attempts (status code, latency, response excerpt, error)',
      params,
      querystring: z.strictObject({
        ...paginationQuery,
        status: z.enum(['pending', 'delivered', 'failed']).optional(),
        event_id: z.string().max(200).optional(),
      }),
      response: { 200: pageSchema(deliverySchema), ...errorResponses(400, 401, 404) },
    },
    handler: async (request) => {
      const { id } = request.params;
      await load(request.principal, id);
      const page = pageParams(request.query);
      const rows = await endpoints.listDeliveries(id, { status: request.query.status, eventId: request.query.event_id }, page);
      return toPage(rows, page, (row: DeliveryRecord) => ({ ...row, status: row.status as 'pending' | 'delivered' | 'failed' }));
    },
  });

  app.post('/v1/webhook-endpoints/:id/redeliver', {
    schema: {
      tags: ['webhooks'],
      summary: 'Send one event again, or every matching event that occurred in [from, to)',
      params,
      body: z.union([
        z.strictObject({ event_id: z.string().max(200) }),
        z.strictObject({ from: z.iso.datetime(), to: z.iso.datetime() }),
      ]),
      response: { 202: z.object({ enqueued: z.number().int() }), ...errorResponses(400, 401, 404) },
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      const endpoint = await load(request.principal, id);
      const body = request.body;
      let query = db.selectFrom('events').select(['position', 'id', 'organization_id', 'type']);
      if (endpoint.organization_id !== null) query = query.where('organization_id', '=', endpoint.organization_id);
      let events;
      if ('event_id' in body) {
        events = await query.where('id', '=', body.event_id).execute();
        if (events.length === 0) throw notFound('event', body.event_id);
      } else {
        const from = new Date(body.from).toISOString();
        const to = new Date(body.to).toISOString();
        if (from >= to) throw invalid('invalid_range', 'body.from must be before body.to.', { from, to });
        const types = JSON.parse(endpoint.event_types) as string[];
        if (!types.includes('*')) query = query.where('type', 'in', types);
        events = await query
          .where('occurred_at', '>=', from)
          .where('occurred_at', '<', to)
          .orderBy('position')
          .limit(MAX_REDELIVERY_EVENTS + 1)
          .execute();
        if (events.length > MAX_REDELIVERY_EVENTS) {
          throw invalid('range_too_large', `More than ${MAX_REDELIVERY_EVENTS} events in the range; redeliver a shorter one.`, { from, to });
        }
      }
      const enqueued = await endpoints.redeliver(endpoint, events, { actor: request.principal.keyId, action: 'webhook_endpoint.redelivered' }, now());
      deps.nudge();
      return reply.code(202).send({ enqueued });
    },
  });

  app.post('/v1/webhook-endpoints/:id/test', {
    schema: {
      tags: ['webhooks'],
      summary: 'Send a signed `webhook_endpoint.test` message now and report how the receiver answered',
      params,
      response: {
        200: z.object({
          ok: z.boolean(),
          webhook_id: z.string(),
          status_code: z.number().int().nullable(),
          latency_ms: z.number().int(),
          response_excerpt: z.string().nullable(),
          error: z.string().nullable(),
        }),
        ...errorResponses(401, 404),
      },
    },
    handler: async (request) => {
      const endpoint = await load(request.principal, request.params.id);
      const messageId = newId('webhookMessage');
      const body = JSON.stringify({
        id: messageId,
        type: 'webhook_endpoint.test',
        organization_id: endpoint.organization_id,
        sequence: 0,
        occurred_at: now(),
        data: { endpoint_id: endpoint.id },
        changes: null,
        source: null,
      });
      const secrets = [secretBox.open(endpoint.secret)];
      if (endpoint.previous_secret !== null && (endpoint.previous_secret_expires_at ?? '') > now()) secrets.push(secretBox.open(endpoint.previous_secret));
      const result = await sender.send(endpoint.url, { id: messageId, body, secrets });
      return {
        ok: result.ok,
        webhook_id: messageId,
        status_code: result.statusCode,
        latency_ms: result.latencyMs,
        response_excerpt: result.excerpt,
        error: result.error,
      };
    },
  });
}
