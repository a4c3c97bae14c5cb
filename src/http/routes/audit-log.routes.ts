import { z } from 'zod';
import type { AuditRepo } from '../../store/audit.repo.ts';
import type { OrganizationsRepo } from '../../store/organizations.repo.ts';
import { notFound } from '../../core/errors.ts';
import { scopeOrganizationFilter } from '../auth.ts';
import { errorResponses } from '../errors.ts';
import { pageParams, pageSchema, paginationQuery, toPage } from '../pagination.ts';
import { organizationIdQuery, timestampSchema } from '../schemas.ts';
import type { FastifyZodInstance } from '../types.ts';

export interface AuditLogRoutesDeps {
  audit: AuditRepo;
  organizations: OrganizationsRepo;
}

export const auditEntrySchema = z
  .object({
    id: z.string(),
    organization_id: z.string().nullable(),
    actor: z.string().describe('The API key id that acted (`system` for start-up bootstrap).'),
    action: z.string().describe('`<resource>.<verb>`, e.g. `connection.paused`.'),
    target_type: z.string(),
    target_id: z.string(),
    details: z.record(z.string(), z.unknown()),
    occurred_at: timestampSchema,
  })
  .meta({ id: 'AuditEntry' });

export function registerAuditLogRoutes(app: FastifyZodInstance, deps: AuditLogRoutesDeps): void {
  const { audit, organizations } = deps;

  app.get('/v1/audit-log', {
    schema: {
      tags: ['audit-log'],
      summary: 'Admin actions, oldest first (a scoped key sees only its organization’s)',
      querystring: z.strictObject({ ...paginationQuery, organization_id: organizationIdQuery }),
      response: { 200: pageSchema(auditEntrySchema), ...errorResponses(400, 401, 404) },
    },
    handler: async (request) => {
      const organizationId = scopeOrganizationFilter(request.principal, request.query.organization_id);
      if (request.query.organization_id !== undefined && !(await organizations.exists(request.query.organization_id))) {
        throw notFound('organization', request.query.organization_id);
      }
      const page = pageParams(request.query);
      return toPage(await audit.list({ organizationId }, page), page, (entry) => entry);
    },
  });
}
