import { silentLog, systemClock, type Clock, type LogSink } from '../http/clock.ts';
import type { AuthHeader } from '../http/provider-http-client.ts';
import type { CredentialStrategy, IssuedToken } from './credential-strategy.ts';
import { CredentialsError, CredentialsRevokedError } from './errors.ts';

export interface TokenManagerOptions {
  strategy: CredentialStrategy;
  /** Non-secret label for logs, e.g. the connection id. */
  label?: string;
  /** Refresh when this close to expiry… */
  refreshAheadMs?: number;
  /** …or within this fraction of the lifetime, whichever is earlier (never more than half the lifetime). */
  refreshAheadFraction?: number;
  /**
   * Called once when the grant is found revoked (the engine moves the connection to needs_reauth and
   * emits connection.needs_reauth). Later calls fail fast with the same error without asking again.
   */
  onRevoked?: (error: CredentialsRevokedError) => void | Promise<void>;
  clock?: Clock;
  logger?: LogSink;
}

/**
 * Holds one connection's current credential. Callers ask for a token whenever they need one; the manager
 * refreshes ahead of expiry so no request goes out with a token about to lapse, and concurrent callers
 * share a single refresh (single-flight) so a burst of pages never becomes a burst of token requests.
 */
export class TokenManager {
  readonly #options: TokenManagerOptions;
  readonly #clock: Clock;
  readonly #log: LogSink;
  #current: IssuedToken | undefined;
  #refreshing: Promise<IssuedToken> | undefined;
  #revoked: CredentialsRevokedError | undefined;

  constructor(options: TokenManagerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLog;
  }

  get revoked(): boolean {
    return this.#revoked !== undefined;
  }

  /** Epoch ms when the held credential expires; undefined before the first issue, null if it never does. */
  get expiresAt(): number | null | undefined {
    return this.#current?.expiresAt;
  }

  /** The bare token value of a Bearer credential (what `Authorization: Bearer …` carries). */
  async getAccessToken(): Promise<string> {
    const { value } = await this.getAuthHeader();
    const space = value.indexOf(' ');
    return space >= 0 ? value.slice(space + 1) : value;
  }

  /** The header to put on a provider request; plugs into ProviderHttpClient's `authorize`. */
  async getAuthHeader(): Promise<AuthHeader> {
    return (await this.#token()).header;
  }

  /** Forget the held token (e.g. the provider answered 401), so the next call issues a new one. */
  invalidate(): void {
    this.#current = undefined;
  }

  async #token(): Promise<IssuedToken> {
    if (this.#revoked) throw this.#revoked;
    const current = this.#current;
    if (current && !this.#isDue(current)) return current;
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    try {
      return await this.#refreshing;
    } catch (error) {
      // A failed EARLY refresh is not an outage: the held token still works until it expires.
      if (!(error instanceof CredentialsRevokedError) && current && current.expiresAt !== null && this.#clock.now() < current.expiresAt) {
        return current;
      }
      throw error;
    }
  }

  #isDue(token: IssuedToken): boolean {
    if (token.expiresAt === null) return false;
    const lifetime = Math.max(0, token.expiresAt - token.issuedAt);
    const ahead = Math.min(lifetime / 2, Math.max(this.#options.refreshAheadMs ?? 60_000, lifetime * (this.#options.refreshAheadFraction ?? 0.1)));
    return this.#clock.now() >= token.expiresAt - ahead;
  }

  async #refresh(): Promise<IssuedToken> {
    const kind = this.#options.strategy.kind;
    try {
      const issued = await this.#options.strategy.issue();
      this.#current = issued;
      this.#log.debug({ label: this.#options.label, strategy: kind, expiresAt: issued.expiresAt }, 'credential issued');
      return issued;
    } catch (error) {
      if (error instanceof CredentialsRevokedError) {
        this.#revoked = error;
        this.#current = undefined;
        this.#log.warn({ label: this.#options.label, strategy: kind, reason: error.providerReason }, 'credential revoked; connection needs re-authorization');
        try {
          await this.#options.onRevoked?.(error);
        } catch (hookError) {
          this.#log.warn({ label: this.#options.label, error: hookError instanceof Error ? hookError.message : String(hookError) }, 'onRevoked callback threw');
        }
        throw error;
      }
      const safe = error instanceof CredentialsError ? error : new CredentialsError('credential_issue_failed', `Could not obtain a ${kind} credential`, { cause: error });
      this.#log.warn({ label: this.#options.label, strategy: kind, code: safe.code, error: safe.message }, 'credential refresh failed');
      throw safe;
    }
  }
}
