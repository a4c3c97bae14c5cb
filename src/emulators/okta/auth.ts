import { randomBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, exportPKCS8, exportSPKI, generateKeyPair, importSPKI, jwtVerify } from 'jose';
import { OKTA_ERRORS, OktaApiError } from './http-kit.ts';

/**
 * Who may call the emulated org: API tokens (`Authorization: SSWS …`, acting with their admin's rights) and
 * OAuth service apps, which authenticate to `/oauth2/v1/token` with a private_key_jwt client assertion and
 * get a one-hour bearer token carrying the scopes they asked for (and were granted).
 */

export const READ_SCOPES = ['okta.users.read', 'okta.groups.read', 'okta.logs.read'] as const;
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** What a service app's operator holds: its client id and the private half of its registered key. */
export interface ServiceAppCredentials {
  clientId: string;
  /** PKCS#8 PEM. */
  privateKey: string;
  keyId: string;
  /** Scopes granted to the app in the Admin Console. */
  grantedScopes: string[];
}

interface ApiToken {
  /** A read-only admin's token cannot manage event hooks. */
  readOnly: boolean;
  revoked: boolean;
}

interface ServiceApp {
  clientId: string;
  keys: Map<string, CryptoKey>;
  grantedScopes: Set<string>;
  active: boolean;
}

interface AccessToken {
  clientId: string;
  scopes: Set<string>;
  expiresAt: number;
}

/** Who made an API call. */
export type Caller = { kind: 'api_token'; readOnly: boolean } | { kind: 'service_app'; clientId: string; scopes: ReadonlySet<string> };

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

const oauthError = (status: number, error: string, description: string): TokenAnswer => ({ status, body: { error, error_description: description } });
const invalidClient = (description: string) => oauthError(401, 'invalid_client', description);

export class OktaAuth {
  private readonly apiTokens = new Map<string, ApiToken>();
  private readonly apps = new Map<string, ServiceApp>();
  private readonly accessTokens = new Map<string, AccessToken>();
  /** Okta refuses a client assertion whose jti it has seen (replay protection). */
  private readonly usedJtis = new Set<string>();
  tokenUrl = '';
  accessTokenTtlSeconds = 3600;

  constructor(private readonly now: () => number) {}

  /** A new API token, as an admin creates one in Security → API → Tokens. */
  createApiToken(options: { readOnly?: boolean } = {}): string {
    const token = `00${randomBytes(30).toString('base64url')}`;
    this.apiTokens.set(token, { readOnly: options.readOnly ?? false, revoked: false });
    return token;
  }

  revokeApiToken(token: string): boolean {
    const entry = this.apiTokens.get(token);
    if (!entry) return false;
    entry.revoked = true;
    return true;
  }

  /** Registers a service app with a fresh RSA key pair (public key in the app's JWKS) and grants it scopes. */
  async createServiceApp(grantedScopes: readonly string[] = READ_SCOPES): Promise<ServiceAppCredentials> {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const clientId = `0oa${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
    const keyId = randomBytes(16).toString('base64url');
    this.apps.set(clientId, { clientId, keys: new Map([[keyId, await importSPKI(await exportSPKI(publicKey), 'RS256')]]), grantedScopes: new Set(grantedScopes), active: true });
    return { clientId, privateKey: await exportPKCS8(privateKey), keyId, grantedScopes: [...grantedScopes] };
  }

  /** Deactivating an app (or removing its key) is how an admin revokes it. */
  deactivateServiceApp(clientId: string): boolean {
    const app = this.apps.get(clientId);
    if (!app) return false;
    app.active = false;
    for (const [token, grant] of this.accessTokens) if (grant.clientId === clientId) this.accessTokens.delete(token);
    return true;
  }

  setAccessTokenTtl(seconds: number): void {
    this.accessTokenTtlSeconds = seconds;
  }

  /** `POST /oauth2/v1/token` (the org authorization server): client_credentials with private_key_jwt only. */
  async token(form: Record<string, string>): Promise<TokenAnswer> {
    if (form.grant_type !== 'client_credentials') {
      return oauthError(400, 'unsupported_grant_type', 'The authorization grant type is not supported by the authorization server. Configured grant types: [client_credentials].');
    }
    const assertion = form.client_assertion;
    if (form.client_assertion_type !== CLIENT_ASSERTION_TYPE || !assertion) {
      return invalidClient('Client authentication failed. Either the client or the client credentials are invalid.');
    }
    let claims: ReturnType<typeof decodeJwt>;
    let kid: string | undefined;
    try {
      claims = decodeJwt(assertion);
      kid = decodeProtectedHeader(assertion).kid;
    } catch {
      return invalidClient('The client_assertion token is malformed.');
    }
    const app = typeof claims.iss === 'string' ? this.apps.get(claims.iss) : undefined;
    if (!app || !app.active || (form.client_id !== undefined && form.client_id !== claims.iss)) {
      return invalidClient('Client authentication failed. Either the client or the client credentials are invalid.');
    }
    if (claims.sub !== claims.iss) return invalidClient("The client_assertion token's iss and sub claims must both equal the client_id.");
    const keys = kid !== undefined ? [app.keys.get(kid)].filter((key): key is CryptoKey => key !== undefined) : [...app.keys.values()];
    let verified = false;
    for (const key of keys) {
      try {
        await jwtVerify(assertion, key, { algorithms: ['RS256'], currentDate: new Date(this.now()), clockTolerance: 0 });
        verified = true;
        break;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'ERR_JWT_EXPIRED') return invalidClient('The client_assertion token is expired.');
        if (code !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return invalidClient(`The client_assertion token is invalid (${code ?? 'unknown'}).`);
      }
    }
    if (!verified) return invalidClient('The client_assertion signature is invalid.');
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(this.tokenUrl)) return invalidClient(`The audience [aud] claim in the client_assertion token must be ${this.tokenUrl}.`);
    if (typeof claims.exp !== 'number') return invalidClient('The client_assertion token must have an expiration (exp).');
    // Okta takes assertions that expire within the hour.
    if (claims.exp * 1000 > this.now() + 3600_000) return invalidClient('The client_assertion token has an expiration too far into the future.');
    if (typeof claims.jti === 'string') {
      if (this.usedJtis.has(claims.jti)) return invalidClient('The client_assertion token has already been used (jti).');
      this.usedJtis.add(claims.jti);
    }
    const requested = (form.scope ?? '').split(' ').filter(Boolean);
    if (requested.length === 0) return oauthError(400, 'invalid_scope', 'The authorization server resource does not have any configured default scopes, \'scope\' must be provided.');
    const missing = requested.filter((scope) => !app.grantedScopes.has(scope));
    // [unverified] Okta's exact wording for a scope the app was not granted.
    if (missing.length > 0) return oauthError(400, 'invalid_scope', `The following scopes were requested, but not granted: ${missing.join(' ')}`);
    const accessToken = `eyJemu.${randomBytes(32).toString('base64url')}`;
    this.accessTokens.set(accessToken, { clientId: app.clientId, scopes: new Set(requested), expiresAt: this.now() + this.accessTokenTtlSeconds * 1000 });
    return { status: 200, body: { token_type: 'Bearer', expires_in: this.accessTokenTtlSeconds, access_token: accessToken, scope: requested.join(' ') } };
  }

  /**
   * Checks an API call's Authorization header against the scope its endpoint needs (`okta.users.read`, or
   * a `.manage` scope, which includes read). API tokens carry their admin's rights instead of scopes.
   */
  authenticate(header: string | undefined, scope: string): Caller {
    const sswsMatch = /^SSWS\s+(\S+)$/i.exec(header ?? '');
    if (sswsMatch) {
      const token = this.apiTokens.get(sswsMatch[1]!);
      if (!token || token.revoked) throw OKTA_ERRORS.invalidToken();
      if (token.readOnly && scope.endsWith('.manage')) throw OKTA_ERRORS.forbidden();
      return { kind: 'api_token', readOnly: token.readOnly };
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    const grant = bearer ? this.accessTokens.get(bearer[1]!) : undefined;
    if (!grant || grant.expiresAt <= this.now()) {
      throw new OktaApiError(401, 'E0000011', 'Invalid token provided', [], { 'www-authenticate': 'Bearer realm="IdpAdminAPI", error="invalid_token", error_description="The access token is invalid"' });
    }
    const manage = scope.replace(/\.read$/, '.manage');
    if (!grant.scopes.has(scope) && !grant.scopes.has(manage)) {
      throw new OktaApiError(403, 'E0000006', 'You do not have permission to perform the requested action', [], {
        'www-authenticate': `Bearer realm="IdpAdminAPI", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", scope="${scope}"`,
      });
    }
    return { kind: 'service_app', clientId: grant.clientId, scopes: grant.scopes };
  }
}
