import { systemClock, type Clock } from '../http/clock.ts';
import type { ProviderHttpClient } from '../http/provider-http-client.ts';
import type { CredentialStrategy, IssuedToken } from './credential-strategy.ts';
import { CredentialsError } from './errors.ts';
import { bearerToken, requestToken, type ClientAuth } from './token-endpoint.ts';

export interface ClientCredentialsStrategyOptions {
  http: ProviderHttpClient;
  tokenUrl: string;
  /** A client secret, or `clientAssertion` for private_key_jwt (Okta service apps). */
  client: ClientAuth;
  /** e.g. `https://graph.microsoft.com/.default`. */
  scope?: string;
  defaultLifetimeSec?: number;
  clock?: Clock;
}

/** OAuth 2.0 client_credentials grant (RFC 6749 §4.4): app-only access, e.g. Microsoft Graph. */
export class ClientCredentialsStrategy implements CredentialStrategy {
  readonly kind = 'oauth_client_credentials';
  readonly #options: ClientCredentialsStrategyOptions;

  constructor(options: ClientCredentialsStrategyOptions) {
    if (options.client.clientSecret === undefined && options.client.clientAssertion === undefined) {
      throw new CredentialsError('client_auth_missing', 'client_credentials needs a client secret or a client assertion');
    }
    this.#options = options;
  }

  async issue(signal?: AbortSignal): Promise<IssuedToken> {
    const clock = this.#options.clock ?? systemClock;
    const params: Record<string, string> = { grant_type: 'client_credentials' };
    if (this.#options.scope) params.scope = this.#options.scope;
    const issuedAt = clock.now();
    const response = await requestToken(this.#options.http, this.#options.tokenUrl, params, this.#options.client, signal);
    return bearerToken(response, issuedAt, this.#options.defaultLifetimeSec ?? 3600);
  }
}
