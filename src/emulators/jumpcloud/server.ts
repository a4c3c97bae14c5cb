import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeNow, listenLocal } from '../kit/local-server.ts';
import { HangingResponses, sendTruncatedJson } from '../kit/response-faults.ts';
import { findApiRoute, type ApiDeps } from './api-routes.ts';
import { ApiKeys, type OrgIdRule } from './api-keys.ts';
import { Behaviours } from './behaviours.ts';
import { createControl, handleControl, type JumpCloudEmulatorControl } from './control.ts';
import { DriftSwitch } from './drift.ts';
import { errorBody, JumpCloudApiError, readJsonObject, sendError, sendJson } from './http-kit.ts';
import type { ListOptions } from './list-query.ts';
import { generateJumpCloudOrg } from './org-generator.ts';
import type { JumpCloudOrg } from './org-model.ts';

export interface JumpCloudEmulatorOptions {
  /** An org to serve; otherwise one is generated from users/groups/seed. */
  org?: (now: () => number) => JumpCloudOrg;
  users?: number;
  groups?: number;
  seed?: number;
  domain?: string;
  /** The organization id (24 hex) multi-tenant keys name in x-org-id. */
  orgId?: string;
  host?: string;
  port?: number;
  /** The admin API key to accept; a random 40-hex key when omitted. */
  apiKey?: string;
  /** What a `limit` over 100 gets: a 400 (default) or the first 100 [unverified]. */
  overLimit?: ListOptions['overLimit'];
  /** When x-org-id is required (default: for multi-tenant keys only). */
  orgIdRule?: OrgIdRule;
}

export interface JumpCloudEmulator {
  /** The server root; the v1 API is under `${url}/api`, v2 under `${url}/api/v2`. */
  url: string;
  /** What a connection's `api_base_url` is set to (JumpCloud's `https://console.jumpcloud.com/api`). */
  apiBaseUrl: string;
  org: JumpCloudOrg;
  control: JumpCloudEmulatorControl;
  /** A single-tenant admin's key. */
  apiKey: string;
  /** A multi-tenant admin's key: every call must name the org in x-org-id. */
  multiTenantApiKey: string;
  orgId: string;
  close(): Promise<void>;
}

/** A local JumpCloud: v1 system users, v2 user groups and members, API keys, throttling, faults and drift. */
export async function startJumpCloudEmulator(options: JumpCloudEmulatorOptions = {}): Promise<JumpCloudEmulator> {
  const now = () => Date.now();
  const seed = options.seed ?? 1;
  const org = options.org
    ? options.org(now)
    : generateJumpCloudOrg({ users: options.users ?? 50, groups: options.groups ?? 5, seed, now, ...(options.domain ? { domain: options.domain } : {}), ...(options.orgId ? { orgId: options.orgId } : {}) });
  const keys = new ApiKeys(org.orgId);
  if (options.orgIdRule) keys.orgIdRule = options.orgIdRule;
  const apiKey = keys.issue('admin', options.apiKey);
  const multiTenantApiKey = keys.issue('multi-tenant');
  const behaviours = new Behaviours(seed, now);
  const drift = new DriftSwitch(org);
  const deps: ApiDeps = { org, drift, list: { overLimit: options.overLimit ?? 'reject' } };
  const control = createControl({ org, keys, behaviours, drift });
  const hanging = new HangingResponses();

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (error instanceof JumpCloudApiError) return sendError(res, error);
      res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' }).end(errorBody(500, error instanceof Error ? error.message : 'internal error'));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (path.startsWith('/_emulator/')) {
      const answer = await handleControl(control, method, path, method === 'GET' ? {} : await readJsonObject(req));
      if (!answer) throw new JumpCloudApiError(404, `no control route ${method} ${path}`);
      return sendJson(res, answer.status, answer.body);
    }
    if (!path.startsWith('/api/')) throw new JumpCloudApiError(404, 'Not Found');
    // The key is checked before anything else: an unauthenticated caller learns nothing about routes.
    const grant = keys.authenticate(req.headers);
    const found = findApiRoute(method, path);
    if (!found) throw new JumpCloudApiError(404, 'Not Found');
    if (found === 'method-not-allowed') throw new JumpCloudApiError(405, `method ${method} not allowed`);
    const throttled = behaviours.checkThrottle(grant.label);
    if (throttled) throw new JumpCloudApiError(429, 'Too Many Requests', throttled.headers);
    const fault = behaviours.nextFault();
    if (fault?.kind === 'timeout') return hanging.hold(res);
    if (fault?.kind === 'server-error') throw new JumpCloudApiError(fault.status ?? 503, fault.status === 500 ? 'internal error' : 'service unavailable');
    const logged = { method, path, query: Object.fromEntries(url.searchParams) };
    const body = await behaviours.observe(`${method} ${found.route.pattern}`, logged, () => found.route.handle(deps, { query: url.searchParams }, found.params));
    if (fault?.kind === 'truncated') return sendTruncatedJson(res, 200, body, { 'content-type': 'application/json; charset=utf-8' });
    return sendJson(res, 200, body);
  }

  const baseUrl = await listenLocal(server, options);

  return {
    url: baseUrl,
    apiBaseUrl: `${baseUrl}/api`,
    org,
    control,
    apiKey,
    multiTenantApiKey,
    orgId: org.orgId,
    close: async () => {
      hanging.destroyAll();
      await closeNow(server);
    },
  };
}
