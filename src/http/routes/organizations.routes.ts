import { z } from 'zod';
import { notFound } from '../../core/errors.ts';
import { effectivePolicy, policyInputSchema } from '../../core/policy.ts';
import type { OrganizationRecord, OrganizationsRepo } from '../../store/organizations.repo.ts';
import { assertAdmin, assertCanAccessOrganization } from '../auth.ts';
import { errorResponses } from '../errors.ts';
import { pageParams, pageSchema, paginationQuery, toPage } from '../pagination.ts';
import { idParams, nameSchema, timestampSchema } from '../schemas.ts';
import type { FastifyZodInstance } from '../types.ts';

export interface OrganizationRoutesDeps {
  organizations: OrganizationsRepo;
  /** Re-derives an organization's users after its policy changed. */
  rederiveOrganization: (organizationId: string) => Promise<unknown>;
  clock: () => Date;
}

// Components get an `Input` suffix when used as request bodies: this one appears as `DirectoryPolicyInput`.
const policyInput = policyInputSchema.meta({
  id: 'DirectoryPolicy',
  description: 'A directory policy as an admin writes it; omitted parts take their defaults.',
});

// The effective policy has the shape of the input with every part present (defaults filled in).
const effectivePolicySchema = policyInputSchema
  .required()
  .meta({ id: 'EffectivePolicy', description: 'The effective directory policy: what was written, with defaults filled in.' });

export const organizationSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    policy: effectivePolicySchema,
    created_at: timestampSchema,
    updated_at: timestampSchema,
  })
  .meta({ id: 'Organization' });

const organizationPolicySchema = z
  .object({
    organization_id: z.string(),
    input: policyInput.describe('The policy as written by an admin.'),
    effective: effectivePolicySchema,
  })
  .meta({ id: 'OrganizationPolicy' });

const params = idParams('organization', 'org_01j…');

export function toOrganizationJson(org: OrganizationRecord) {
  return { id: org.id, name: org.name, policy: effectivePolicy(org.policy), created_at: org.created_at, updated_at: org.updated_at };
}

function toPolicyJson(org: OrganizationRecord) {
  return { organization_id: org.id, input: org.policy, effective: effectivePolicy(org.policy) };
}

export function registerOrganizationRoutes(app: FastifyZodInstance, deps: OrganizationRoutesDeps): void {
  const { organizations, clock, rederiveOrganization } = deps;

  /** Loads an organization the caller may see; otherwise 404 (another organization's looks unknown). */
  async function visible(principal: Parameters<typeof assertCanAccessOrganization>[0], id: string) {
    assertCanAccessOrganization(principal, id);
    const org = await organizations.get(id);
    if (!org) throw notFound('organization', id);
    return org;
  }

  app.post('/v1/organizations', {
    schema: {
      tags: ['organizations'],
      summary: 'Create an organization (admin keys only)',
      body: z.strictObject({ name: nameSchema, policy: policyInput.optional() }),
      response: { 201: organizationSchema, ...errorResponses(400, 401, 403, 413, 415) },
    },
    handler: async (request, reply) => {
      assertAdmin(request.principal, 'create organizations');
      const org = await organizations.create(
        { name: request.body.name, policy: request.body.policy ?? {} },
        request.principal.keyId,
        clock().toISOString(),
      );
      return reply.code(201).send(toOrganizationJson(org));
    },
  });

  app.get('/v1/organizations', {
    schema: {
      tags: ['organizations'],
      summary: 'List organizations (a scoped key sees only its own)',
      querystring: z.strictObject({ ...paginationQuery }),
      response: { 200: pageSchema(organizationSchema), ...errorResponses(400, 401) },
    },
    handler: async (request) => {
      const page = pageParams(request.query);
      const rows = await organizations.list({ onlyId: request.principal.organizationId ?? undefined }, page);
      return toPage(rows, page, toOrganizationJson);
    },
  });

  app.get('/v1/organizations/:id', {
    schema: {
      tags: ['organizations'],
      summary: 'Get an organization',
      params,
      response: { 200: organizationSchema, ...errorResponses(401, 404) },
    },
    handler: async (request) => toOrganizationJson(await visible(request.principal, request.params.id)),
  });

  app.patch('/v1/organizations/:id', {
    schema: {
      tags: ['organizations'],
      summary: 'Rename an organization and/or replace its policy',
      params,
      body: z
        .strictObject({ name: nameSchema.optional(), policy: policyInput.optional() })
        .refine((body) => body.name !== undefined || body.policy !== undefined, { message: 'provide name and/or policy' }),
      response: { 200: organizationSchema, ...errorResponses(400, 401, 404, 413, 415) },
    },
    handler: async (request) => {
      await visible(request.principal, request.params.id);
      const updated = await organizations.update(request.params.id, request.body, request.principal.keyId, clock().toISOString());
      if (!updated) throw notFound('organization', request.params.id);
      if (request.body.policy !== undefined) await rederiveOrganization(updated.id);
      return toOrganizationJson(updated);
    },
  });

  app.get('/v1/organizations/:id/policy', {
    schema: {
      tags: ['organizations'],
      summary: "Get an organization's directory policy, as written and as in effect",
      params,
      response: { 200: organizationPolicySchema, ...errorResponses(401, 404) },
    },
    handler: async (request) => toPolicyJson(await visible(request.principal, request.params.id)),
  });

  app.put('/v1/organizations/:id/policy', {
    schema: {
      tags: ['organizations'],
      summary: "Replace an organization's directory policy; its users are re-derived under it before this answers",
      params,
      body: policyInput,
      response: { 200: organizationPolicySchema, ...errorResponses(400, 401, 404, 413, 415) },
    },
    handler: async (request) => {
      await visible(request.principal, request.params.id);
      const updated = await organizations.update(
        request.params.id,
        { policy: request.body },
        request.principal.keyId,
        clock().toISOString(),
      );
      if (!updated) throw notFound('organization', request.params.id);
      await rederiveOrganization(updated.id);
      return toPolicyJson(updated);
    },
  });
}
