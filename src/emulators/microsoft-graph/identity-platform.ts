/**
 * The Microsoft identity platform's token endpoint, for the client-credentials grant only:
 * `POST /{tenant}/oauth2/v2.0/token`. Errors use AADSTS codes in `error_description`, as Entra's do.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { GraphApiError } from './http-kit.ts';

export const GRAPH_DEFAULT_SCOPE = 'https://graph.microsoft.com/.default';

export interface AppRegistration {
  clientId: string;
  clientSecret: string;
}

export interface AccessGrant {
  token: string;
  clientId: string;
  expiresAt: number;
}

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

export interface IdentityOptions {
  tenantId: string;
  domain: string;
  now: () => number;
  random: () => number;
  /** A fixed lifetime; by default each token lives a random 60–90 minutes, as Entra's do. */
  accessTokenTtlSeconds?: number;
}

function tokenError(status: number, error: string, description: string, codes: number[], now: number): TokenAnswer {
  const timestamp = new Date(now).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
  const traceId = randomBytes(16).toString('hex');
  return {
    status,
    body: {
      error,
      error_description: `${description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${traceId}\r\nTimestamp: ${timestamp}`,
      error_codes: codes,
      timestamp,
      trace_id: traceId,
      correlation_id: traceId,
    },
  };
}

const same = (a: string, b: string) => {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
};

export class IdentityPlatform {
  private readonly apps = new Map<string, AppRegistration>();
  private readonly tokens = new Map<string, AccessGrant>();
  /** Token requests answered, successful or not: tests see whether tokens were reused. */
  tokenRequests = 0;

  constructor(private readonly options: IdentityOptions) {}

  register(app: AppRegistration): void {
    this.apps.set(app.clientId, { ...app });
  }

  /** The admin deletes the app's secret and adds a new one: the old secret is refused from now on. */
  rotateSecret(clientId: string): string {
    const app = this.apps.get(clientId);
    if (!app) throw new Error(`Application with identifier '${clientId}' was not found`);
    app.clientSecret = randomBytes(30).toString('base64url');
    return app.clientSecret;
  }

  /** Tokens already issued keep working until they expire, unless revoked (e.g. the app is disabled). */
  revokeAccessTokens(): number {
    const count = this.tokens.size;
    this.tokens.clear();
    return count;
  }

  setAccessTokenTtl(seconds: number | undefined): void {
    this.options.accessTokenTtlSeconds = seconds;
  }

  token(tenant: string, form: Record<string, string>, authorization: string | undefined): TokenAnswer {
    this.tokenRequests += 1;
    const now = this.options.now();
    if (tenant !== this.options.tenantId && tenant.toLowerCase() !== this.options.domain.toLowerCase() && tenant !== 'organizations') {
      return tokenError(400, 'invalid_tenant', `AADSTS90002: Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`, [90002], now);
    }
    let clientId = form.client_id;
    let clientSecret = form.client_secret;
    if (authorization?.startsWith('Basic ')) {
      const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      clientSecret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    }
    if (form.grant_type !== 'client_credentials') {
      return tokenError(400, 'unsupported_grant_type', `AADSTS70003: The app requested an unsupported grant type '${form.grant_type ?? ''}'.`, [70003], now);
    }
    if (!clientId) return tokenError(400, 'invalid_request', "AADSTS900144: The request body must contain the following parameter: 'client_id'.", [900144], now);
    const app = this.apps.get(clientId);
    if (!app) {
      return tokenError(400, 'unauthorized_client', `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${this.options.domain}'.`, [700016], now);
    }
    if (!clientSecret) {
      return tokenError(401, 'invalid_client', "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", [7000218], now);
    }
    if (!same(clientSecret, app.clientSecret)) {
      return tokenError(401, 'invalid_client', `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`, [7000215], now);
    }
    if (form.scope !== GRAPH_DEFAULT_SCOPE) {
      return tokenError(400, 'invalid_scope', `AADSTS1002012: The provided value for scope ${form.scope ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`, [1002012], now);
    }
    const ttl = this.options.accessTokenTtlSeconds ?? 3600 + Math.floor(this.options.random() * 1800);
    const token = `eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.emu-${randomBytes(24).toString('base64url')}`;
    this.tokens.set(token, { token, clientId, expiresAt: now + ttl * 1000 });
    return { status: 200, body: { token_type: 'Bearer', expires_in: ttl, ext_expires_in: ttl, access_token: token } };
  }

  /** The grant behind a bearer header; 401 InvalidAuthenticationToken as Graph answers otherwise. */
  authenticate(header: string | undefined): AccessGrant {
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!token) throw new GraphApiError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    const grant = this.tokens.get(token);
    if (!grant) throw new GraphApiError(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience or signature.');
    if (grant.expiresAt <= this.options.now()) throw new GraphApiError(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.');
    return grant;
  }
}
