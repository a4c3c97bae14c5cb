import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeNow, listenLocal } from '../kit/local-server.ts';
import { HangingResponses, sendTruncatedJson } from '../kit/response-faults.ts';
import { Behaviours } from './behaviours.ts';
import { createControl, handleControl, type GoogleEmulatorControl } from './control.ts';
import { findDirectoryRoute, type ApiResult, type DirectoryDeps } from './directory-routes.ts';
import { GoogleApiError, googleErrorBody, readForm, readJsonObject, sendGoogleError, sendJson } from './http-kit.ts';
import { OAuthAuthority, type OAuthClient, type ServiceAccountKey } from './oauth.ts';
import { generateOrg } from './org-generator.ts';
import type { GoogleOrg } from './org-model.ts';
import { PageTokens } from './page-token.ts';
import { WatchChannels, type Notification } from './watch-channels.ts';

export interface GoogleEmulatorOptions {
  /** An org to serve; otherwise one is generated from users/groups/seed. */
  org?: (now: () => number) => GoogleOrg;
  users?: number;
  groups?: number;
  seed?: number;
  domain?: string;
  host?: string;
  port?: number;
  accessTokenTtlSeconds?: number;
  serviceAccountEmail?: string;
  oauthClient?: OAuthClient;
  /** Replaces the HTTP POST of push notifications (tests that need no receiver). */
  sendNotification?: (notification: Notification) => Promise<void>;
}

export interface GoogleEmulator {
  url: string;
  tokenUrl: string;
  org: GoogleOrg;
  control: GoogleEmulatorControl;
  /** A JSON key for a service account the emulator trusts for JWT-bearer grants. */
  serviceAccountKey: ServiceAccountKey;
  /** An OAuth client registered for the authorization-code flow. */
  oauthClient: OAuthClient;
  /** The emulator's clock (wall clock plus whatever advanceTime added); sign JWTs with it. */
  now(): number;
  close(): Promise<void>;
}

export async function startGoogleEmulator(options: GoogleEmulatorOptions = {}): Promise<GoogleEmulator> {
  let clockOffset = 0;
  const now = () => Date.now() + clockOffset;
  const seed = options.seed ?? 1;
  const org = options.org ? options.org(now) : generateOrg({ users: options.users ?? 50, groups: options.groups ?? 5, seed, now, ...(options.domain ? { domain: options.domain } : {}) });
  let baseUrl = '';
  const oauth = new OAuthAuthority({ now, accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3599, consentingUser: `admin@${org.domain}` });
  const oauthClient = options.oauthClient ?? { clientId: 'emulator-client.apps.googleusercontent.com', clientSecret: randomBytes(18).toString('base64url') };
  oauth.registerClient(oauthClient);
  const behaviours = new Behaviours(seed, now);
  const channels = new WatchChannels({ org, now, resourceUriBase: () => baseUrl, ...(options.sendNotification ? { send: options.sendNotification } : {}) });
  const deps: DirectoryDeps = { org, pageTokens: new PageTokens(randomBytes(32).toString('hex'), now), channels, memberLists: new Map() };
  const control = createControl({ org, oauth, behaviours, channels, advanceTime: (ms) => (clockOffset += ms) });
  const hanging = new HangingResponses();

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (error instanceof GoogleApiError) return sendGoogleError(res, error);
      const text = googleErrorBody(500, 'backendError', error instanceof Error ? error.message : 'Backend Error');
      res.writeHead(500, { 'content-type': 'application/json' }).end(text);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (path === '/token' && method === 'POST') {
      const answer = await oauth.token(await readForm(req));
      return sendJson(res, answer.status, answer.body);
    }
    if (path === '/o/oauth2/v2/auth' && method === 'GET') {
      const answer = oauth.authorize(url.searchParams);
      if ('location' in answer) return void res.writeHead(302, { location: answer.location }).end();
      return sendJson(res, answer.status, answer.body);
    }
    if (path.startsWith('/_emulator/')) {
      const answer = await handleControl(control, method, path, method === 'GET' ? {} : await readJsonObject(req));
      if (!answer) throw new GoogleApiError(404, 'notFound', `No control route ${method} ${path}`);
      return sendJson(res, answer.status, answer.body);
    }
    const found = findDirectoryRoute(method, path);
    if (!found) throw new GoogleApiError(404, 'notFound', 'Not Found');
    if (found === 'method-not-allowed') throw new GoogleApiError(405, 'httpMethodNotAllowed', `Method ${method} not allowed`);
    let grant;
    try {
      grant = oauth.authenticate(req.headers.authorization, found.route.scopes);
    } catch (error) {
      if (error instanceof GoogleApiError && error.status === 401) res.setHeader('www-authenticate', 'Bearer realm="https://accounts.google.com/", error="invalid_token"');
      throw error;
    }
    const throttled = behaviours.checkThrottle(grant.subject);
    if (throttled) throw new GoogleApiError(403, throttled.reason, throttled.message);
    const fault = behaviours.nextFault();
    if (fault?.kind === 'timeout') return hanging.hold(res);
    if (fault?.kind === 'server-error') {
      const status = fault.status ?? 503;
      throw new GoogleApiError(status, status === 503 ? 'serviceUnavailable' : 'backendError', status === 503 ? 'The service is currently unavailable.' : 'Backend Error');
    }
    const result: ApiResult = await behaviours.observe(`${method} ${found.route.pattern}`, async () =>
      found.route.handle(deps, { method, path, query: url.searchParams, readJson: () => readJsonObject(req) }, found.params),
    );
    if (result.body === undefined) return void res.writeHead(result.status).end();
    if (fault?.kind === 'truncated') return sendTruncatedJson(res, result.status, result.body, { 'content-type': 'application/json; charset=UTF-8' });
    return sendJson(res, result.status, result.body);
  }

  baseUrl = await listenLocal(server, options);
  oauth.tokenUrl = `${baseUrl}/token`;
  const serviceAccountKey = await oauth.createServiceAccount(options.serviceAccountEmail ?? `roster-sync@emulator-project.iam.gserviceaccount.com`, 'emulator-project');

  return {
    url: baseUrl,
    tokenUrl: oauth.tokenUrl,
    org,
    control,
    serviceAccountKey,
    oauthClient,
    now,
    close: async () => {
      channels.close();
      hanging.destroyAll();
      await closeNow(server);
    },
  };
}
