import type { ServerResponse } from 'node:http';

/**
 * Responses a timeout fault never answers: the client's own timeout is what is under test. They are kept
 * so the emulator's close() can free their sockets.
 */
export class HangingResponses {
  private readonly open = new Set<ServerResponse>();

  hold(res: ServerResponse): void {
    this.open.add(res);
    res.on('close', () => this.open.delete(res));
  }

  destroyAll(): void {
    for (const res of this.open) res.destroy();
  }
}

/** A response whose JSON body stops halfway: the client sees a complete response holding invalid JSON. */
export function sendTruncatedJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, headers);
  res.end(text.slice(0, Math.max(1, Math.floor(text.length / 2))));
}
