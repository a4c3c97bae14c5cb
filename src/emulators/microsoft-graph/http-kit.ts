import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as body from '../kit/http-body.ts';
import { matchPath as matchPattern } from '../kit/path-match.ts';

/**
 * A failure answered in Graph's error shape, `{error:{code,message,innerError}}`; `code` is what clients
 * branch on (`Request_ResourceNotFound`, `TooManyRequests`, `syncStateNotFound`…).
 */
export class GraphApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function graphErrorBody(code: string, message: string, now: number): Record<string, unknown> {
  const id = randomUUID();
  return { error: { code, message, innerError: { date: new Date(now).toISOString().replace(/\.\d{3}Z$/, ''), 'request-id': id, 'client-request-id': id } } };
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  body.sendJson(res, status, value, 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8', headers);
}

export function sendGraphError(res: ServerResponse, error: GraphApiError, now: number, headers: Record<string, string> = {}): void {
  sendJson(res, error.status, graphErrorBody(error.code, error.message, now), { ...headers, ...error.headers });
}

const tooLarge = (): Error => new GraphApiError(413, 'RequestEntityTooLarge', 'The request body is too large.');

export function readBody(req: IncomingMessage): Promise<string> {
  return body.readBody(req, tooLarge);
}

export function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  return body.readJsonObject(req, {
    tooLarge,
    notAnObject: () => new GraphApiError(400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.'),
  });
}

/** Matches `/a/:b/c` patterns, fixed segments in any case as Graph's are; decoded params, or undefined. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  return matchPattern(pattern, path, { ignoreCase: true });
}

/** A GUID drawn from `random`: Entra object ids are GUIDs. */
export function guidFrom(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[Math.floor(random() * 4)]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * A URL with OData options written as Graph writes them (`?$top=5&$skiptoken=…`): the `$` of an option
 * name stays literal, values are percent-encoded.
 */
export function odataUrl(base: string, params: Iterable<[string, string]>): string {
  const query = [...params].map(([name, value]) => `${encodeURIComponent(name).replace(/^%24/, '$')}=${encodeURIComponent(value)}`).join('&');
  return query === '' ? base : `${base}?${query}`;
}
