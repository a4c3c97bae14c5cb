import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeNow, listenLocal } from '../kit/local-server.ts';
import { HangingResponses, sendTruncatedJson } from '../kit/response-faults.ts';
import { findApiRoute, type ApiDeps, type ApiResult } from './api-routes.ts';
import { OktaAuth, READ_SCOPES, type ServiceAppCredentials } from './auth.ts';
import { Behaviours } from './behaviours.ts';
import { createControl, handleControl, type OktaEmulatorControl } from './control.ts';
import { EventHooks, type EventHookOptions } from './event-hooks.ts';
import { OKTA_ERRORS, oktaErrorBody, OktaApiError, readForm, readJsonObject, sendJson } from './http-kit.ts';
import { OktaIds } from './okta-ids.ts';
import { generateOrg } from './org-generator.ts';
import type { OktaOrg } from './org-model.ts';
import { bucketOf, RateLimits, type BucketName, type RateLimitRule } from './rate-limits.ts';
import { SystemLog } from './system-log.ts';

export interface OktaEmulatorOptions {
  /** An org to serve; otherwise one is generated from users/groups/seed. */
  org?: (now: () => number) => OktaOrg;
  users?: number;
  groups?: number;
  seed?: number;
  domain?: string;
  host?: string;
  port?: number;
  /** Bucket limits other than Okta's per-minute table (tests use small windows). */
  rateLimits?: Partial<Record<BucketName, RateLimitRule>>;
  /** Scopes granted to the service app created at start. */
  serviceAppScopes?: string[];
  /** Okta only takes https event hook URIs; default false so local receivers work. */
  requireHttpsHooks?: boolean;
  /** Whether the verification GET carries the hook's Authorization header. [unverified] Default true. */
  verificationSendsAuth?: boolean;
  /** How long Okta waits for a verification or a delivery; 3 s. */
  hookTimeoutMs?: number;
  /** Replaces HTTP for verification and deliveries (tests with no receiver). */
  hookSend?: EventHookOptions['send'];
}

export interface OktaEmulator {
  /** The org URL (`https://{domain}` in Okta); the API is under /api/v1. */
  url: string;
  tokenUrl: string;
  org: OktaOrg;
  control: OktaEmulatorControl;
  /** An API token of a super admin, created at start. */
  apiToken: string;
  /** A service app created at start, granted the read scopes (and event hooks). */
  serviceApp: ServiceAppCredentials;
  /** The emulator's clock (wall clock plus whatever advanceTime added). */
  now(): number;
  close(): Promise<void>;
}

export async function startOktaEmulator(options: OktaEmulatorOptions = {}): Promise<OktaEmulator> {
  let clockOffset = 0;
  const now = () => Date.now() + clockOffset;
  const seed = options.seed ?? 1;
  const org = options.org ? options.org(now) : generateOrg({ users: options.users ?? 50, groups: options.groups ?? 5, seed, now, ...(options.domain ? { domain: options.domain } : {}) });
  let baseUrl = '';
  const auth = new OktaAuth(now);
  const behaviours = new Behaviours(seed);
  const rateLimits = new RateLimits(now, options.rateLimits);
  const log = new SystemLog(org, now);
  const hooks = new EventHooks({
    ids: new OktaIds(),
    log,
    now,
    baseUrl: () => baseUrl,
    requireHttps: options.requireHttpsHooks ?? false,
    verificationSendsAuth: options.verificationSendsAuth ?? true,
    timeoutMs: options.hookTimeoutMs ?? 3000,
    ...(options.hookSend ? { send: options.hookSend } : {}),
  });
  const deps: ApiDeps = { org, log, hooks, baseUrl: () => baseUrl };
  const control = createControl({ org, auth, behaviours, rateLimits, hooks, log, advanceTime: (ms) => (clockOffset += ms) });
  const hanging = new HangingResponses();

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      const failure = error instanceof OktaApiError ? error : OKTA_ERRORS.internal();
      sendJson(res, failure.status, oktaErrorBody(failure.errorCode, failure.summary, failure.causes), failure.headers);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const method = req.method ?? 'GET';
    const path = url.pathname;
    res.setHeader('x-okta-request-id', randomBytes(14).toString('base64url'));
    // Okta's clock, which is the emulator's (advanceTime moves it), not the machine's.
    res.setHeader('date', new Date(now()).toUTCString());
    if (path.startsWith('/_emulator/')) {
      const answer = await handleControl(control, method, path, method === 'GET' ? {} : await readJsonObject(req));
      if (!answer) throw OKTA_ERRORS.notFound(path, 'control route');
      return sendJson(res, answer.status, answer.body);
    }
    const isToken = path === '/oauth2/v1/token';
    if (!isToken && !path.startsWith('/api/v1/')) throw OKTA_ERRORS.notFound(path, 'path');

    // The org's concurrency limit and the endpoint's bucket come first: even a refused token spends a call.
    if (!rateLimits.enter()) throw OKTA_ERRORS.rateLimited();
    try {
      const verdict = rateLimits.take(bucketOf(path));
      for (const [name, value] of Object.entries(verdict.headers)) res.setHeader(name, value);
      if (!verdict.allowed) throw OKTA_ERRORS.rateLimited();
      if (isToken) {
        if (method !== 'POST') throw new OktaApiError(405, 'E0000022', 'The endpoint does not support the provided HTTP method');
        const answer = await behaviours.observe('POST /oauth2/v1/token', async () => auth.token(await readForm(req)));
        return sendJson(res, answer.status, answer.body, { 'cache-control': 'no-cache, no-store', pragma: 'no-cache' });
      }
      const found = findApiRoute(method, path);
      if (!found) throw OKTA_ERRORS.notFound(path, 'path');
      if (found === 'method-not-allowed') throw new OktaApiError(405, 'E0000022', 'The endpoint does not support the provided HTTP method');
      auth.authenticate(req.headers.authorization, found.route.scope);
      const fault = behaviours.nextFault(path);
      if (fault?.kind === 'timeout') return hanging.hold(res);
      if (fault?.kind === 'server-error') {
        const status = fault.status ?? 500;
        throw status === 500 ? OKTA_ERRORS.internal() : new OktaApiError(status, 'E0000009', status === 503 ? 'Service Unavailable' : 'Bad Gateway');
      }
      const result: ApiResult = await behaviours.observe(`${method} ${found.route.pattern}`, async () =>
        found.route.handle(deps, { method, path, query: url.searchParams, readJson: () => readJsonObject(req) }, found.params),
      );
      if (result.links) res.setHeader('link', result.links);
      if (result.body === undefined) return void res.writeHead(result.status).end();
      if (fault?.kind === 'truncated') return sendTruncatedJson(res, result.status, result.body, { 'content-type': 'application/json' });
      return sendJson(res, result.status, result.body);
    } finally {
      rateLimits.leave();
    }
  }

  baseUrl = await listenLocal(server, options);
  auth.tokenUrl = `${baseUrl}/oauth2/v1/token`;
  const apiToken = auth.createApiToken();
  const serviceApp = await auth.createServiceApp(options.serviceAppScopes ?? [...READ_SCOPES, 'okta.eventHooks.manage']);

  return {
    url: baseUrl,
    tokenUrl: auth.tokenUrl,
    org,
    control,
    apiToken,
    serviceApp,
    now,
    close: async () => {
      hooks.close();
      log.close();
      hanging.destroyAll();
      await closeNow(server);
    },
  };
}
