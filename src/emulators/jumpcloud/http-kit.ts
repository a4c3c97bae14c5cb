import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import * as body from '../kit/http-body.ts';

export { matchPath } from '../kit/path-match.ts';

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

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  body.sendJson(res, status, value, 'application/json; charset=utf-8', headers);
}

export function sendError(res: ServerResponse, error: JumpCloudApiError): void {
  const text = errorBody(error.status, error.message);
  res.writeHead(error.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...error.headers });
  res.end(text);
}

export function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  return body.readJsonObject(req, {
    tooLarge: () => new JumpCloudApiError(413, 'request body too large'),
    notAnObject: () => new JumpCloudApiError(400, 'invalid JSON body'),
  });
}

/** JumpCloud ids are Mongo ObjectIds; anything else is refused before it is looked up. */
export const OBJECT_ID = /^[0-9a-f]{24}$/;
