import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as body from '../kit/http-body.ts';

export { matchPath } from '../kit/path-match.ts';

/**
 * A failure answered in Okta's error shape: `errorCode` (E0000…) is what clients branch on, `errorSummary`
 * what people read, `errorId` a fresh id per answer as Okta's support would ask for.
 */
export class OktaApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    readonly summary: string,
    readonly causes: string[] = [],
    /** Headers to send with the error (e.g. WWW-Authenticate on a refused bearer token). */
    readonly headers: Record<string, string> = {},
  ) {
    super(summary);
  }
}

export function oktaErrorBody(errorCode: string, summary: string, causes: string[] = []): Record<string, unknown> {
  return {
    errorCode,
    errorSummary: summary,
    errorLink: errorCode,
    errorId: `oae${randomBytes(11).toString('base64url')}`,
    errorCauses: causes.map((cause) => ({ errorSummary: cause })),
  };
}

/** The common ones, worded as Okta words them. */
export const OKTA_ERRORS = {
  invalidToken: () => new OktaApiError(401, 'E0000011', 'Invalid token provided'),
  forbidden: () => new OktaApiError(403, 'E0000006', 'You do not have permission to perform the requested action'),
  notFound: (id: string, kind: string) => new OktaApiError(404, 'E0000007', `Not found: Resource not found: ${id} (${kind})`),
  noRoute: () => new OktaApiError(404, 'E0000022', 'The endpoint does not support the provided HTTP method'),
  validation: (what: string, causes: string[] = []) => new OktaApiError(400, 'E0000001', `Api validation failed: ${what}`, causes),
  // [unverified] the code and wording Okta gives a malformed or unsupported `filter`/`search` expression.
  badFilter: (detail: string) => new OktaApiError(400, 'E0000031', 'Invalid search criteria.', [detail]),
  rateLimited: () => new OktaApiError(429, 'E0000047', 'API call exceeded rate limit due to too many requests.'),
  internal: () => new OktaApiError(500, 'E0000009', 'Internal Server Error'),
};

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string | string[]> = {}): void {
  body.sendJson(res, status, value, 'application/json', headers);
}

const tooLarge = (): Error => new OktaApiError(413, 'E0000001', 'Api validation failed: request body too large');

export function readBody(req: IncomingMessage): Promise<string> {
  return body.readBody(req, tooLarge);
}

export function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  return body.readJsonObject(req, { tooLarge, notAnObject: () => new OktaApiError(400, 'E0000003', 'The request body was not well-formed.') });
}

export function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  return body.readForm(req, tooLarge);
}

