/**
 * Credential failures. Messages name the strategy and endpoint, never a token, secret or key: they end
 * up in run records, logs and webhooks.
 */
export class CredentialsError extends Error {
  /**
   * No credential could be had, but nothing says the credentials are wrong: the token endpoint was down,
   * unreachable, too slow or throttling past the deadline. Trying again later may work.
   */
  readonly transient: boolean;

  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown; transient?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CredentialsError';
    this.transient = options?.transient ?? false;
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
