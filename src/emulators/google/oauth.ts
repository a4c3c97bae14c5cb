import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt, exportPKCS8, exportSPKI, generateKeyPair, importSPKI, jwtVerify } from 'jose';
import { GoogleApiError } from './http-kit.ts';

export const DIRECTORY_SCOPES = {
  user: ['https://www.googleapis.com/auth/admin.directory.user', 'https://www.googleapis.com/auth/admin.directory.user.readonly'],
  group: ['https://www.googleapis.com/auth/admin.directory.group', 'https://www.googleapis.com/auth/admin.directory.group.readonly'],
  member: [
    'https://www.googleapis.com/auth/admin.directory.group.member',
    'https://www.googleapis.com/auth/admin.directory.group.member.readonly',
    'https://www.googleapis.com/auth/admin.directory.group',
    'https://www.googleapis.com/auth/admin.directory.group.readonly',
  ],
} as const;

/** The JSON key file Google hands out for a service account, pointed at the emulator's token URL. */
export interface ServiceAccountKey {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  token_uri: string;
}

export interface OAuthClient {
  clientId: string;
  clientSecret: string;
}

export interface AccessGrant {
  token: string;
  expiresAt: number;
  scopes: string[];
  /** Whom the token acts for (impersonated admin or the consenting user); throttling is counted per subject. */
  subject: string;
}

interface AuthCode {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  subject: string;
  offline: boolean;
  challenge?: string;
  challengeMethod?: string;
  expiresAt: number;
}

interface RefreshGrant {
  clientId: string;
  scopes: string[];
  subject: string;
  revoked: boolean;
}

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

const EXPIRED_OR_REVOKED = 'Token has been expired or revoked.';

function tokenError(status: number, error: string, description: string): TokenAnswer {
  return { status, body: { error, error_description: description } };
}

function opaque(prefix: string): string {
  return `${prefix}${randomBytes(24).toString('base64url')}`;
}

export interface OAuthOptions {
  now: () => number;
  accessTokenTtlSeconds: number;
  /** The subject an authorization-code consent acts as; tests have no browser, so consent is automatic. */
  consentingUser: string;
}

export class OAuthAuthority {
  private readonly serviceAccounts = new Map<string, CryptoKey | Uint8Array>();
  private readonly clients = new Map<string, OAuthClient>();
  private readonly codes = new Map<string, AuthCode>();
  private readonly refreshTokens = new Map<string, RefreshGrant>();
  private readonly accessTokens = new Map<string, AccessGrant>();
  tokenUrl = '';

  constructor(private readonly options: OAuthOptions) {}

  registerClient(client: OAuthClient): void {
    this.clients.set(client.clientId, client);
  }

  async registerServiceAccount(email: string, publicKeyPem: string): Promise<void> {
    this.serviceAccounts.set(email, await importSPKI(publicKeyPem, 'RS256'));
  }

  /** Makes a key pair like the Cloud console does and registers its public half. */
  /** Deletes a service account's key, as an admin does in the Cloud console: its assertions are refused from then on. */
  deleteServiceAccountKey(email: string): boolean {
    return this.serviceAccounts.delete(email);
  }

  async createServiceAccount(email: string, projectId: string): Promise<ServiceAccountKey> {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    await this.registerServiceAccount(email, await exportSPKI(publicKey));
    return {
      type: 'service_account',
      project_id: projectId,
      private_key_id: randomBytes(20).toString('hex'),
      private_key: await exportPKCS8(privateKey),
      client_email: email,
      client_id: String(100000000000000000000n + BigInt(this.serviceAccounts.size)),
      token_uri: this.tokenUrl,
    };
  }

  private issueAccess(scopes: string[], subject: string): Record<string, unknown> {
    const token = opaque('ya29.emu-');
    this.accessTokens.set(token, { token, scopes, subject, expiresAt: this.options.now() + this.options.accessTokenTtlSeconds * 1000 });
    return { access_token: token, expires_in: this.options.accessTokenTtlSeconds, token_type: 'Bearer', scope: scopes.join(' ') };
  }

  setAccessTokenTtl(seconds: number): void {
    this.options.accessTokenTtlSeconds = seconds;
  }

  /** Builds the redirect the consent screen would send the browser to. */
  authorize(query: URLSearchParams): { location: string } | TokenAnswer {
    const clientId = query.get('client_id') ?? '';
    const redirectUri = query.get('redirect_uri') ?? '';
    if (!this.clients.has(clientId)) return tokenError(401, 'invalid_client', 'The OAuth client was not found.');
    if (!redirectUri) return tokenError(400, 'invalid_request', 'Missing required parameter: redirect_uri');
    if (query.get('response_type') !== 'code') return tokenError(400, 'unsupported_response_type', 'Only response_type=code is supported.');
    const method = query.get('code_challenge_method') ?? undefined;
    if (method && method !== 'S256' && method !== 'plain') return tokenError(400, 'invalid_request', 'Invalid code_challenge_method.');
    const code = opaque('4/emu-');
    const challenge = query.get('code_challenge') ?? undefined;
    this.codes.set(code, {
      clientId,
      redirectUri,
      scopes: (query.get('scope') ?? '').split(' ').filter(Boolean),
      subject: query.get('login_hint') ?? this.options.consentingUser,
      offline: query.get('access_type') === 'offline',
      ...(challenge ? { challenge, challengeMethod: method ?? 'plain' } : {}),
      expiresAt: this.options.now() + 10 * 60_000,
    });
    const target = new URL(redirectUri);
    target.searchParams.set('code', code);
    const state = query.get('state');
    if (state !== null) target.searchParams.set('state', state);
    target.searchParams.set('scope', query.get('scope') ?? '');
    return { location: target.toString() };
  }

  async token(form: Record<string, string>): Promise<TokenAnswer> {
    switch (form.grant_type) {
      case 'urn:ietf:params:oauth:grant-type:jwt-bearer':
        return this.jwtBearer(form.assertion ?? '');
      case 'authorization_code':
        return this.exchangeCode(form);
      case 'refresh_token':
        return this.refresh(form);
      default:
        return tokenError(400, 'unsupported_grant_type', `Invalid grant_type: ${form.grant_type ?? ''}`);
    }
  }

  private async jwtBearer(assertion: string): Promise<TokenAnswer> {
    let claims: Record<string, unknown>;
    try {
      claims = decodeJwt(assertion);
    } catch {
      return tokenError(400, 'invalid_grant', 'Invalid JWT Signature.');
    }
    const key = typeof claims.iss === 'string' ? this.serviceAccounts.get(claims.iss) : undefined;
    if (!key) return tokenError(400, 'invalid_grant', 'Invalid JWT Signature.');
    try {
      await jwtVerify(assertion, key, { algorithms: ['RS256'], issuer: claims.iss as string, audience: this.tokenUrl, currentDate: new Date(this.options.now()), clockTolerance: 30 });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED') return tokenError(400, 'invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.');
      if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') return tokenError(400, 'invalid_grant', `Invalid JWT: ${(error as Error).message}`);
      return tokenError(400, 'invalid_grant', 'Invalid JWT Signature.');
    }
    const { iat, exp, scope, sub } = claims;
    if (typeof iat !== 'number' || typeof exp !== 'number' || exp - iat > 3600 || exp <= iat || iat * 1000 > this.options.now() + 30_000) {
      return tokenError(400, 'invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.');
    }
    if (typeof scope !== 'string' || scope.trim() === '') return tokenError(400, 'invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
    return { status: 200, body: this.issueAccess(scope.split(' ').filter(Boolean), typeof sub === 'string' ? sub : (claims.iss as string)) };
  }

  private clientMatches(form: Record<string, string>): OAuthClient | undefined {
    const client = this.clients.get(form.client_id ?? '');
    return client && client.clientSecret === form.client_secret ? client : undefined;
  }

  private exchangeCode(form: Record<string, string>): TokenAnswer {
    const client = this.clientMatches(form);
    if (!client) return tokenError(401, 'invalid_client', 'Unauthorized');
    const code = this.codes.get(form.code ?? '');
    // Codes are single use: whatever happens next, this one is spent.
    this.codes.delete(form.code ?? '');
    if (!code || code.clientId !== client.clientId || code.expiresAt < this.options.now()) return tokenError(400, 'invalid_grant', 'Malformed auth code.');
    if (code.redirectUri !== form.redirect_uri) return tokenError(400, 'redirect_uri_mismatch', 'Bad Request');
    if (code.challenge) {
      const verifier = form.code_verifier ?? '';
      const derived = code.challengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
      if (!verifier || derived !== code.challenge) return tokenError(400, 'invalid_grant', 'Invalid code verifier.');
    }
    const body = this.issueAccess(code.scopes, code.subject);
    if (code.offline) {
      const refreshToken = opaque('1//emu-');
      this.refreshTokens.set(refreshToken, { clientId: client.clientId, scopes: code.scopes, subject: code.subject, revoked: false });
      body.refresh_token = refreshToken;
    }
    return { status: 200, body };
  }

  private refresh(form: Record<string, string>): TokenAnswer {
    const client = this.clientMatches(form);
    if (!client) return tokenError(401, 'invalid_client', 'Unauthorized');
    const grant = this.refreshTokens.get(form.refresh_token ?? '');
    if (!grant || grant.revoked || grant.clientId !== client.clientId) return tokenError(400, 'invalid_grant', EXPIRED_OR_REVOKED);
    return { status: 200, body: this.issueAccess(grant.scopes, grant.subject) };
  }

  /** What an admin removing the app's access does; returns false for an unknown token. */
  revokeRefreshToken(token: string): boolean {
    const grant = this.refreshTokens.get(token);
    if (!grant) return false;
    grant.revoked = true;
    return true;
  }

  revokeAllRefreshTokens(): number {
    for (const grant of this.refreshTokens.values()) grant.revoked = true;
    return this.refreshTokens.size;
  }

  /** Checks the bearer token of an API call and the scopes the endpoint needs. */
  authenticate(header: string | undefined, anyOf: readonly string[]): AccessGrant {
    const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
    const grant = match ? this.accessTokens.get(match[1]!.trim()) : undefined;
    if (!grant || grant.expiresAt <= this.options.now()) throw new GoogleApiError(401, 'authError', 'Invalid Credentials');
    if (!grant.scopes.some((scope) => anyOf.includes(scope))) throw new GoogleApiError(403, 'insufficientPermissions', 'Request had insufficient authentication scopes.');
    return grant;
  }
}
