export type ProviderHttpErrorCode = 'http_status' | 'network' | 'timeout' | 'deadline_exceeded' | 'aborted';

export interface ProviderHttpErrorDetails {
  status?: number;
  providerReason?: string;
  retryable: boolean;
  attempts: number;
  cause?: unknown;
}

/**
 * A provider call that did not succeed. `retryable` says whether trying later could help (a deadline hit
 * while throttled is retryable; a 403 forbidden is not). Messages carry method, origin and path only:
 * never query strings, headers or bodies, which may hold tokens.
 */
export class ProviderHttpError extends Error {
  readonly status: number | undefined;
  readonly providerReason: string | undefined;
  readonly retryable: boolean;
  readonly attempts: number;

  constructor(
    readonly code: ProviderHttpErrorCode,
    message: string,
    details: ProviderHttpErrorDetails,
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ProviderHttpError';
    this.status = details.status;
    this.providerReason = details.providerReason;
    this.retryable = details.retryable;
    this.attempts = details.attempts;
  }
}

/** `GET https://host/path` without the query, which can carry cursors or (for some providers) keys. */
export function describeRequest(method: string, url: URL): string {
  return `${method} ${url.origin}${url.pathname}`;
}
