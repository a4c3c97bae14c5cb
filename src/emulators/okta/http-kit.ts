import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

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

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const MAX_BODY = 1_000_000;

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY) throw new OktaApiError(413, 'E0000001', 'Api validation failed: request body too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req);
  if (text.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below, as for a body that is not an object
  }
  throw new OktaApiError(400, 'E0000003', 'The request body was not well-formed.');
}

export async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  return Object.fromEntries(new URLSearchParams(await readBody(req)));
}

/** Matches `/a/:b/c` style patterns; returns decoded params or undefined. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const wanted = pattern.split('/');
  const actual = path.split('/');
  if (wanted.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < wanted.length; i += 1) {
    const part = wanted[i]!;
    if (part.startsWith(':')) params[part.slice(1)] = decodeURIComponent(actual[i]!);
    else if (part !== actual[i]) return undefined;
  }
  return params;
}
