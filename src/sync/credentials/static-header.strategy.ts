import { systemClock, type Clock } from '../http/clock.ts';
import type { CredentialStrategy, IssuedToken } from './credential-strategy.ts';

/** A long-lived API key sent as a fixed header; never expires, so the manager never refreshes it. */
export class StaticHeaderStrategy implements CredentialStrategy {
  readonly kind = 'static_header';
  readonly #name: string;
  readonly #value: string;
  readonly #clock: Clock;

  constructor(options: { headerName: string; value: string; clock?: Clock }) {
    this.#name = options.headerName;
    this.#value = options.value;
    this.#clock = options.clock ?? systemClock;
  }

  async issue(): Promise<IssuedToken> {
    return { header: { name: this.#name, value: this.#value }, expiresAt: null, issuedAt: this.#clock.now() };
  }
}

/** Okta API token: `Authorization: SSWS {token}`. */
export const oktaApiToken = (token: string) => new StaticHeaderStrategy({ headerName: 'authorization', value: `SSWS ${token}` });

/** JumpCloud API key: `x-api-key: {key}`. */
export const jumpCloudApiKey = (key: string) => new StaticHeaderStrategy({ headerName: 'x-api-key', value: key });
