import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';

/**
 * A failure as JumpCloud answers it: `{"error": "<status text>", "message": "<status text>: <detail>"}`,
 * the shape its API returns for a bad key (`{"error":"Unauthorized","message":"Unauthorized: api key user
 * not found"}`). The exact wording of other messages is not published [unverified]; clients branch on
 * the status only.
 */
export class JumpCloudApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function errorBody(status: number, message: string): string {
  const label = STATUS_CODES[status] ?? 'Error';
  return JSON.stringify({ error: label, message: message.startsWith(label) ? message : `${label}: ${message}` });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, error: JumpCloudApiError): void {
  const text = errorBody(error.status, error.message);
  res.writeHead(error.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...error.headers });
  res.end(text);
}

const MAX_BODY = 1_000_000;

export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new JumpCloudApiError(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below like any other body that is not an object
  }
  throw new JumpCloudApiError(400, 'invalid JSON body');
}

/** Matches `/a/:b/c` patterns; the decoded params, or undefined. */
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

/** JumpCloud ids are Mongo ObjectIds; anything else is refused before it is looked up. */
export const OBJECT_ID = /^[0-9a-f]{24}$/;
