import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * `$skiptoken` and `$deltatoken` values: opaque to clients, signed here so a forged or garbled one is told
 * apart from a real one (Graph answers a bad skip token 400, a bad delta token as an unknown sync state).
 */
export class OpaqueTokens {
  constructor(private readonly secret: string) {}

  issue(payload: Record<string, unknown>): string {
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  read<T extends Record<string, unknown>>(token: string): T | undefined {
    const [body, signature] = token.split('.');
    if (!body || !signature) return undefined;
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }

  private sign(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url').slice(0, 22);
  }
}
