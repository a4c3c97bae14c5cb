import type { IncomingMessage, ServerResponse } from 'node:http';

/** Bodies past this are refused: no emulator test sends more, and a runaway client should not fill memory. */
export const MAX_BODY_BYTES = 1_000_000;

/** How a provider refuses a body; each answers in its own error shape. */
export interface BodyErrors {
  tooLarge: () => Error;
  notAnObject: () => Error;
}

/** The request body as text; `tooLarge` is thrown once it passes the cap. */
export async function readBody(req: IncomingMessage, tooLarge: () => Error): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw tooLarge();
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A JSON object body; an empty body is `{}`, anything else that is not an object is refused. */
export async function readJsonObject(req: IncomingMessage, errors: BodyErrors): Promise<Record<string, unknown>> {
  const text = await readBody(req, errors.tooLarge);
  if (text.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below, as for a body that is JSON but not an object
  }
  throw errors.notAnObject();
}

/** A form body (`a=1&b=2`) as its fields. */
export async function readForm(req: IncomingMessage, tooLarge: () => Error): Promise<Record<string, string>> {
  return Object.fromEntries(new URLSearchParams(await readBody(req, tooLarge)));
}

/** Writes `body` as JSON with the provider's content type and an exact content-length. */
export function sendJson(res: ServerResponse, status: number, body: unknown, contentType: string, headers: Record<string, string | string[]> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
