/**
 * Domain errors carry a stable `code` that clients can branch on. The HTTP edge maps them to
 * `{error: {code, message, details}}` with `status`; nothing below the edge knows about HTTP bodies.
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DomainError';
  }
}

export const notFound = (resource: string, id: string) =>
  new DomainError(`${resource}_not_found`, `No ${resource.replace(/_/g, ' ')} with id '${id}'.`, 404, { id });

export const invalid = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, message, 400, details);

export const conflictError = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, message, 409, details);
