import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { startGoogleEmulator, type GoogleEmulator } from '../src/emulators/google/index.ts';
import { assertError, auditOf, createOrganization, createPushConnection, createScopedKey, eventsOf, expectStatus } from './support/api.ts';
import { createGoogleConnection, emulatorConfig, serviceAccountCredentials } from './support/google-sync.ts';
import { becomesActive, eventually, fastSyncConfig, getConnection, runEnded, usersOf } from './support/pull-sync.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';

/**
 * "Connect Google" the way an IT admin does it: Roster answers the consent URL, the browser goes to Google
 * (the emulator consents at once) and comes back to Roster's public callback, which stores the refresh
 * token sealed and starts the first sync. And the other end of the grant's life: Google revokes it, the
 * connection says it needs re-authorization, and a new consent brings it back.
 */
forEachEngine('Google Workspace connected by an admin’s OAuth consent', (engine) => {
  // Everything Roster logs, down to debug, to check that no code, state, token or secret is in it.
  const logLines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) }) as FastifyBaseLogger;
  const roster = useTestRoster(engine, { config: fastSyncConfig(), logger });
  const secretsSeen = new Set<string>();
  let emulator: GoogleEmulator;
  let organizationId: string;
  let connectionId: string;
  let usedCallback: string;

  before(async () => {
    emulator = await startGoogleEmulator({ users: 60, groups: 4, seed: 17 });
  });
  after(async () => {
    await emulator?.close();
  });

  const liveUsers = () => emulator.org.userIds().filter((id) => !emulator.org.userById(id)!.deletionTime);
  const oauthCredentials = () => ({ method: 'oauth', client_id: emulator.oauthClient.clientId, client_secret: emulator.oauthClient.clientSecret });
  const connectionConfig = () => emulatorConfig(emulator, { push: false, schedule: { critical_seconds: 3600, profile_seconds: 3600, full_seconds: 86_400 } });
  const publicUrl = () => `http://localhost:${new URL(roster().baseUrl).port}`;
  const hashOf = (state: string) => createHash('sha256').update(state, 'utf8').digest('hex');
  const runsOf = async (id: string) => expectStatus(await roster().request('GET', `/v1/sync-runs?connection_id=${id}`), 200).data as any[];

  async function createOAuthConnection(name: string): Promise<any> {
    return createGoogleConnection(roster(), organizationId, { name, config: connectionConfig(), credentials: oauthCredentials() });
  }

  /** POST …/oauth/authorize, then the browser's trip to the consent screen: the Location it is sent back to. */
  async function startConsent(id: string): Promise<{ authorizeUrl: URL; expiresAt: string; callback: string }> {
    const started = expectStatus(await roster().request('POST', `/v1/connections/${id}/oauth/authorize`), 200) as any;
    const atGoogle = await fetch(started.authorize_url, { redirect: 'manual' });
    assert.equal(atGoogle.status, 302, await atGoogle.text());
    const callback = atGoogle.headers.get('location')!;
    for (const value of [new URL(started.authorize_url).searchParams.get('state'), new URL(callback).searchParams.get('code')]) if (value) secretsSeen.add(value);
    return { authorizeUrl: new URL(started.authorize_url), expiresAt: started.expires_at, callback };
  }

  /** The browser lands on Roster's callback: no API key, just the URL. */
  async function land(url: string): Promise<{ status: number; html: string; headers: Headers }> {
    const response = await fetch(url);
    return { status: response.status, html: await response.text(), headers: response.headers };
  }

  async function consent(id: string) {
    const { callback } = await startConsent(id);
    return { ...(await land(callback)), callback };
  }

  const activeAgain = (id: string) => becomesActive(roster(), id, `connection ${id} to be active`);

  /** The full run an activation queues, other than the runs in `earlier`. */
  async function completedActivationRun(id: string, earlier: readonly any[] = []) {
    const seen = new Set(earlier.map((r) => r.id));
    const run = await eventually('the activation run', async () => (await runsOf(id)).find((r) => r.trigger === 'activation' && !seen.has(r.id)));
    const ended = await runEnded(roster(), run.id);
    assert.equal(ended.status, 'completed', JSON.stringify(ended));
    return ended;
  }

  test('an OAuth client waits in draft; the consent round trip activates the connection and a full sync brings the users', async () => {
    organizationId = (await createOrganization(roster(), 'Consenting customer')).id;
    const created = await createOAuthConnection('Google (OAuth)');
    connectionId = created.id;
    assert.equal(created.state, 'draft');

    const { authorizeUrl, expiresAt, callback } = await startConsent(connectionId);
    const params = authorizeUrl.searchParams;
    assert.equal(`${authorizeUrl.origin}${authorizeUrl.pathname}`, `${emulator.url}/o/oauth2/v2/auth`);
    assert.equal(params.get('client_id'), emulator.oauthClient.clientId);
    assert.equal(params.get('redirect_uri'), `${publicUrl()}/oauth/callback`);
    assert.equal(params.get('response_type'), 'code');
    assert.equal(params.get('code_challenge_method'), 'S256');
    assert.match(params.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(params.get('access_type'), 'offline');
    assert.equal(params.get('prompt'), 'consent');
    assert.ok(params.get('scope')!.split(' ').includes('https://www.googleapis.com/auth/admin.directory.user.readonly'));
    assert.equal(params.has('client_secret'), false);
    const expiresIn = Date.parse(expiresAt) - Date.now();
    assert.ok(expiresIn > 9 * 60_000 && expiresIn <= 10 * 60_000, expiresAt);

    // Only the state's hash is stored, with the verifier sealed.
    const state = params.get('state')!;
    const stored = await roster().database.db.selectFrom('oauth_states').selectAll().where('connection_id', '=', connectionId).execute();
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.state_hash, hashOf(state));
    assert.match(stored[0]!.sealed, /^v1\./);
    assert.equal(stored[0]!.used_at, null);

    assert.ok(callback.startsWith(`${publicUrl()}/oauth/callback?`), callback);
    const code = new URL(callback).searchParams.get('code')!;
    const page = await land(callback);
    usedCallback = callback;
    assert.equal(page.status, 200, page.html);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.match(page.html, /Google Workspace is connected/);
    assert.match(page.html, /first full sync/);
    assert.match(page.html, /“Google \(OAuth\)”/);
    for (const secret of [code, state, emulator.oauthClient.clientSecret]) assert.equal(page.html.includes(secret), false, 'no code, state or secret in the page');
    assert.doesNotMatch(page.html, /<script|<link|src=|https?:\/\//, 'self-contained');

    await activeAgain(connectionId);
    const run = await completedActivationRun(connectionId);
    assert.ok(run.counters.users_created >= liveUsers().length);
    assert.equal((await usersOf(roster(), organizationId)).length, liveUsers().length);

    const sealed = await roster().database.db.selectFrom('connection_secrets').select('sealed').where('connection_id', '=', connectionId).executeTakeFirstOrThrow();
    assert.doesNotMatch(sealed.sealed, /refresh_token|1\/\/emu-|client_secret/, 'the refresh token is sealed');
    assert.equal(sealed.sealed.includes(emulator.oauthClient.clientSecret), false);

    const audit = (await auditOf(roster(), organizationId)).filter((entry) => entry.target_id === connectionId);
    const started = audit.find((entry) => entry.action === 'connection.consent_started');
    const granted = audit.find((entry) => entry.action === 'connection.consent_granted');
    assert.ok(started && started.actor.startsWith('key_'), JSON.stringify(audit));
    assert.equal(granted?.actor, 'oauth:consent');
    assert.deepEqual(granted.details, { state: { from: 'draft', to: 'validating' } });
    const types = (await eventsOf(roster(), organizationId)).filter((e) => e.source?.connection_id === connectionId).map((e) => e.type);
    assert.ok(types.includes('connection.activated'));
  });

  test('a reused, unknown, missing or expired state answers the same 400 page and changes nothing', async () => {
    const before = await getConnection(roster(), connectionId);
    const eventsBefore = (await eventsOf(roster(), organizationId)).length;

    const reused = await land(usedCallback);
    assert.equal(reused.status, 400);
    assert.match(reused.html, /no longer valid/);
    const forged = new URL(usedCallback);
    forged.searchParams.set('state', 'not-a-state-roster-issued');
    const unknown = await land(forged.toString());
    forged.searchParams.delete('state');
    const missing = await land(forged.toString());

    // A fresh flow whose 10 minutes are over by the time the browser comes back.
    const { authorizeUrl, callback } = await startConsent(connectionId);
    await roster()
      .database.db.updateTable('oauth_states')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('state_hash', '=', hashOf(authorizeUrl.searchParams.get('state')!))
      .execute();
    const expired = await land(callback);

    for (const page of [unknown, missing, expired]) {
      assert.equal(page.status, 400);
      assert.equal(page.html, reused.html, 'unknown, reused and expired states are told apart by nobody');
    }
    const afterwards = await getConnection(roster(), connectionId);
    assert.equal(afterwards.state, 'active');
    assert.equal(afterwards.updated_at, before.updated_at);
    assert.equal((await eventsOf(roster(), organizationId)).length, eventsBefore, 'no events');
  });

  test('a declined consent says so, and the connection stays in draft', async () => {
    const declined = await createOAuthConnection('Declined');
    const started = expectStatus(await roster().request('POST', `/v1/connections/${declined.id}/oauth/authorize`), 200) as any;
    const state = new URL(started.authorize_url).searchParams.get('state')!;
    // What Google sends the browser back with when the admin clicks Cancel.
    const page = await land(`${publicUrl()}/oauth/callback?error=access_denied&state=${encodeURIComponent(state)}`);
    assert.equal(page.status, 400);
    assert.match(page.html, /Consent was declined/);
    assert.match(page.html, /“Declined”/);
    assert.equal(page.html.includes(state), false);
    const connection = await getConnection(roster(), declined.id);
    assert.equal(connection.state, 'draft');
    const secrets = await roster().roster.database.db.selectFrom('connection_secrets').select('sealed').where('connection_id', '=', declined.id).executeTakeFirstOrThrow();
    assert.ok(secrets.sealed);
    const audit = (await auditOf(roster(), organizationId)).filter((entry) => entry.target_id === declined.id);
    assert.ok(audit.some((entry) => entry.action === 'connection.consent_declined' && entry.actor === 'oauth:consent'));
    assert.equal((await runsOf(declined.id)).length, 0);
  });

  test('a revoked refresh token fails the run as credentials_revoked and asks for re-consent once; consenting again resumes sync', async () => {
    emulator.control.revokeAllRefreshTokens();
    // The access token Roster holds lapses at Google: the next call must refresh, and the refresh is refused.
    emulator.control.advanceTime(2 * 3600 * 1000);
    const { run } = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind: 'full' }), 202) as any;
    const failed = await runEnded(roster(), run.id);
    assert.equal(failed.status, 'failed');
    assert.match(failed.error, /^credentials_revoked/);
    assert.doesNotMatch(failed.error, /1\/\/emu-|ya29\./);

    const waiting = await eventually('needs_reauth', async () => {
      const connection = await getConnection(roster(), connectionId);
      return connection.state === 'needs_reauth' ? connection : undefined;
    });
    assert.match(waiting.state_reason, /^credentials_revoked: .*re-authorized/);
    const reauthEvents = async () => (await eventsOf(roster(), organizationId)).filter((e) => e.type === 'connection.needs_reauth' && e.source?.connection_id === connectionId);
    assert.equal((await reauthEvents()).length, 1);
    assertError(await roster().request('POST', `/v1/connections/${connectionId}/sync`, {}), 409, 'connection_not_active', 'needs_reauth');

    const earlier = await runsOf(connectionId);
    const page = await consent(connectionId);
    assert.equal(page.status, 200, page.html);
    await activeAgain(connectionId);
    await completedActivationRun(connectionId, earlier);
    const { run: manual } = expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/sync`, { kind: 'full' }), 202) as any;
    assert.equal((await runEnded(roster(), manual.id)).status, 'completed');
    assert.equal((await getConnection(roster(), connectionId)).state_reason, null);
    assert.equal((await reauthEvents()).length, 1, 'exactly one connection.needs_reauth');
  });

  test('a paused connection takes no consent, and a flow started before the pause stores nothing', async () => {
    const { callback } = await startConsent(connectionId);
    expectStatus(await roster().request('POST', `/v1/connections/${connectionId}/pause`), 200);
    assertError(await roster().request('POST', `/v1/connections/${connectionId}/oauth/authorize`), 409, 'consent_not_allowed', 'paused', 'resume');
    const page = await land(callback);
    assert.equal(page.status, 409);
    assert.match(page.html, /cannot be connected now/);
    assert.equal((await getConnection(roster(), connectionId)).state, 'paused');
  });

  test('a consent that yields no refresh token is refused with a page saying to retry, and stores nothing', async () => {
    const connection = await createOAuthConnection('No offline access');
    const started = expectStatus(await roster().request('POST', `/v1/connections/${connection.id}/oauth/authorize`), 200) as any;
    // As when Google skips the consent screen: the code comes back, but its grant has no refresh token.
    const url = new URL(started.authorize_url);
    url.searchParams.delete('access_type');
    const callback = (await fetch(url, { redirect: 'manual' })).headers.get('location')!;
    const page = await land(callback);
    assert.equal(page.status, 502);
    assert.match(page.html, /gave no refresh token/);
    assert.match(page.html, /Start again/);
    assert.equal((await getConnection(roster(), connection.id)).state, 'draft');
  });

  test('authorize is refused for a service account, a connection Roster does not pull from, and another organization’s key', async () => {
    const serviceAccount = await createGoogleConnection(roster(), organizationId, { name: 'Service account', config: connectionConfig(), credentials: serviceAccountCredentials(emulator) });
    assertError(await roster().request('POST', `/v1/connections/${serviceAccount.id}/oauth/authorize`), 409, 'not_an_oauth_client', 'service account');

    const push = await createPushConnection(roster(), organizationId);
    assertError(await roster().request('POST', `/v1/connections/${push.id}/oauth/authorize`), 409, 'not_a_pull_connection', 'push');

    const draft = await createOAuthConnection('Scoped');
    const other = await createOrganization(roster(), 'Someone else');
    const otherKey = (await createScopedKey(roster(), other.id)).key;
    assertError(await roster().request('POST', `/v1/connections/${draft.id}/oauth/authorize`, undefined, { key: otherKey }), 404, 'connection_not_found');
    assertError(await roster().request('POST', `/v1/connections/${draft.id}/oauth/authorize`, undefined, { key: null }), 401, 'unauthorized');
    const ownKey = (await createScopedKey(roster(), organizationId)).key;
    expectStatus(await roster().request('POST', `/v1/connections/${draft.id}/oauth/authorize`, undefined, { key: ownKey }), 200);
    assertError(await roster().request('POST', `/v1/connections/${draft.id}/oauth/authorize`, { return_to: 'https://evil.example' }), 400, 'invalid_request');
  });

  test('nothing secret was logged: no code, state, refresh token or client secret', async () => {
    assert.ok(logLines.length > 0);
    const log = logLines.join('');
    assert.ok(secretsSeen.size >= 8);
    for (const value of [...secretsSeen, emulator.oauthClient.clientSecret]) assert.equal(log.includes(value), false, 'a secret in the log');
    assert.doesNotMatch(log, /1\/\/emu-|ya29\.emu-/, 'no refresh or access token in the log');
    assert.doesNotMatch(log, /oauth\/callback\?/, 'the callback query is not logged');
    assert.match(log, /OAuth consent granted/);
  });
});
