import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export type ReceiverMode = 'ok' | 'fail' | 'hang';

export interface ReceivedMessage {
  webhookId: string;
  events: any[];
  batch: boolean;
  receivedAt: number;
  signatures: string[];
  headers: Record<string, string>;
  body: string;
}

/**
 * A webhook receiver on 127.0.0.1 that verifies every request with the standardwebhooks verifier against
 * the secrets it is given, and checks that each organization's events arrive in sequence order (repeats
 * of an event already seen are allowed: delivery is at least once).
 */
export class WebhookReceiver {
  mode: ReceiverMode = 'ok';
  secrets: string[] = [];
  readonly messages: ReceivedMessage[] = [];
  readonly eventIds = new Set<string>();
  readonly problems: string[] = [];
  private readonly lastSequence = new Map<string, number>();
  private readonly hanging = new Set<IncomingMessage>();
  private server: Server | undefined;
  private waiters: Array<() => void> = [];
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (this.mode === 'hang') {
          this.hanging.add(request);
          return;
        }
        if (this.mode === 'fail') {
          response.writeHead(500, { 'content-type': 'text/plain' }).end('receiver failing on purpose');
          return;
        }
        this.accept(request, Buffer.concat(chunks).toString('utf8'));
        response.writeHead(204).end();
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Stops listening and drops every connection: later requests are refused. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const request of this.hanging) request.socket.destroy();
    this.hanging.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(request: IncomingMessage, body: string): void {
    const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
    const verified = this.secrets.some((secret) => {
      try {
        new Webhook(secret).verify(body, headers);
        return true;
      } catch {
        return false;
      }
    });
    if (!verified) this.problems.push(`signature did not verify for ${headers['webhook-id']}`);
    const parsed = JSON.parse(body);
    const events = Array.isArray(parsed) ? parsed : [parsed];
    for (const event of events) {
      // Test messages are not events of the log: they have no place in its order.
      if (event.type !== 'webhook_endpoint.test' && !this.eventIds.has(event.id)) {
        const last = this.lastSequence.get(event.organization_id) ?? 0;
        if (event.sequence <= last) this.problems.push(`${event.organization_id}: sequence ${event.sequence} after ${last}`);
        this.lastSequence.set(event.organization_id, Math.max(last, event.sequence));
        this.eventIds.add(event.id);
      }
    }
    this.messages.push({
      webhookId: headers['webhook-id']!,
      events,
      batch: Array.isArray(parsed),
      receivedAt: Date.now(),
      signatures: headers['webhook-signature']!.split(' '),
      headers,
      body,
    });
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Waits until `done()` holds, checking after each message (and every 50 ms). */
  async waitFor(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  assertNoProblems(): void {
    assert.deepEqual(this.problems.slice(0, 10), []);
  }
}
