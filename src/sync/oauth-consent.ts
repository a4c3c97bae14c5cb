import { sha256Hex } from '../security/secret-hash.ts';
import { readConnectionConfig, type PullConnectionType } from '../connectors/pull-connection-type.ts';
import { pullConnectionType } from '../connectors/pull-connection-types.ts';
import type { ConnectionState } from '../core/connection-states.ts';
import { conflictError } from '../core/errors.ts';
import type { JsonObject } from '../core/model.ts';
import type { SecretBox } from '../security/secret-box.ts';
import { appendAudit } from '../store/audit.repo.ts';
import type { ConnectionSecretsRepo } from '../store/connection-secrets.repo.ts';
import type { ConnectionRecord, ConnectionsRepo } from '../store/connections.repo.ts';
import type { Database } from '../store/database.ts';
import { CredentialsError, CredentialsRevokedError } from './credentials/errors.ts';
import { buildAuthorizeUrl, codeChallengeS256, createCodeVerifier, createState, exchangeAuthorizationCode } from './credentials/pkce.ts';
import type { ClientAuth } from './credentials/token-endpoint.ts';
import type { LogSink } from './http/clock.ts';
import { ProviderHttpError } from './http/errors.ts';
import { ProviderHttpClient, type ProviderHttpClientOptions } from './http/provider-http-client.ts';

/** Where the provider sends the admin's browser back; public, relative to Roster's public URL. */
export const OAUTH_CALLBACK_PATH = '/oauth/callback';

/** How long an admin has between starting the flow and coming back from the consent screen. */
export const CONSENT_TTL_MS = 10 * 60 * 1000;

/** States from which an admin may (re-)consent: set up, lost grant, refused credentials, or a healthy connection. */
export const CONSENT_STATES: readonly ConnectionState[] = ['draft', 'needs_reauth', 'invalid_credentials', 'active'];

/** The audit actor of a consent: the admin's browser carries no API key, only the state Roster issued. */
export const CONSENT_ACTOR = 'oauth:consent';

export interface OAuthConsentsDeps {
  database: Database;
  connections: ConnectionsRepo;
  secrets: ConnectionSecretsRepo;
  secretBox: SecretBox;
  /** Refuses provider URLs that reach private addresses unless allow-listed (the token URL is called from here). */
  checkUrl: (url: string) => Promise<void>;
  /** The redirect URI registered with the provider: `${publicUrl}/oauth/callback`, read when a flow starts. */
  redirectUri: () => string;
  /** Queues the check of the completed credentials (validating → active, first full sync). */
  validateLater: (connectionId: string) => Promise<void>;
  /** Retry and timeout settings of the token endpoint's client (tests shorten them). */
  http?: Pick<ProviderHttpClientOptions, 'errorBackoff' | 'throttleBackoff' | 'attemptTimeoutMs' | 'deadlineMs' | 'maxErrorAttempts'>;
  clock: () => Date;
  logger: LogSink & { info(obj: Record<string, unknown>, msg: string): void };
}

export interface ConsentStart {
  authorizeUrl: string;
  expiresAt: string;
}

/** What the callback asks for, as the provider sent it (all optional: anything may arrive there). */
export interface ConsentCallback {
  state?: string | undefined;
  code?: string | undefined;
  /** `access_denied` when the admin declined; other RFC 6749 §4.1.2.1 codes for provider-side failures. */
  error?: string | undefined;
}

/**
 * Why a consent did not connect. `invalid_state` covers unknown, expired and reused states alike: the
 * callback is public, so it tells a prober nothing about which states exist.
 */
export type ConsentFailure =
  | 'invalid_state'
  | 'declined'
  | 'provider_error'
  | 'connection_unavailable'
  | 'exchange_failed'
  | 'no_refresh_token'
  | 'internal_error';

export type ConsentOutcome =
  | { ok: true; connection: ConnectionRecord; providerName: string }
  | {
      ok: false;
      failure: ConsentFailure;
      /** Known once the state matched a connection. */
      connection?: { id: string; name: string };
      providerName?: string;
      /** A provider's error code (`access_denied`, `invalid_grant`…), never a token, secret or code. */
      reason?: string;
    };

/** The sealed half of a pending consent: what the callback needs and only Roster may read. */
interface PendingConsent {
  code_verifier: string;
  redirect_uri: string;
}

/**
 * The authorization-code flow (with PKCE) by which an IT admin connects a directory: `start` issues a
 * single-use state and the provider's consent URL; `complete` takes the provider's answer, exchanges the
 * code, stores the refresh token sealed with the connection's credentials and sends the connection to
 * validation. No HTTP here: the routes render what these return.
 */
export class OAuthConsents {
  constructor(private readonly deps: OAuthConsentsDeps) {}

  async start(connection: ConnectionRecord, actor: string): Promise<ConsentStart> {
    const type = consentType(connection);
    const credentials = await this.deps.secrets.read(connection.id);
    const client = credentials ? oauthClientOf(credentials) : undefined;
    if (!client) {
      const method = typeof credentials?.method === 'string' ? credentials.method : undefined;
      throw conflictError(
        'not_an_oauth_client',
        `Connection '${connection.id}' authenticates with ${method === 'service_account' ? 'a service account' : 'credentials that are not an OAuth client'}; ` +
          'only a connection created with an OAuth client (`credentials.method: "oauth"`) is connected by an admin’s consent.',
        { connection_id: connection.id, ...(method ? { method } : {}) },
      );
    }
    // After the kind of credentials: a service account is refused for what it is, whatever its state.
    if (!CONSENT_STATES.includes(connection.state)) {
      throw conflictError(
        'consent_not_allowed',
        `Connection '${connection.id}' is ${connection.state}; consent can be given only while it is ${CONSENT_STATES.join(', ')}` +
          (connection.state === 'paused' ? ' (resume it first).' : '.'),
        { connection_id: connection.id, state: connection.state, allowed_states: [...CONSENT_STATES] },
      );
    }
    const auth = authCodeEntry(type)!;
    const { endpoints } = readConnectionConfig(type, connection.config);

    const now = this.deps.clock();
    const expiresAt = new Date(now.getTime() + CONSENT_TTL_MS).toISOString();
    const verifier = createCodeVerifier();
    const state = createState();
    const redirectUri = this.deps.redirectUri();
    const pending: PendingConsent = { code_verifier: verifier, redirect_uri: redirectUri };
    const authorizeUrl = buildAuthorizeUrl({
      authorizeUrl: endpoints.authorizeUrl!,
      clientId: client.clientId,
      redirectUri,
      scopes: auth.scopes,
      state,
      codeChallenge: codeChallengeS256(verifier),
      extraParams: auth.authorizeParams,
    });
    await this.deps.database.db.transaction().execute(async (tx) => {
      // Flows nobody finished are of no use to anyone; they go as new ones start.
      await tx.deleteFrom('oauth_states').where('expires_at', '<', now.toISOString()).execute();
      await tx
        .insertInto('oauth_states')
        .values({
          state_hash: hashState(state),
          connection_id: connection.id,
          organization_id: connection.organization_id,
          sealed: this.deps.secretBox.seal(JSON.stringify(pending)),
          created_at: now.toISOString(),
          expires_at: expiresAt,
          used_at: null,
        })
        .execute();
      await appendAudit(
        tx,
        { organizationId: connection.organization_id, actor, action: 'connection.consent_started', targetType: 'connection', targetId: connection.id, details: { expires_at: expiresAt } },
        now.toISOString(),
      );
    });
    this.deps.logger.info({ connection_id: connection.id, expires_at: expiresAt }, 'started an OAuth consent');
    return { authorizeUrl, expiresAt };
  }

  /** Never throws: every way a callback can go wrong is an outcome the admin is shown in words. */
  async complete(callback: ConsentCallback): Promise<ConsentOutcome> {
    let known: { connection?: { id: string; name: string }; providerName?: string } = {};
    try {
      const claimed = await this.claim(callback.state);
      if (!claimed) return this.failed({ failure: 'invalid_state' });
      const connection = await this.deps.connections.get(claimed.connection_id);
      const type = connection ? pullConnectionType(connection.type) : undefined;
      if (!connection || !type || connection.organization_id !== claimed.organization_id) return this.failed({ failure: 'connection_unavailable' });
      known = { connection: { id: connection.id, name: connection.name }, providerName: type.displayName };

      if (callback.error !== undefined) {
        const reason = providerCode(callback.error);
        const declined = reason === 'access_denied';
        await appendAudit(
          this.deps.database.db,
          {
            organizationId: connection.organization_id,
            actor: CONSENT_ACTOR,
            action: declined ? 'connection.consent_declined' : 'connection.consent_failed',
            targetType: 'connection',
            targetId: connection.id,
            details: { reason },
          },
          this.now(),
        );
        return this.failed({ failure: declined ? 'declined' : 'provider_error', reason, ...known });
      }
      if (!CONSENT_STATES.includes(connection.state)) return this.failed({ failure: 'connection_unavailable', reason: connection.state, ...known });
      if (!callback.code) return this.failed({ failure: 'provider_error', reason: 'no_code', ...known });

      const credentials = await this.deps.secrets.read(connection.id);
      const client = credentials ? oauthClientOf(credentials) : undefined;
      if (!client) return this.failed({ failure: 'connection_unavailable', reason: 'not_an_oauth_client', ...known });
      const { endpoints } = readConnectionConfig(type, connection.config);
      if (endpoints.tokenUrl === undefined) return this.failed({ failure: 'internal_error', reason: 'no_token_url', ...known });
      await this.deps.checkUrl(endpoints.tokenUrl);

      const pending = JSON.parse(this.deps.secretBox.open(claimed.sealed)) as PendingConsent;
      let refreshToken: string | undefined;
      try {
        const grant = await exchangeAuthorizationCode({
          http: new ProviderHttpClient({ label: connection.id, logger: this.deps.logger, ...this.deps.http, maxConcurrent: 1 }),
          tokenUrl: endpoints.tokenUrl,
          client,
          code: callback.code,
          codeVerifier: pending.code_verifier,
          redirectUri: pending.redirect_uri,
          now: this.deps.clock().getTime(),
        });
        refreshToken = grant.refreshToken;
      } catch (error) {
        if (!(error instanceof CredentialsError)) throw error;
        return this.failed({ failure: 'exchange_failed', reason: exchangeReason(error), ...known });
      }
      // Google leaves it out when the consent screen was skipped (no prompt=consent on an earlier grant).
      if (refreshToken === undefined) return this.failed({ failure: 'no_refresh_token', ...known });

      // Sealed before the state changes: the new state's runtime is built from these credentials.
      await this.deps.secrets.merge(connection, { refresh_token: refreshToken } satisfies JsonObject, this.now());
      let moved = false;
      const validating = await this.deps.connections.transition(
        connection.id,
        (current) => {
          moved = CONSENT_STATES.includes(current.state);
          return moved ? 'validating' : current.state;
        },
        { reason: null, audited: { actor: CONSENT_ACTOR, action: 'connection.consent_granted' } },
        this.now(),
        { unchangedIsNoop: true },
      );
      if (!validating || !moved) return this.failed({ failure: 'connection_unavailable', ...(validating ? { reason: validating.state } : {}), ...known });
      await this.deps.validateLater(connection.id);
      this.deps.logger.info({ connection_id: connection.id, from: connection.state }, 'OAuth consent granted; validating the connection');
      return { ok: true, connection: validating, providerName: type.displayName };
    } catch (error) {
      this.deps.logger.warn(
        { connection_id: known.connection?.id, error: error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error' },
        'an OAuth consent callback failed',
      );
      return { ok: false, failure: 'internal_error', ...known };
    }
  }

  /**
   * Finds the pending consent by the state's hash and marks it used in the same transaction; a second
   * callback with the same state (a replay, a double click) finds it used. Undefined for unknown, used
   * and expired states alike.
   */
  private async claim(state: string | undefined) {
    if (!state || state.length > 512) return undefined;
    const hash = hashState(state);
    const now = this.deps.clock();
    return this.deps.database.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('oauth_states').selectAll().where('state_hash', '=', hash).executeTakeFirst();
      if (!row || row.used_at !== null || Date.parse(row.expires_at) <= now.getTime()) return undefined;
      const marked = await tx
        .updateTable('oauth_states')
        .set({ used_at: now.toISOString() })
        .where('state_hash', '=', hash)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      return Number(marked.numUpdatedRows) === 1 ? row : undefined;
    });
  }

  private failed(outcome: Omit<Extract<ConsentOutcome, { ok: false }>, 'ok'>): ConsentOutcome {
    this.deps.logger.warn(
      { connection_id: outcome.connection?.id, failure: outcome.failure, ...(outcome.reason ? { reason: outcome.reason } : {}) },
      'an OAuth consent did not connect',
    );
    return { ok: false, ...outcome };
  }

  private now(): string {
    return this.deps.clock().toISOString();
  }
}

export const hashState = sha256Hex;

/** The pull connection type of a connection that can be consented to, or a 409 saying why not. */
function consentType(connection: ConnectionRecord): PullConnectionType {
  const type = pullConnectionType(connection.type);
  if (!type) {
    throw conflictError('not_a_pull_connection', `Connection '${connection.id}' is a ${connection.type} connection; Roster does not pull from it, so there is nothing to consent to.`, {
      connection_id: connection.id,
      type: connection.type,
    });
  }
  if (!authCodeEntry(type)) {
    throw conflictError('oauth_not_supported', `${type.displayName} connections are not connected through an OAuth consent.`, { connection_id: connection.id, type: connection.type });
  }
  return type;
}

function authCodeEntry(type: PullConnectionType) {
  const entry = type.definition.auth.find((auth) => auth.type === 'oauth2_authorization_code');
  return entry?.type === 'oauth2_authorization_code' ? entry : undefined;
}

/**
 * The OAuth client in a connection's opened credentials (`method: "oauth"` with its id and secret), or
 * undefined for a service account and anything else. Google accepts the client in the form body.
 */
export function oauthClientOf(credentials: JsonObject): ClientAuth | undefined {
  if (credentials.method !== 'oauth' || typeof credentials.client_id !== 'string' || typeof credentials.client_secret !== 'string') return undefined;
  return { clientId: credentials.client_id, clientSecret: credentials.client_secret, method: 'body' };
}

/** A provider's error code is an RFC 6749 token; anything else is not repeated back. */
function providerCode(value: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : 'unrecognized_error';
}

/** The token endpoint's reason (`invalid_grant`, `invalid_client`, `redirect_uri_mismatch`) or the failure's code. */
function exchangeReason(error: CredentialsError): string {
  if (error instanceof CredentialsRevokedError) return error.providerReason;
  if (error.cause instanceof ProviderHttpError) return error.cause.providerReason ?? (error.cause.status ? `http_${error.cause.status}` : error.cause.code);
  return error.code;
}
