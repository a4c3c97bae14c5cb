import http from 'node:http';
import https from 'node:https';
import ipaddr from 'ipaddr.js';
import { Webhook } from 'standardwebhooks';
import { randomBytes } from 'node:crypto';
import type { UrlGuard } from '../../security/url-guard.ts';

export interface SendResult {
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  /** The first KiB of the response body. */
  excerpt: string | null;
  error: string | null;
}

export interface SignedMessage {
  id: string;
  body: string;
  /** Every secret valid now: the current one first, then the previous one during a rotation overlap. */
  secrets: string[];
}

const EXCERPT_BYTES = 1024;

/** `whsec_` and 32 random bytes, base64, as the Standard Webhooks specification describes secrets. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** `webhook-signature`: one `v1,<sig>` per secret, space-separated, over exactly `body`. */
export function signatureHeader(secrets: readonly string[], messageId: string, timestamp: Date, body: string): string {
  return secrets.map((secret) => new Webhook(secret).sign(messageId, timestamp, body)).join(' ');
}

/**
 * Sends signed webhook requests. Sockets connect only to addresses the URL guard allows — checked on the
 * address actually connected to, so a DNS answer that changed since the endpoint was saved is caught.
 */
export class WebhookSender {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 256 });

  constructor(
    private readonly guard: UrlGuard,
    private readonly timeoutMs: number,
    private readonly clock: () => Date,
  ) {}

  send(url: string, message: SignedMessage): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const failed = (error: string, statusCode: number | null = null, excerpt: string | null = null): SendResult => ({
      ok: false,
      statusCode,
      latencyMs: elapsed(),
      excerpt,
      error,
    });
    let target: URL;
    try {
      target = new URL(url);
      if (target.protocol !== 'http:' && target.protocol !== 'https:') return Promise.resolve(failed(`unsupported protocol ${target.protocol}`));
      // Literal addresses never reach the lookup hook.
      const host = target.hostname.replace(/^\[|\]$/g, '');
      if (ipaddr.isValid(host) && !this.guard.isHostAllowListed(host)) this.guard.assertAddressAllowed(host, host, url);
    } catch (error) {
      return Promise.resolve(failed((error as Error).message));
    }
    const timestamp = this.clock();
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(message.body)),
      'user-agent': 'Roster-Webhooks/1',
      'webhook-id': message.id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': signatureHeader(message.secrets, message.id, timestamp, message.body),
    };
    const isHttps = target.protocol === 'https:';
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const finish = (result: SendResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const request = (isHttps ? https : http).request(
        target,
        { method: 'POST', headers, agent: isHttps ? this.httpsAgent : this.httpAgent, lookup: this.guard.lookup },
        (response) => {
          const parts: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            if (size < EXCERPT_BYTES) parts.push(chunk);
            size += chunk.length;
          });
          response.on('end', () => {
            const statusCode = response.statusCode ?? 0;
            const excerpt = size === 0 ? null : Buffer.concat(parts).subarray(0, EXCERPT_BYTES).toString('utf8');
            const ok = statusCode >= 200 && statusCode < 300;
            finish({ ok, statusCode, latencyMs: elapsed(), excerpt, error: ok ? null : `HTTP ${statusCode}` });
          });
          response.on('error', (error) => finish(failed(error.message, response.statusCode ?? null)));
        },
      );
      const timer = setTimeout(() => {
        request.destroy(new Error(`timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      request.on('error', (error: NodeJS.ErrnoException) => finish(failed(error.code ? `${error.code}: ${error.message}` : error.message)));
      request.end(message.body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
