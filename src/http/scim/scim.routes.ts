import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JsonObject } from '../../core/model.ts';
import { MAX_RESULTS, listResponse, resourceTypeDocument, schemaDocument, schemasOf, serviceProviderConfig } from '../../scim/discovery.ts';
import { parseAttributeList, project, resourceView, versionOf, type Projection } from '../../scim/resource-view.ts';
import { ScimError, invalidSyntax, invalidValue } from '../../scim/scim-error.ts';
import type { ListQuery, ScimReads } from '../../scim/scim-reads.ts';
import type { ScimScope, ScimWrites, WrittenResource } from '../../scim/scim-writes.ts';
import { GROUP_RESOURCE } from '../../scim/schema/resource-schemas.ts';
import type { ScimTokensRepo } from '../../store/scim-tokens.repo.ts';
import type { FastifyZodInstance } from '../types.ts';
import { SCIM_CONTENT_TYPE, ScimScopes, createScimAuthenticator, createScimErrorHandler, installScimBodyParser } from './scim-edge.ts';

export interface ScimRoutesDeps {
  tokens: ScimTokensRepo;
  reads: ScimReads;
  writes: ScimWrites;
  /** The SCIM base URL of a connection, e.g. `https://roster.example.com/scim/v2/conn_…`. */
  baseUrl: (connectionId: string) => string;
  bodyLimitBytes: number;
}

const SEARCH_REQUEST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const DEFAULT_COUNT = 100;

/**
 * One SCIM 2.0 service provider per `scim` connection, at `/scim/v2/{connection_id}`. Paths are matched
 * case-insensitively by the server (`/users` works; Microsoft's test suite sends it).
 */
export function registerScimRoutes(app: FastifyZodInstance, deps: ScimRoutesDeps): void {
  app.register(
    async (scope) => {
      const api = scope as unknown as FastifyZodInstance;
      // SCIM describes itself (/ServiceProviderConfig, /Schemas, /ResourceTypes), not in Roster's OpenAPI document.
      api.addHook('onRoute', (route) => {
        route.schema = { ...route.schema, hide: true };
      });
      api.decorateRequest('scimConnection', null);
      installScimBodyParser(api);
      api.setErrorHandler(createScimErrorHandler(deps.bodyLimitBytes));
      api.setNotFoundHandler((request, reply) => {
        throw new ScimError(404, undefined, `No SCIM endpoint ${request.method} ${request.url.split('?')[0]}.`);
      });
      api.addHook('onRequest', createScimAuthenticator(deps.tokens));
      const scopes = new ScimScopes();
      registerDiscovery(api, deps, scopes);
      for (const type of ['User', 'Group'] as const) registerResource(api, deps, scopes, type);
    },
    { prefix: '/scim/v2/:connectionId' },
  );
}

function send(reply: FastifyReply, status: number, body: JsonObject, etag?: string): FastifyReply {
  if (etag) reply.header('etag', etag);
  return reply.code(status).type(SCIM_CONTENT_TYPE).send(body);
}

function connectionIdOf(request: FastifyRequest): string {
  return request.scimConnection!.id;
}

function registerDiscovery(api: FastifyZodInstance, deps: ScimRoutesDeps, scopes: ScimScopes): void {
  const resourcesOf = (request: FastifyRequest) => [scopes.of(request, 'User').schema, GROUP_RESOURCE];

  api.get('/ServiceProviderConfig', async (request, reply) =>
    send(reply, 200, serviceProviderConfig(deps.baseUrl(connectionIdOf(request)), deps.bodyLimitBytes)),
  );

  api.get('/Schemas', async (request, reply) => {
    const base = deps.baseUrl(connectionIdOf(request));
    const docs = schemasOf(resourcesOf(request)).map((s) => schemaDocument(s, base));
    return send(reply, 200, listResponse(docs, docs.length, 1));
  });

  api.get('/Schemas/:schemaId', async (request, reply) => {
    const { schemaId } = request.params as { schemaId: string };
    const schema = schemasOf(resourcesOf(request)).find((s) => s.id.toLowerCase() === schemaId.toLowerCase());
    if (!schema) throw new ScimError(404, undefined, `No schema '${schemaId}'.`);
    return send(reply, 200, schemaDocument(schema, deps.baseUrl(connectionIdOf(request))));
  });

  api.get('/ResourceTypes', async (request, reply) => {
    const base = deps.baseUrl(connectionIdOf(request));
    const docs = resourcesOf(request).map((r) => resourceTypeDocument(r, base));
    return send(reply, 200, listResponse(docs, docs.length, 1));
  });

  api.get('/ResourceTypes/:typeId', async (request, reply) => {
    const { typeId } = request.params as { typeId: string };
    const resource = resourcesOf(request).find((r) => r.name.toLowerCase() === typeId.toLowerCase());
    if (!resource) throw new ScimError(404, undefined, `No resource type '${typeId}'.`);
    return send(reply, 200, resourceTypeDocument(resource, deps.baseUrl(connectionIdOf(request))));
  });
}

function registerResource(api: FastifyZodInstance, deps: ScimRoutesDeps, scopes: ScimScopes, type: 'User' | 'Group'): void {
  const endpoint = `/${type}s`;
  const withId = `${endpoint}/:id`;
  const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;
  const ifMatch = (request: FastifyRequest) => request.headers['if-match'] || undefined;

  /** Renders a written resource as a client reads it, cut to the projection the query asks for. */
  const render = async (scope: ScimScope, written: WrittenResource, projection: Projection): Promise<JsonObject> => {
    const base = deps.baseUrl(scope.connectionId);
    const view =
      type === 'Group'
        ? resourceView(scope.schema, written.stored, base, { members: written.members })
        : await deps.reads.get(scope, written.stored.id as string);
    return project(view, scope.schema, projection);
  };

  const list = async (request: FastifyRequest, reply: FastifyReply, params: ListParams) => {
    const scope = scopes.of(request, type);
    const projection = { attributes: params.attributes, excludedAttributes: params.excludedAttributes };
    const query = listQuery(params, type, projection);
    const result = await deps.reads.list(scope, query);
    const resources = result.resources.map((view) => project(view, scope.schema, projection));
    return send(reply, 200, listResponse(resources, result.totalResults, query.startIndex));
  };

  api.get(endpoint, async (request, reply) => list(request, reply, listParamsFromQuery(request.query as Record<string, unknown>)));

  api.post(`${endpoint}/.search`, async (request, reply) => list(request, reply, listParamsFromSearch(request.body)));

  api.get(withId, async (request, reply) => {
    const scope = scopes.of(request, type);
    const view = await deps.reads.get(scope, idOf(request));
    const etag = versionOf(view);
    const ifNoneMatch = request.headers['if-none-match'];
    if (ifNoneMatch && etag && ifNoneMatch.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
      return reply.code(304).header('etag', etag).send();
    }
    return send(reply, 200, project(view, scope.schema, projectionFromQuery(request.query as Record<string, unknown>)), etag);
  });

  api.post(endpoint, async (request, reply) => {
    const scope = scopes.of(request, type);
    const written = await deps.writes.create(scope, request.body);
    const view = await render(scope, written, projectionFromQuery(request.query as Record<string, unknown>));
    reply.header('location', (view.meta as JsonObject | undefined)?.location as string);
    return send(reply, 201, view, versionOf(written.stored));
  });

  api.put(withId, async (request, reply) => {
    const scope = scopes.of(request, type);
    const written = await deps.writes.replace(scope, idOf(request), request.body, ifMatch(request));
    const view = await render(scope, written, projectionFromQuery(request.query as Record<string, unknown>));
    return send(reply, 200, view, versionOf(written.stored));
  });

  api.patch(withId, async (request, reply) => {
    const scope = scopes.of(request, type);
    const query = request.query as Record<string, unknown>;
    const written = await deps.writes.patch(scope, idOf(request), request.body, ifMatch(request));
    // RFC 7644 §3.5.2: 204, unless the client asks for attributes, when it gets the resource (200). Entra's
    // suite expects 204 for users and groups alike, and a large group's members are not worth sending back.
    const projection = projectionFromQuery(query);
    if (projection.attributes === undefined && projection.excludedAttributes === undefined) {
      return reply.code(204).header('etag', versionOf(written.stored)).send();
    }
    const view = await render(scope, written, projection);
    return send(reply, 200, view, versionOf(written.stored));
  });

  api.delete(withId, async (request, reply) => {
    await deps.writes.remove(scopes.of(request, type), idOf(request), ifMatch(request));
    return reply.code(204).send();
  });
}

interface ListParams {
  filter?: string | undefined;
  startIndex?: unknown;
  count?: unknown;
  sortBy?: string | undefined;
  sortOrder?: string | undefined;
  attributes?: string[] | undefined;
  excludedAttributes?: string[] | undefined;
}

/** Query parameter names are matched case-insensitively: clients send `startindex` and `Count` too. */
function queryValue(query: Record<string, unknown>, name: string): string | undefined {
  const key = Object.keys(query).find((k) => k.toLowerCase() === name.toLowerCase());
  const value = key === undefined ? undefined : query[key];
  if (Array.isArray(value)) throw invalidValue(`Query parameter '${name}' is given more than once.`);
  return typeof value === 'string' ? value : undefined;
}

function projectionFromQuery(query: Record<string, unknown>): Projection {
  return {
    attributes: parseAttributeList(queryValue(query, 'attributes')),
    excludedAttributes: parseAttributeList(queryValue(query, 'excludedAttributes')),
  };
}

function listParamsFromQuery(query: Record<string, unknown>): ListParams {
  return {
    filter: queryValue(query, 'filter'),
    startIndex: queryValue(query, 'startIndex'),
    count: queryValue(query, 'count'),
    sortBy: queryValue(query, 'sortBy'),
    sortOrder: queryValue(query, 'sortOrder'),
    ...projectionFromQuery(query),
  };
}

/** RFC 7644 §3.4.3: the same parameters in a SearchRequest body. */
function listParamsFromSearch(body: unknown): ListParams {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidSyntax('The search request body must be a JSON object.');
  const search = body as Record<string, unknown>;
  const schemas = search.schemas;
  if (schemas !== undefined && !(Array.isArray(schemas) && schemas.includes(SEARCH_REQUEST_SCHEMA))) {
    throw invalidSyntax(`A search request's 'schemas' must contain ${SEARCH_REQUEST_SCHEMA}.`);
  }
  const text = (name: string) => {
    const value = search[name];
    if (value !== undefined && typeof value !== 'string') throw invalidValue(`'${name}' must be a string.`);
    return value;
  };
  const names = (name: string) => {
    const value = search[name];
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw invalidValue(`'${name}' must be an array of attribute names.`);
    return value.length > 0 ? (value as string[]) : undefined;
  };
  return {
    filter: text('filter'),
    startIndex: search.startIndex,
    count: search.count,
    sortBy: text('sortBy'),
    sortOrder: text('sortOrder'),
    attributes: names('attributes'),
    excludedAttributes: names('excludedAttributes'),
  };
}

function integerParam(name: string, value: unknown): number | undefined {
  if (value === undefined || value === '') return undefined;
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number)) throw invalidValue(`'${name}' must be an integer, got ${JSON.stringify(value)}.`);
  return number;
}

/** RFC 7644 §3.4.2.4: startIndex below 1 means 1; a negative count means 0; count is capped at maxResults. */
function listQuery(params: ListParams, type: 'User' | 'Group', projection: Projection): ListQuery {
  const startIndex = Math.max(1, integerParam('startIndex', params.startIndex) ?? 1);
  const count = Math.min(MAX_RESULTS, Math.max(0, integerParam('count', params.count) ?? DEFAULT_COUNT));
  const order = params.sortOrder?.toLowerCase();
  if (order !== undefined && order !== 'ascending' && order !== 'descending') {
    throw invalidValue(`'sortOrder' must be 'ascending' or 'descending', got '${params.sortOrder}'.`);
  }
  const named = (list: string[] | undefined) => list?.some((n) => n.toLowerCase().replace(/\[.*$/, '').split('.')[0] === 'members') ?? false;
  const withMembers = type === 'Group' && (projection.attributes ? named(projection.attributes) : !named(projection.excludedAttributes));
  return { filter: params.filter, startIndex, count, sortBy: params.sortBy, sortOrder: order === 'descending' ? 'descending' : 'ascending', withMembers };
}
