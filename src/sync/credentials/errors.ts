/**
 * Credential failures. Messages name the strategy and endpoint, never a token, secret or key: they end
 * up in run records, logs and webhooks.
 */
export class CredentialsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CredentialsError';
  }
}

/**
 * The grant is gone (refresh token revoked or expired, consent withdrawn): retrying cannot help, a human
 * must reconnect. The engine moves the connection to `needs_reauth` on this.
 */
export class CredentialsRevokedError extends CredentialsError {
  constructor(
    readonly providerReason: string,
    message: string,
  ) {
    super('credentials_revoked', message);
    this.name = 'CredentialsRevokedError';
  }
}
