/**
 * TokenManager and credential strategies against a real local token endpoint: refresh ahead of expiry,
 * single-flight refresh, invalid_grant → needs re-auth once, JWT-bearer assertions verified with jose,
 * client_credentials, refresh-token rotation, API-key headers, PKCE, and no secret in errors or logs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { inspect } from 'node:util';
import { exportPKCS8, generateKeyPair, jwtVerify, type JWTPayload } from 'jose';
import { JWT_CLIENT_ASSERTION_TYPE, privateKeyJwtAssertion } from '../src/sync/credentials/client-assertion.ts';
import { ClientCredentialsStrategy } from '../src/sync/credentials/client-credentials.strategy.ts';
import { CredentialsError, CredentialsRevokedError } from '../src/sync/credentials/errors.ts';
import { JWT_BEARER_GRANT, JwtBearerStrategy } from '../src/sync/credentials/jwt-bearer.strategy.ts';
import { buildAuthorizeUrl, codeChallengeS256, createCodeVerifier, createState, exchangeAuthorizationCode } from '../src/sync/credentials/pkce.ts';
import { RefreshTokenStrategy } from '../src/sync/credentials/refresh-token.strategy.ts';
import { oktaApiToken, jumpCloudApiKey } from '../src/sync/credentials/static-header.strategy.ts';
import { TokenManager } from '../src/sync/credentials/token-manager.ts';
import type { Clock, LogSink } from '../src/sync/http/clock.ts';
import { ProviderHttpClient } from '../src/sync/http/provider-http-client.ts';
import { describeSyncError, isCredentialFailure } from '../src/sync/sync-errors.ts';

type Handler = (form: URLSearchParams, req: IncomingMessage, res: ServerResponse, hit: number) => void | Promise<void>;

interface TokenServer {
  url: string;
  hits: number;
  close(): Promise<void>;
}

const servers: TokenServer[] = [];
after(async () => {
  for (const server of servers) await server.close();
});

async function startTokenServer(handler: Handler): Promise<TokenServer> {
  const state = { hits: 0 };
  const server = createServer(async (req, res) => {
    state.hits += 1;
    const hit = state.hits;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    try {
      await handler(new URLSearchParams(Buffer.concat(chunks).toString('utf8')), req, res, hit);
    } catch (error) {
      send(res, 418, { error: 'test_server_assertion', detail: String(error) });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const handle: TokenServer = {
    url: `http://127.0.0.1:${port}/oauth2/token`,
    get hits() {
      return state.hits;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(handle);
  return handle;
}

class ManualClock implements Clock {
  time = Date.UTC(2026, 0, 5, 9, 0, 0);
  now(): number {
    return this.time;
  }
  async sleep(ms: number): Promise<void> {
    this.time += Math.max(0, ms);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const send = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const http = (clock: Clock = new ManualClock()) => new ProviderHttpClient({ clock, maxErrorAttempts: 3, errorBackoff: { baseMs: 10, capMs: 50 } });
const capture = () => {
  const lines: string[] = [];
  const logger: LogSink = {
    debug: (obj, msg) => lines.push(JSON.stringify({ obj, msg })),
    warn: (obj, msg) => lines.push(JSON.stringify({ obj, msg })),
  };
  return { lines, logger };
};
const CLIENT = { clientId: 'roster-app', clientSecret: 'cs-SECRET-8f2e1b' };

test('the token is refreshed ahead of expiry, not before and not after', async () => {
  const clock = new ManualClock();
  const server = await startTokenServer((form, _req, res, hit) => {
    assert.equal(form.get('grant_type'), 'refresh_token');
    send(res, 200, { access_token: `at-${hit}`, token_type: 'Bearer', expires_in: 3600 });
  });
  const manager = new TokenManager({
    clock,
    strategy: new RefreshTokenStrategy({ http: http(clock), tokenUrl: server.url, client: CLIENT, refreshToken: 'rt-1', clock }),
  });
  const start = clock.now();
  assert.equal(await manager.getAccessToken(), 'at-1');
  clock.time = start + 3000_000; // 50 min: outside the 10% (6 min) window
  assert.equal(await manager.getAccessToken(), 'at-1');
  assert.equal(server.hits, 1);
  clock.time = start + 3250_000; // inside the last 6 minutes, still before expiry
  assert.equal(await manager.getAccessToken(), 'at-2');
  assert.equal(server.hits, 2);
  assert.equal(manager.expiresAt, start + 3250_000 + 3600_000);
});

test('20 concurrent getAccessToken calls cause exactly one token request', async () => {
  const server = await startTokenServer(async (_form, _req, res, hit) => {
    await new Promise((resolve) => setTimeout(resolve, 40));
    send(res, 200, { access_token: `at-${hit}`, expires_in: 3600 });
  });
  const manager = new TokenManager({ strategy: new ClientCredentialsStrategy({ http: http(), tokenUrl: server.url, client: CLIENT }) });
  const tokens = await Promise.all(Array.from({ length: 20 }, () => manager.getAccessToken()));
  assert.equal(server.hits, 1);
  assert.deepEqual(new Set(tokens), new Set(['at-1']));
});

test('invalid_grant raises CredentialsRevokedError and calls onRevoked exactly once', async () => {
  const server = await startTokenServer(async (_form, _req, res) => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    send(res, 400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
  });
  const revoked: CredentialsRevokedError[] = [];
  const manager = new TokenManager({
    strategy: new RefreshTokenStrategy({ http: http(), tokenUrl: server.url, client: CLIENT, refreshToken: 'rt-REVOKED-77' }),
    onRevoked: (error) => {
      revoked.push(error);
    },
  });
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => manager.getAccessToken()));
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assert.ok(result.reason instanceof CredentialsRevokedError);
    assert.equal(result.reason.providerReason, 'invalid_grant');
  }
  await assert.rejects(manager.getAccessToken(), CredentialsRevokedError);
  assert.equal(revoked.length, 1);
  assert.equal(server.hits, 1, 'a 400 invalid_grant is not retried and later calls fail fast');
  assert.equal(manager.revoked, true);
});

test('transient token endpoint failures are retried by the http client rules', async () => {
  const server = await startTokenServer((_form, _req, res, hit) =>
    hit === 1 ? send(res, 503, { error: 'temporarily_unavailable' }) : send(res, 200, { access_token: 'at-ok', expires_in: 3600 }),
  );
  const manager = new TokenManager({ strategy: new ClientCredentialsStrategy({ http: http(), tokenUrl: server.url, client: CLIENT }) });
  assert.equal(await manager.getAccessToken(), 'at-ok');
  assert.equal(server.hits, 2);
});

test('a failed early refresh keeps serving the still-valid token', async () => {
  const clock = new ManualClock();
  const server = await startTokenServer((_form, _req, res, hit) => (hit === 1 ? send(res, 200, { access_token: 'at-1', expires_in: 3600 }) : send(res, 500, {})));
  const manager = new TokenManager({ clock, strategy: new ClientCredentialsStrategy({ http: http(clock), tokenUrl: server.url, client: CLIENT, clock }) });
  const start = clock.now();
  assert.equal(await manager.getAccessToken(), 'at-1');
  clock.time = start + 3500_000;
  assert.equal(await manager.getAccessToken(), 'at-1');
  assert.ok(server.hits > 1, 'it did try to refresh');
  clock.time = start + 3600_000;
  await assert.rejects(manager.getAccessToken(), (error: unknown) => error instanceof CredentialsError && error.code === 'token_endpoint_unavailable' && error.transient);
});

test('only a refusal from the token endpoint says the credentials are wrong; an endpoint down or out of reach does not', async () => {
  const refusing = await startTokenServer((_f, _r, res) => send(res, 401, { error: 'invalid_client' }));
  const revoking = await startTokenServer((_f, _r, res) => send(res, 400, { error: 'invalid_grant' }));
  const down = await startTokenServer((_f, _r, res) => send(res, 503, { error: 'temporarily_unavailable' }));
  const gone = await startTokenServer((_f, _r, res) => send(res, 200, {}));
  const goneUrl = gone.url;
  await gone.close();
  const failure = async (tokenUrl: string) => {
    const manager = new TokenManager({ strategy: new ClientCredentialsStrategy({ http: http(), tokenUrl, client: CLIENT }) });
    return manager.getAccessToken().then(() => assert.fail('expected a failure'), (error: unknown) => error);
  };
  const refused = await failure(refusing.url);
  assert.ok(refused instanceof CredentialsError && refused.code === 'token_request_failed');
  assert.equal(isCredentialFailure(refused), true);
  assert.equal(isCredentialFailure(await failure(revoking.url)), true);
  for (const url of [down.url, goneUrl]) {
    const unavailable = await failure(url);
    assert.ok(unavailable instanceof CredentialsError && unavailable.code === 'token_endpoint_unavailable', String(unavailable));
    assert.equal(isCredentialFailure(unavailable), false);
    assert.match(describeSyncError(unavailable), /^token_endpoint_unavailable: Token request to 127\.0\.0\.1:\d+ failed: (http_status 503|network)/);
  }
});

test('JWT-bearer: the assertion verifies with jose at the token endpoint with the right claims', async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const pem = await exportPKCS8(privateKey);
  const clock = new ManualClock();
  let claims: JWTPayload | undefined;
  let kid: string | undefined;
  const server = await startTokenServer(async (form, _req, res) => {
    assert.equal(form.get('grant_type'), JWT_BEARER_GRANT);
    const verified = await jwtVerify(form.get('assertion') ?? '', publicKey, {
      algorithms: ['RS256'],
      issuer: 'sync@roster-test.iam.gserviceaccount.com',
      audience: server.url,
      currentDate: new Date(clock.now()),
    });
    claims = verified.payload;
    kid = verified.protectedHeader.kid;
    send(res, 200, { access_token: 'ya29.jwt', expires_in: 3599, token_type: 'Bearer' });
  });
  const manager = new TokenManager({
    clock,
    strategy: new JwtBearerStrategy({
      http: http(clock),
      tokenUrl: server.url,
      issuer: 'sync@roster-test.iam.gserviceaccount.com',
      subject: 'admin@acme.test',
      scope: 'https://www.googleapis.com/auth/admin.directory.user.readonly https://www.googleapis.com/auth/admin.directory.group.readonly',
      privateKey: pem,
      keyId: 'key-1',
      assertionLifetimeSec: 7200,
      clock,
    }),
  });
  assert.deepEqual(await manager.getAuthHeader(), { name: 'authorization', value: 'Bearer ya29.jwt' });
  assert.ok(claims);
  assert.equal(claims.sub, 'admin@acme.test');
  assert.equal(claims.scope, 'https://www.googleapis.com/auth/admin.directory.user.readonly https://www.googleapis.com/auth/admin.directory.group.readonly');
  assert.equal(claims.iat, clock.now() / 1000);
  assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 3600, 'lifetime is capped at one hour');
  assert.equal(kid, 'key-1');
});

test('client_credentials sends the client by HTTP Basic or in the body, with the scope', async () => {
  const seen: Array<{ auth: string | undefined; form: URLSearchParams }> = [];
  const server = await startTokenServer((form, req, res) => {
    seen.push({ auth: req.headers.authorization, form });
    send(res, 200, { access_token: 'graph-at', expires_in: 4000 });
  });
  const scope = 'https://graph.microsoft.com/.default';
  const basic = new TokenManager({ strategy: new ClientCredentialsStrategy({ http: http(), tokenUrl: server.url, client: CLIENT, scope }) });
  assert.equal(await basic.getAccessToken(), 'graph-at');
  const body = new TokenManager({ strategy: new ClientCredentialsStrategy({ http: http(), tokenUrl: server.url, client: { ...CLIENT, method: 'body' }, scope }) });
  assert.equal(await body.getAccessToken(), 'graph-at');

  const [first, second] = seen;
  assert.equal(Buffer.from((first?.auth ?? '').replace(/^Basic /, ''), 'base64').toString(), 'roster-app:cs-SECRET-8f2e1b');
  assert.equal(first?.form.get('grant_type'), 'client_credentials');
  assert.equal(first?.form.get('scope'), scope);
  assert.equal(first?.form.get('client_secret'), null);
  assert.equal(second?.auth, undefined);
  assert.equal(second?.form.get('client_id'), 'roster-app');
  assert.equal(second?.form.get('client_secret'), 'cs-SECRET-8f2e1b');
});

test('a rotated refresh token is reported and used for the next refresh', async () => {
  const clock = new ManualClock();
  const used: string[] = [];
  const server = await startTokenServer((form, _req, res, hit) => {
    used.push(form.get('refresh_token') ?? '');
    send(res, 200, { access_token: `at-${hit}`, refresh_token: `rt-${hit + 1}`, expires_in: 3600 });
  });
  const rotated: string[] = [];
  const manager = new TokenManager({
    clock,
    strategy: new RefreshTokenStrategy({ http: http(clock), tokenUrl: server.url, client: CLIENT, refreshToken: 'rt-1', clock, onRefreshTokenRotated: (rt) => void rotated.push(rt) }),
  });
  await manager.getAccessToken();
  clock.time += 3600_000;
  assert.equal(await manager.getAccessToken(), 'at-2');
  assert.deepEqual(used, ['rt-1', 'rt-2']);
  assert.deepEqual(rotated, ['rt-2', 'rt-3']);
});

test('static API keys reach the provider as Okta SSWS and JumpCloud x-api-key headers', async () => {
  const headers: Array<string | undefined> = [];
  const server = await startTokenServer((_form, req, res) => {
    headers.push(req.headers.authorization ?? req.headers['x-api-key']?.toString());
    send(res, 200, []);
  });
  for (const strategy of [oktaApiToken('00okta-token'), jumpCloudApiKey('jc-key')]) {
    const manager = new TokenManager({ strategy });
    const client = new ProviderHttpClient({ authorize: () => manager.getAuthHeader() });
    await client.request({ url: server.url });
    await client.request({ url: server.url });
  }
  assert.deepEqual(headers, ['SSWS 00okta-token', 'SSWS 00okta-token', 'jc-key', 'jc-key']);
});

test('PKCE: S256 challenge, authorize URL, and code exchange verified by the server', async () => {
  const verifier = createCodeVerifier();
  assert.match(verifier, /^[A-Za-z0-9_-]{43,128}$/);
  assert.notEqual(createCodeVerifier(), verifier);
  const challenge = codeChallengeS256(verifier);
  assert.equal(challenge, createHash('sha256').update(verifier).digest('base64url'));
  assert.equal(codeChallengeS256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'), 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', 'RFC 7636 appendix B');
  const state = createState();

  const url = new URL(
    buildAuthorizeUrl({
      authorizeUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
      clientId: 'roster-app',
      redirectUri: 'https://roster.test/oauth/callback',
      scopes: ['openid', 'https://www.googleapis.com/auth/admin.directory.user.readonly'],
      state,
      codeChallenge: challenge,
      accessTypeOffline: true,
      promptConsent: true,
    }),
  );
  const params = Object.fromEntries(url.searchParams);
  assert.deepEqual(params, {
    response_type: 'code',
    client_id: 'roster-app',
    redirect_uri: 'https://roster.test/oauth/callback',
    scope: 'openid https://www.googleapis.com/auth/admin.directory.user.readonly',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    access_type: 'offline',
    prompt: 'consent',
  });

  const server = await startTokenServer((form, _req, res) => {
    const ok = form.get('grant_type') === 'authorization_code' && form.get('code') === 'code-123' && codeChallengeS256(form.get('code_verifier') ?? '') === challenge;
    if (!ok) return send(res, 400, { error: 'invalid_grant' });
    send(res, 200, { access_token: 'at-code', refresh_token: 'rt-code', expires_in: 3600, scope: 'openid' });
  });
  const grant = await exchangeAuthorizationCode({ http: http(), tokenUrl: server.url, client: CLIENT, code: 'code-123', codeVerifier: verifier, redirectUri: 'https://roster.test/oauth/callback', now: 1000 });
  assert.deepEqual(grant, { accessToken: 'at-code', refreshToken: 'rt-code', expiresAt: 1000 + 3600_000, scope: 'openid' });
  await assert.rejects(
    exchangeAuthorizationCode({ http: http(), tokenUrl: server.url, client: CLIENT, code: 'code-123', codeVerifier: createCodeVerifier(), redirectUri: 'https://roster.test/oauth/callback' }),
    CredentialsRevokedError,
  );
});

test('no secret appears in any error, its causes, or log output', async () => {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const pem = await exportPKCS8(privateKey);
  const pemBody = pem.split('\n')[5] ?? '';
  const secrets = [CLIENT.clientSecret, 'rt-SECRET-REFRESH-91', 'at-SECRET-ACCESS-12', pemBody, 'not-a-key-SECRET-PEM'];
  const { lines, logger } = capture();
  const clock = new ManualClock();
  const errors: unknown[] = [];
  const collect = (promise: Promise<unknown>) => promise.then(() => assert.fail('expected a failure'), (error: unknown) => errors.push(error));

  // Every failure mode a token endpoint has, with the secret echoed back in the body where it could leak.
  const revoked = await startTokenServer((_f, _r, res) => send(res, 400, { error: 'invalid_grant', error_description: `refresh token ${secrets[1]} revoked` }));
  const badClient = await startTokenServer((_f, _r, res) => send(res, 401, { error: 'invalid_client', error_description: `bad secret ${CLIENT.clientSecret}` }));
  const down = await startTokenServer((_f, _r, res) => send(res, 500, { error: 'server_error', echo: secrets[1] }));
  const malformed = await startTokenServer((_f, _r, res) => send(res, 200, { acess_token: secrets[2] }));
  const once = await startTokenServer((_f, _r, res, hit) => (hit === 1 ? send(res, 200, { access_token: secrets[2], expires_in: 3600 }) : send(res, 503, { echo: secrets[2] })));
  const client = http(clock);
  const refresh = (url: string) => new RefreshTokenStrategy({ http: client, tokenUrl: url, client: CLIENT, refreshToken: secrets[1] ?? '' });

  await collect(new TokenManager({ strategy: refresh(revoked.url), logger, onRevoked: () => {} }).getAccessToken());
  await collect(new TokenManager({ strategy: refresh(badClient.url), logger }).getAccessToken());
  await collect(new TokenManager({ strategy: refresh(down.url), logger }).getAccessToken());
  await collect(new TokenManager({ strategy: refresh(malformed.url), logger }).getAccessToken());
  for (const key of [pem.replace(/[A-Za-z]/g, 'Q'), `-----BEGIN PRIVATE KEY-----\n${secrets[4]}\n-----END PRIVATE KEY-----`]) {
    const strategy = new JwtBearerStrategy({ http: client, tokenUrl: down.url, issuer: 'sa@x', scope: 's', privateKey: key });
    await collect(new TokenManager({ strategy, logger }).getAccessToken());
  }
  await collect(new TokenManager({ strategy: new JwtBearerStrategy({ http: client, tokenUrl: down.url, issuer: 'sa@x', scope: 's', privateKey: pem }), logger }).getAccessToken());
  const early = new TokenManager({ clock, logger, strategy: new ClientCredentialsStrategy({ http: client, tokenUrl: once.url, client: CLIENT, clock }) });
  await early.getAccessToken();
  clock.time += 3590_000; // in the refresh window; the refresh fails and is logged
  await early.getAccessToken();
  clock.time += 60_000;
  await collect(early.getAccessToken());

  assert.equal(errors.length, 8);
  assert.ok(lines.some((line) => line.includes('credential refresh failed')), 'failures are logged');
  const revealed = [
    ...errors.flatMap((error) => [String(error), inspect(error, { depth: 10 }), JSON.stringify(error), (error as Error).stack ?? '']),
    ...lines,
    inspect(early, { depth: 10 }),
    inspect(refresh(revoked.url), { depth: 10 }),
    JSON.stringify(refresh(revoked.url)),
  ].join('\n');
  for (const secret of secrets) {
    assert.ok(secret.length > 8);
    assert.ok(!revealed.includes(secret), `secret leaked: ${secret.slice(0, 6)}…`);
  }
});

test('a 401 from the provider drops the held token and the call is retried once with a new one', async () => {
  const tokenServer = await startTokenServer((_form, _req, res, hit) => send(res, 200, { access_token: `at-${hit}`, expires_in: 3600 }));
  const seen: Array<string | undefined> = [];
  const api = await startTokenServer((_form, req, res) => {
    seen.push(req.headers.authorization);
    if (req.headers.authorization === 'Bearer at-1') return send(res, 401, { error: { code: 'InvalidAuthenticationToken' } });
    send(res, 200, { value: [] });
  });
  const manager = new TokenManager({ strategy: new ClientCredentialsStrategy({ http: http(), tokenUrl: tokenServer.url, client: CLIENT }) });
  const client = new ProviderHttpClient({ authorize: () => manager.getAuthHeader(), onUnauthorized: () => manager.invalidate() });
  assert.equal((await client.request({ url: api.url })).status, 200);
  assert.deepEqual(seen, ['Bearer at-1', 'Bearer at-2']);

  // A token the provider keeps refusing is a real 401, not a loop.
  const refusing = await startTokenServer((_form, _req, res) => send(res, 401, {}));
  await assert.rejects(client.request({ url: refusing.url }), (error: unknown) => error instanceof Error && 'status' in error && error.status === 401);
  assert.equal(refusing.hits, 2);
});

test('client_credentials with private_key_jwt (Okta service app): a fresh, verifiable assertion per request', async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const clock = new ManualClock();
  const assertions: JWTPayload[] = [];
  const server = await startTokenServer(async (form, req, res) => {
    assert.equal(req.headers.authorization, undefined);
    assert.equal(form.get('grant_type'), 'client_credentials');
    assert.equal(form.get('client_id'), '0oa-service');
    assert.equal(form.get('client_assertion_type'), JWT_CLIENT_ASSERTION_TYPE);
    const { payload } = await jwtVerify(form.get('client_assertion') ?? '', publicKey, {
      algorithms: ['RS256'],
      issuer: '0oa-service',
      subject: '0oa-service',
      audience: server.url,
      currentDate: new Date(clock.now()),
    });
    assertions.push(payload);
    send(res, 200, { token_type: 'Bearer', expires_in: 3600, access_token: `okta-at-${assertions.length}`, scope: 'okta.users.read' });
  });
  const client = { clientId: '0oa-service', clientAssertion: privateKeyJwtAssertion({ clientId: '0oa-service', tokenUrl: server.url, privateKey: await exportPKCS8(privateKey), clock }) };
  const manager = new TokenManager({ clock, strategy: new ClientCredentialsStrategy({ http: http(clock), tokenUrl: server.url, client, scope: 'okta.users.read', clock }) });
  assert.equal(await manager.getAccessToken(), 'okta-at-1');
  clock.time += 3600_000;
  assert.equal(await manager.getAccessToken(), 'okta-at-2');
  assert.equal(assertions.length, 2);
  assert.notEqual(assertions[0]?.jti, assertions[1]?.jti);
  assert.ok(assertions.every((a) => (a.exp ?? 0) - (a.iat ?? 0) <= 3600));
});
