import type { FastifyRequest } from 'fastify';
import { notFound } from '../core/errors.ts';
import type { ApiKeysRepo } from '../store/api-keys.repo.ts';
import { forbidden, unauthorized } from './errors.ts';
import type { Principal } from './types.ts';

export type { Principal } from './types.ts';

/** Longest bearer token worth hashing; real keys are ~46 characters. */
const MAX_TOKEN_LENGTH = 512;

/**
 * The onRequest hook of the authenticated scope: resolves `Authorization: Bearer <key>` to a principal.
 * It runs before the body is read, so an unauthenticated caller cannot make the server parse anything.
 */
export function createAuthenticator(apiKeys: ApiKeysRepo, clock: () => Date) {
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      throw unauthorized('Missing Authorization header; send `Authorization: Bearer <api key>`.');
    }
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match?.[1]) throw unauthorized('Authorization header must use the Bearer scheme: `Authorization: Bearer <api key>`.');
    const token = match[1];
    const key = token.length <= MAX_TOKEN_LENGTH ? await apiKeys.findActiveByKey(token) : undefined;
    if (!key) throw unauthorized('Invalid or revoked API key.');
    request.principal = { keyId: key.id, organizationId: key.organization_id };
    try {
      await apiKeys.touchLastUsed(key, clock());
    } catch (error) {
      // Bookkeeping only: a failed write must not fail the request it rides on.
      request.log.warn({ err: error, keyId: key.id }, 'could not record API key use');
    }
  };
}

export function isAdmin(principal: Principal): boolean {
  return principal.organizationId === null;
}

/** Only admin (unscoped) keys may do this: organization creation and key management. 403 otherwise. */
export function assertAdmin(principal: Principal, action: string): void {
  if (!isAdmin(principal)) throw forbidden(`This API key is limited to one organization and cannot ${action}.`);
}

export function canAccessOrganization(principal: Principal, organizationId: string): boolean {
  return principal.organizationId === null || principal.organizationId === organizationId;
}

/**
 * Another organization's resources do not exist for a scoped key: 404 `organization_not_found`, exactly as for
 * an unknown id, so a scoped key cannot even learn which organization ids exist.
 */
export function assertCanAccessOrganization(principal: Principal, organizationId: string): void {
  if (!canAccessOrganization(principal, organizationId)) throw notFound('organization', organizationId);
}

/**
 * Returns `row` if the caller may see it, and throws `<resource>_not_found` if it is missing or belongs to an
 * organization outside the key's scope — the two cases are indistinguishable to the caller.
 */
export function visibleOr404<T extends { organization_id: string }>(
  principal: Principal,
  row: T | undefined,
  resource: string,
  id: string,
): T {
  if (!row || !canAccessOrganization(principal, row.organization_id)) throw notFound(resource, id);
  return row;
}

/**
 * The organization filter a list endpoint must apply. An admin gets what it asked for (undefined: every
 * organization); a scoped key always gets its own organization, and asking for another one is a 404.
 */
export function scopeOrganizationFilter(principal: Principal, requestedOrganizationId: string | undefined): string | undefined {
  if (principal.organizationId === null) return requestedOrganizationId;
  if (requestedOrganizationId !== undefined && requestedOrganizationId !== principal.organizationId) {
    throw notFound('organization', requestedOrganizationId);
  }
  return principal.organizationId;
}
