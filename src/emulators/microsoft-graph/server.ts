import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeNow, listenLocal } from '../kit/local-server.ts';
import { HangingResponses, sendTruncatedJson } from '../kit/response-faults.ts';
import { seededRandom } from '../kit/seeded-random.ts';
import { GraphBehaviours, resourceUnitCost } from './behaviours.ts';
import { createControl, handleControl, type GraphEmulatorControl } from './control.ts';
import { DeltaQueries, type DeltaSettings } from './delta-query.ts';
import { DIRECTORY_ROUTES, type ApiRequest, type ApiResult, type DirectoryDeps, type Route } from './directory-routes.ts';
import { GraphApiError, graphErrorBody, matchPath, readBody, readJsonObject, sendGraphError, sendJson } from './http-kit.ts';
import { IdentityPlatform, type AppRegistration } from './identity-platform.ts';
import { OpaqueTokens } from './opaque-tokens.ts';
import { NotificationDeliveries, type NotificationDeliverySettings, type NotificationSender } from './notification-delivery.ts';
import { Subscriptions } from './subscriptions.ts';
import { generateTenant } from './tenant-generator.ts';
import type { GraphTenant } from './tenant-model.ts';

export interface GraphEmulatorOptions {
  /** A tenant to serve; otherwise one is generated from users/groups/seed. */
  tenant?: (now: () => number) => GraphTenant;
  users?: number;
  groups?: number;
  seed?: number;
  domain?: string;
  host?: string;
  port?: number;
  /** Fixed access token lifetime; by default a random 60–90 minutes per token. */
  accessTokenTtlSeconds?: number;
  /** The app registration the emulator trusts; a random secret otherwise. */
  app?: AppRegistration;
  delta?: Partial<DeltaSettings>;
  validationTimeoutMs?: number;
  requireHttps?: boolean;
  /** The acknowledgement window and retry schedule of notifications; Graph's (3 s, retried for 4 h) by default. */
  notificationDelivery?: Partial<NotificationDeliverySettings>;
  /** Replaces the HTTP POST of change and lifecycle notifications; answers the receiver's status. */
  sendNotification?: NotificationSender;
}

export interface GraphEmulator {
  /** The root: the API is under `${url}/v1.0`, the token endpoint under `${url}/{tenant}/oauth2/v2.0/token`. */
  url: string;
  apiBaseUrl: string;
  tokenUrl: string;
  tenant: GraphTenant;
  app: AppRegistration;
  control: GraphEmulatorControl;
  now(): number;
  close(): Promise<void>;
}

const DELTA_PATHS = (resource: 'users' | 'groups') => [`/v1.0/${resource}/delta`, `/v1.0/${resource}/delta()`, `/v1.0/${resource}/microsoft.graph.delta`, `/v1.0/${resource}/microsoft.graph.delta()`];

export async function startGraphEmulator(options: GraphEmulatorOptions = {}): Promise<GraphEmulator> {
  let clockOffset = 0;
  const now = () => Date.now() + clockOffset;
  const seed = options.seed ?? 1;
  const tenant = options.tenant ? options.tenant(now) : generateTenant({ users: options.users ?? 50, groups: options.groups ?? 6, seed, now, ...(options.domain ? { domain: options.domain } : {}) });
  let baseUrl = '';
  const random = seededRandom(seed * 31 + 7);
  const identity = new IdentityPlatform({ tenantId: tenant.tenantId, domain: tenant.domain, now, random, ...(options.accessTokenTtlSeconds ? { accessTokenTtlSeconds: options.accessTokenTtlSeconds } : {}) });
  const app = options.app ?? { clientId: randomUUID(), clientSecret: randomBytes(30).toString('base64url') };
  identity.register(app);
  const behaviours = new GraphBehaviours(seed, now);
  const deps: DirectoryDeps = { tenant, tokens: new OpaqueTokens(randomBytes(32).toString('hex')), baseUrl: () => baseUrl, now };
  const delta = new DeltaQueries(deps, options.delta);
  const notifications = new NotificationDeliveries({
    now,
    ...(options.notificationDelivery ? { settings: options.notificationDelivery } : {}),
    ...(options.sendNotification ? { send: options.sendNotification } : {}),
  });
  const subscriptions = new Subscriptions({
    tenant,
    now,
    clientIdOf: () => app.clientId,
    deliveries: notifications,
    ...(options.validationTimeoutMs ? { validationTimeoutMs: options.validationTimeoutMs } : {}),
    ...(options.requireHttps ? { requireHttps: true } : {}),
  });
  const control = createControl({ tenant, identity, clientId: app.clientId, behaviours, delta, subscriptions, notifications, advanceTime: (ms) => (clockOffset += ms) });
  const hanging = new HangingResponses();

  const routes: Route[] = [
    ...DELTA_PATHS('users').map((pattern) => ({ method: 'GET', pattern, handle: (_d: DirectoryDeps, request: ApiRequest) => delta.handle('users', request) })),
    ...DELTA_PATHS('groups').map((pattern) => ({ method: 'GET', pattern, handle: (_d: DirectoryDeps, request: ApiRequest) => delta.handle('groups', request) })),
    ...DIRECTORY_ROUTES,
    { method: 'GET', pattern: '/v1.0/subscriptions', handle: () => ({ status: 200, body: { '@odata.context': `${baseUrl}/v1.0/$metadata#subscriptions`, value: subscriptions.list() } }) },
    { method: 'POST', pattern: '/v1.0/subscriptions', handle: async (_d, request) => ({ status: 201, body: withContext(await subscriptions.create(await request.readJson())) }) },
    { method: 'GET', pattern: '/v1.0/subscriptions/:id', handle: (_d, _r, params) => ({ status: 200, body: withContext(subscriptions.get(params.id!)) }) },
    { method: 'PATCH', pattern: '/v1.0/subscriptions/:id', handle: async (_d, request, params) => ({ status: 200, body: withContext(subscriptions.renew(params.id!, await request.readJson())) }) },
    { method: 'DELETE', pattern: '/v1.0/subscriptions/:id', handle: (_d, _r, params) => (subscriptions.delete(params.id!), { status: 204 }) },
    { method: 'POST', pattern: '/v1.0/subscriptions/:id/reauthorize', handle: (_d, _r, params) => (subscriptions.reauthorize(params.id!), { status: 204 }) },
  ];
  const withContext = (subscription: object) => ({ '@odata.context': `${baseUrl}/v1.0/$metadata#subscriptions/$entity`, ...subscription });

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (error instanceof GraphApiError) return sendGraphError(res, error, now());
      sendJson(res, 500, graphErrorBody('generalException', error instanceof Error ? error.message : 'An internal server error occurred.', now()));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const token = matchPath('/:tenant/oauth2/v2.0/token', path);
    if (token && method === 'POST') {
      const answer = identity.token(token.tenant!, Object.fromEntries(new URLSearchParams(await readBody(req))), req.headers.authorization);
      return sendJson(res, answer.status, answer.body, { 'cache-control': 'no-store, no-cache' });
    }
    if (path.startsWith('/_emulator/')) {
      const answer = await handleControl(control, method, path, method === 'GET' ? {} : await readJsonObject(req));
      if (!answer) throw new GraphApiError(404, 'UnknownError', `No control route ${method} ${path}`);
      return sendJson(res, answer.status, answer.body);
    }
    let found: { route: Route; params: Record<string, string> } | undefined;
    let pathMatched = false;
    for (const route of routes) {
      const params = matchPath(route.pattern, path);
      if (!params) continue;
      pathMatched = true;
      if (route.method === method) {
        found = { route, params };
        break;
      }
    }
    if (!found) {
      if (pathMatched) throw new GraphApiError(405, 'Request_BadRequest', `The HTTP method '${method}' is not allowed for this resource.`);
      throw new GraphApiError(400, 'BadRequest', `Resource not found for the segment '${path.split('/').filter(Boolean).pop() ?? ''}'.`);
    }
    try {
      identity.authenticate(req.headers.authorization);
    } catch (error) {
      if (error instanceof GraphApiError) res.setHeader('www-authenticate', `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`);
      throw error;
    }
    const routeName = `${method} ${found.route.pattern}`;
    const headers: Record<string, string> = { 'request-id': randomUUID() };
    const throttled = behaviours.charge(resourceUnitCost(routeName, url.searchParams), `Tenant_Application/ReadOnly/${app.clientId}/${tenant.tenantId}`, headers);
    if (throttled) return sendJson(res, 429, graphErrorBody(behaviours.throttleAnswer.code, behaviours.throttleAnswer.message, now()), headers);
    const fault = behaviours.nextFault();
    if (fault?.kind === 'timeout') return hanging.hold(res);
    if (fault?.kind === 'server-error') {
      const status = fault.status ?? 503;
      const code = { 500: 'generalException', 502: 'BadGateway', 503: 'serviceNotAvailable', 504: 'GatewayTimeout' }[status];
      return sendJson(res, status, graphErrorBody(code, 'The service is temporarily unavailable. Please try again later.', now()), headers);
    }
    const request: ApiRequest = { method, path, query: url.searchParams, headers: req.headers, readJson: () => readJsonObject(req) };
    const result: ApiResult = await behaviours.observe(routeName, async () => found.route.handle(deps, request, found.params));
    Object.assign(headers, result.headers ?? {});
    if (result.body === undefined) return void res.writeHead(result.status, headers).end();
    if (fault?.kind === 'truncated') return sendTruncatedJson(res, result.status, result.body, { ...headers, 'content-type': 'application/json;odata.metadata=minimal;charset=utf-8' });
    return sendJson(res, result.status, result.body, headers);
  }

  baseUrl = await listenLocal(server, options);

  return {
    url: baseUrl,
    apiBaseUrl: `${baseUrl}/v1.0`,
    tokenUrl: `${baseUrl}/${tenant.tenantId}/oauth2/v2.0/token`,
    tenant,
    app,
    control,
    now,
    close: async () => {
      subscriptions.close();
      notifications.close();
      hanging.destroyAll();
      await closeNow(server);
    },
  };
}
