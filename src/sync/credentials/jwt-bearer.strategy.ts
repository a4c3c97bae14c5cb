import { SignJWT } from 'jose';
import { systemClock, type Clock } from '../http/clock.ts';
import type { ProviderHttpClient } from '../http/provider-http-client.ts';
import type { CredentialStrategy, IssuedToken } from './credential-strategy.ts';
import { rs256KeyLoader } from './client-assertion.ts';
import { bearerToken, requestToken } from './token-endpoint.ts';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export interface JwtBearerStrategyOptions {
  http: ProviderHttpClient;
  /** Also the assertion's `aud`, as Google requires. */
  tokenUrl: string;
  /** Service account email (`client_email`). */
  issuer: string;
  /** User to impersonate with domain-wide delegation; omitted for the service account itself. */
  subject?: string;
  /** Space-separated scopes. */
  scope: string;
  /** PKCS#8 PEM (`private_key` of a Google key file) or an imported key. */
  privateKey: string | CryptoKey;
  /** `private_key_id`, sent as the JWT `kid`. */
  keyId?: string;
  /** Assertion lifetime; capped at 3600 s, the maximum Google accepts. */
  assertionLifetimeSec?: number;
  clock?: Clock;
}

/**
 * JWT-bearer grant (RFC 7523) as Google service accounts with domain-wide delegation use it: an RS256
 * assertion signed with the account's key is exchanged for an access token; there is no refresh token,
 * a new assertion is signed each time.
 */
export class JwtBearerStrategy implements CredentialStrategy {
  readonly kind = 'jwt_bearer';
  readonly #options: JwtBearerStrategyOptions;
  readonly #privateKey: () => Promise<CryptoKey>;

  constructor(options: JwtBearerStrategyOptions) {
    this.#options = options;
    this.#privateKey = rs256KeyLoader(options.privateKey);
  }

  async issue(signal?: AbortSignal): Promise<IssuedToken> {
    const clock = this.#options.clock ?? systemClock;
    const issuedAt = clock.now();
    const assertion = await this.#sign(Math.floor(issuedAt / 1000));
    const response = await requestToken(this.#options.http, this.#options.tokenUrl, { grant_type: JWT_BEARER_GRANT, assertion }, undefined, signal);
    return bearerToken(response, issuedAt, 3600);
  }

  async #sign(iat: number): Promise<string> {
    const options = this.#options;
    const lifetime = Math.min(options.assertionLifetimeSec ?? 3600, 3600);
    const claims: Record<string, string> = { scope: options.scope };
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(options.keyId ? { kid: options.keyId } : {}) })
      .setIssuer(options.issuer)
      .setAudience(options.tokenUrl)
      .setIssuedAt(iat)
      .setExpirationTime(iat + lifetime);
    if (options.subject) jwt.setSubject(options.subject);
    return jwt.sign(await this.#privateKey());
  }
}
