import { DomainError } from '../core/errors.ts';

/** The `scimType` values of RFC 7644 §3.12 that Roster answers with. */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

/**
 * A SCIM protocol error. It is a DomainError like any other (stable `code`: `scim_<scimType>`), so code
 * below the edge stays HTTP-agnostic; the SCIM routes render it as an RFC 7644 error body.
 */
export class ScimError extends DomainError {
  constructor(
    status: number,
    readonly scimType: ScimType | undefined,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(scimType ? `scim_${scimType}` : `scim_error`, message, status, details);
    this.name = 'ScimError';
  }
}

export const invalidFilter = (message: string) => new ScimError(400, 'invalidFilter', message);
export const invalidPath = (message: string) => new ScimError(400, 'invalidPath', message);
export const invalidSyntax = (message: string) => new ScimError(400, 'invalidSyntax', message);
export const invalidValue = (message: string) => new ScimError(400, 'invalidValue', message);
export const noTarget = (message: string) => new ScimError(400, 'noTarget', message);
export const mutability = (message: string) => new ScimError(400, 'mutability', message);
export const uniqueness = (message: string) => new ScimError(409, 'uniqueness', message);
export const resourceNotFound = (resourceType: string, id: string) =>
  new ScimError(404, undefined, `${resourceType} '${id}' not found.`);
