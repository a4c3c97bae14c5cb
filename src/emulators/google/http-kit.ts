import type { IncomingMessage, ServerResponse } from 'node:http';
import * as body from '../kit/http-body.ts';
import type { PathParams } from '../kit/path-match.ts';

export { matchPath } from '../kit/path-match.ts';

/** A failure answered in Google's error shape; `reason` is the machine-readable part clients branch on. */
export class GoogleApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export function googleErrorBody(status: number, reason: string, message: string): string {
  return JSON.stringify({ error: { code: status, message, errors: [{ domain: 'global', reason, message }] } });
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  body.sendJson(res, status, value, 'application/json; charset=UTF-8');
}

export function sendGoogleError(res: ServerResponse, error: GoogleApiError): void {
  const text = googleErrorBody(error.status, error.reason, error.message);
  res.writeHead(error.status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const tooLarge = (): Error => new GoogleApiError(413, 'uploadTooLarge', 'Request body too large');

export function readBody(req: IncomingMessage): Promise<string> {
  return body.readBody(req, tooLarge);
}

export function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  return body.readJsonObject(req, { tooLarge, notAnObject: () => new GoogleApiError(400, 'parseError', 'Parse Error') });
}

/** The token endpoint takes form bodies (as Google's does); JSON is accepted too because some clients send it. */
export async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  const text = await readBody(req);
  if ((req.headers['content-type'] ?? '').includes('application/json')) {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(parsed).map(([key, value]) => [key, String(value)]));
  }
  return Object.fromEntries(new URLSearchParams(text));
}

export type Params = PathParams;

