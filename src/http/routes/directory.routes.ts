import { z } from 'zod';
import { notFound } from '../../core/errors.ts';
import { GROUP_STATES, USER_STATES } from '../../core/model.ts';
import type { DirectoryRepo } from '../../store/directory.repo.ts';
import { scopeOrganizationFilter, visibleOr404 } from '../auth.ts';
import { errorResponses } from '../errors.ts';
import { pageParams, pageSchema, paginationQuery, toPage } from '../pagination.ts';
import { idParams, organizationIdQuery, timestampSchema } from '../schemas.ts';
import type { FastifyZodInstance } from '../types.ts';

const nullableText = z.string().nullable();

export const userSchema = z
  .object({
    id: z.string(),
    organization_id: z.string(),
    state: z.enum(USER_STATES),
    state_reason: nullableText.describe('Why the state is what it is, e.g. `terminated_in_hris`, `removed_from_source`.'),
    state_source: nullableText.describe('The connection whose record decided the state.'),
    state_changed_at: timestampSchema,
    email: nullableText,
    emails: z.array(z.string()),
    username: nullableText,
    employee_id: nullableText,
    first_name: nullableText,
    last_name: nullableText,
    display_name: nullableText,
    department: nullableText,
    title: nullableText,
    manager_id: nullableText,
    start_date: nullableText,
    end_date: nullableText,
    custom_attributes: z.record(z.string(), z.unknown()),
    roles: z.array(z.string()),
    created_at: timestampSchema,
    updated_at: timestampSchema,
  })
  .meta({ id: 'User' });

const sourceSchema = z
  .object({
    connection_id: z.string(),
    connection_type: z.string(),
    external_id: z.string(),
    link_method: z.string().describe('How the record was linked: `new`, `join`, `manual`.'),
    attributes: z.record(z.string(), z.unknown()),
    raw: z.unknown().optional().describe('The payload as the source sent it (with `include=raw`).'),
    first_seen_at: timestampSchema,
    last_seen_at: timestampSchema,
    tombstoned_at: timestampSchema.nullable(),
    tombstone_reason: nullableText,
  })
  .meta({ id: 'SourceRecord' });

const userWithSources = userSchema.extend({ sources: z.array(sourceSchema).optional() }).meta({ id: 'UserWithSources' });

export const groupSchema = z
  .object({
    id: z.string(),
    organization_id: z.string(),
    connection_id: z.string(),
    external_id: z.string(),
    name: z.string(),
    description: nullableText,
    email: nullableText,
    state: z.enum(GROUP_STATES),
    created_at: timestampSchema,
    updated_at: timestampSchema,
  })
  .meta({ id: 'Group' });

export const membershipSchema = z
  .object({ id: z.string(), organization_id: z.string(), group_id: z.string(), user_id: z.string(), created_at: timestampSchema })
  .meta({ id: 'Membership' });

const includeQuery = z
  .string()
  .regex(/^(sources|raw)(,(sources|raw))*$/, 'must be a comma-separated list of sources, raw')
  .optional()
  .describe('`sources` adds the linked source records; `raw` adds them with their raw payloads.');

export function registerDirectoryRoutes(app: FastifyZodInstance, deps: { directory: DirectoryRepo }): void {
  const { directory } = deps;

  app.get('/v1/users', {
    schema: {
      tags: ['directory'],
      summary: 'List canonical users',
      querystring: z.strictObject({
        ...paginationQuery,
        organization_id: organizationIdQuery,
        state: z.enum(USER_STATES).optional(),
        email: z.string().min(1).max(320).optional().describe('Any address of the person, case-insensitive.'),
        group: z.string().max(200).optional().describe('Only members of this group id.'),
        updated_after: z.iso.datetime().optional().describe('Only users changed after this ISO-8601 time.'),
      }),
      response: { 200: pageSchema(userSchema), ...errorResponses(400, 401, 404) },
    },
    handler: async (request) => {
      const q = request.query;
      const organization_id = scopeOrganizationFilter(request.principal, q.organization_id);
      const page = pageParams(q);
      const updated_after = q.updated_after === undefined ? undefined : new Date(q.updated_after).toISOString();
      const rows = await directory.listUsers({ organization_id, state: q.state, email: q.email, group_id: q.group, updated_after }, page);
      return toPage(rows, page, (u) => u);
    },
  });

  app.get('/v1/users/:id', {
    schema: {
      tags: ['directory'],
      summary: 'Get a user, optionally with the source records it was built from',
      params: idParams('user', 'user_01j…'),
      querystring: z.strictObject({ include: includeQuery }),
      response: { 200: userWithSources, ...errorResponses(400, 401, 404) },
    },
    handler: async (request) => {
      const user = visibleOr404(request.principal, await directory.getUser(request.params.id), 'user', request.params.id);
      const include = new Set(request.query.include?.split(',') ?? []);
      if (include.size === 0) return user;
      return { ...user, sources: await directory.userSources(user.id, include.has('raw')) };
    },
  });

  app.get('/v1/users/:id/groups', {
    schema: {
      tags: ['directory'],
      summary: 'The memberships of a user',
      params: idParams('user', 'user_01j…'),
      querystring: z.strictObject({ ...paginationQuery }),
      response: { 200: pageSchema(membershipSchema), ...errorResponses(400, 401, 404) },
    },
    handler: async (request) => {
      const user = visibleOr404(request.principal, await directory.getUser(request.params.id), 'user', request.params.id);
      const page = pageParams(request.query);
      return toPage(await directory.listMemberships({ user_id: user.id }, page), page, (m) => m);
    },
  });

  app.get('/v1/groups', {
    schema: {
      tags: ['directory'],
      summary: 'List canonical groups',
      querystring: z.strictObject({ ...paginationQuery, organization_id: organizationIdQuery, state: z.enum(GROUP_STATES).optional() }),
      response: { 200: pageSchema(groupSchema), ...errorResponses(400, 401, 404) },
    },
    handler: async (request) => {
      const organization_id = scopeOrganizationFilter(request.principal, request.query.organization_id);
      const page = pageParams(request.query);
      return toPage(await directory.listGroups({ organization_id, state: request.query.state }, page), page, (g) => g);
    },
  });

  app.get('/v1/groups/:id', {
    schema: {
      tags: ['directory'],
      summary: 'Get a group',
      params: idParams('group', 'grp_01j…'),
      response: { 200: groupSchema, ...errorResponses(401, 404) },
    },
    handler: async (request) => visibleOr404(request.principal, await directory.getGroup(request.params.id), 'group', request.params.id),
  });

  app.get('/v1/groups/:id/members', {
    schema: {
      tags: ['directory'],
      summary: 'The memberships of a group',
      description:
        'Direct members by default. With `transitive=true`, nested groups are flattened: everyone in the group or in an active group inside it, at any depth, once each (`group_id` is the group asked for).',
      params: idParams('group', 'grp_01j…'),
      querystring: z.strictObject({
        ...paginationQuery,
        transitive: z.enum(['true', 'false']).default('false').describe('Flatten nested groups.'),
      }),
      response: { 200: pageSchema(membershipSchema), ...errorResponses(400, 401, 404) },
    },
    handler: async (request) => {
      const group = visibleOr404(request.principal, await directory.getGroup(request.params.id), 'group', request.params.id);
      const page = pageParams(request.query);
      if (request.query.transitive === 'true') return toPage(await directory.listTransitiveMembers(group, page), page, (m) => m);
      return toPage(await directory.listMemberships({ group_id: group.id }, page), page, (m) => m);
    },
  });

  app.get('/v1/groups/:id/groups', {
    schema: {
      tags: ['directory'],
      summary: 'The groups inside a group',
      description: 'The active groups the source states as members of this one (direct nesting; follow each for deeper levels).',
      params: idParams('group', 'grp_01j…'),
      querystring: z.strictObject({ ...paginationQuery }),
      response: { 200: pageSchema(groupSchema), ...errorResponses(400, 401, 404) },
    },
    handler: async (request) => {
      const group = visibleOr404(request.principal, await directory.getGroup(request.params.id), 'group', request.params.id);
      const page = pageParams(request.query);
      return toPage(await directory.listChildGroups(group.id, page), page, (g) => g);
    },
  });

  app.get('/v1/memberships', {
    schema: {
      tags: ['directory'],
      summary: 'List memberships',
      querystring: z.strictObject({
        ...paginationQuery,
        organization_id: organizationIdQuery,
        group_id: z.string().max(200).optional(),
        user_id: z.string().max(200).optional(),
      }),
      response: { 200: pageSchema(membershipSchema), ...errorResponses(400, 401, 404) },
    },
    handler: async (request) => {
      const q = request.query;
      const organization_id = scopeOrganizationFilter(request.principal, q.organization_id);
      const page = pageParams(q);
      const rows = await directory.listMemberships({ organization_id, group_id: q.group_id, user_id: q.user_id }, page);
      if (q.group_id && rows.length === 0 && !(await directory.getGroup(q.group_id))) throw notFound('group', q.group_id);
      return toPage(rows, page, (m) => m);
    },
  });
}
