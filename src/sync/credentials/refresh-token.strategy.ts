import { systemClock, type Clock } from '../http/clock.ts';
import type { ProviderHttpClient } from '../http/provider-http-client.ts';
import type { CredentialStrategy, IssuedToken } from './credential-strategy.ts';
import { bearerToken, requestToken, type ClientAuth } from './token-endpoint.ts';

export interface RefreshTokenStrategyOptions {
  http: ProviderHttpClient;
  tokenUrl: string;
  client: ClientAuth;
  refreshToken: string;
  scope?: string;
  /**
   * Graph (and others) rotate the refresh token on every use; the old one soon stops working, so the
   * engine must persist the new one (encrypted) before the next refresh.
   */
  onRefreshTokenRotated?: (refreshToken: string) => void | Promise<void>;
  defaultLifetimeSec?: number;
  clock?: Clock;
}

/** OAuth 2.0 refresh_token grant (RFC 6749 §6) for authorization-code connections. */
export class RefreshTokenStrategy implements CredentialStrategy {
  readonly kind = 'oauth_refresh_token';
  // #private: not visible to JSON.stringify or util.inspect, so a logged strategy leaks nothing.
  #refreshToken: string;
  readonly #options: RefreshTokenStrategyOptions;

  constructor(options: RefreshTokenStrategyOptions) {
    this.#options = options;
    this.#refreshToken = options.refreshToken;
  }

  async issue(signal?: AbortSignal): Promise<IssuedToken> {
    const clock = this.#options.clock ?? systemClock;
    const params: Record<string, string> = { grant_type: 'refresh_token', refresh_token: this.#refreshToken };
    if (this.#options.scope) params.scope = this.#options.scope;
    const issuedAt = clock.now();
    const response = await requestToken(this.#options.http, this.#options.tokenUrl, params, this.#options.client, signal);
    if (response.refreshToken && response.refreshToken !== this.#refreshToken) {
      this.#refreshToken = response.refreshToken;
      await this.#options.onRefreshTokenRotated?.(response.refreshToken);
    }
    return bearerToken(response, issuedAt, this.#options.defaultLifetimeSec ?? 3600);
  }
}
