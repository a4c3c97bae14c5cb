import type { AuthHeader } from '../http/provider-http-client.ts';

export interface IssuedToken {
  /** The header to send, e.g. `Authorization: Bearer …`, `Authorization: SSWS …`, `x-api-key: …`. */
  header: AuthHeader;
  /** Epoch ms; null for credentials that do not expire (API keys). */
  expiresAt: number | null;
  /** Epoch ms when issued; with expiresAt gives the lifetime the refresh window is a fraction of. */
  issuedAt: number;
}

/** One way of obtaining credentials for a connection. The TokenManager decides WHEN to call it. */
export interface CredentialStrategy {
  readonly kind: string;
  issue(signal?: AbortSignal): Promise<IssuedToken>;
}
