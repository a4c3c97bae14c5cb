import { PagingError } from '../connectors/definition/pager.ts';
import { MappingError } from '../connectors/definition/mapping-engine.ts';
import { DomainError } from '../core/errors.ts';
import { CredentialsError, CredentialsRevokedError } from './credentials/errors.ts';
import { ProviderHttpError } from './http/errors.ts';

const MAX_MESSAGE = 1000;

/**
 * A run's error as recorded on the run, its event and the connection's state reason: a stable code and a
 * message naming what failed. The errors it reads never carry tokens or secrets in their messages.
 */
export function describeSyncError(error: unknown): string {
  const text = (() => {
    if (error instanceof CredentialsError) return `${error.code}: ${error.message}`;
    if (error instanceof ProviderHttpError) return `provider_${error.code}: ${error.message}`;
    if (error instanceof PagingError) return `provider_response_invalid: ${error.message}`;
    if (error instanceof MappingError) return `${error.code}: ${error.message}`;
    if (error instanceof DomainError) return `${error.code}: ${error.message}`;
    return `internal_error: ${error instanceof Error ? error.message : String(error)}`;
  })();
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
}

/** The provider answered that the thing asked for does not exist. */
export function isNotFound(error: unknown): boolean {
  return (error instanceof ProviderHttpError || error instanceof PagingError) && error.status === 404;
}

/** Errors that mean the credentials, not the provider or the network, are wrong: an admin must act. */
export function isCredentialFailure(error: unknown): boolean {
  if (error instanceof CredentialsRevokedError) return true;
  if (error instanceof CredentialsError) return !error.transient;
  return error instanceof ProviderHttpError && (error.status === 401 || error.status === 403) && error.code === 'http_status';
}
