import { createHmac, timingSafeEqual } from 'node:crypto';
import { GoogleApiError } from './http-kit.ts';

/** Google documents page tokens as valid for three days. */
export const PAGE_TOKEN_TTL_MS = 3 * 24 * 3600 * 1000;

export interface PageCursor {
  /** The sort key of the last item returned, and its id to break ties; resuming after it survives inserts and deletes. */
  key: string;
  id: string;
  /** A digest of the query, so a token cannot be replayed against a different listing. */
  scope: string;
  issuedAt: number;
}

/** Tokens are signed so garbage and tampering are told apart from real cursors, as Google's opaque tokens are. */
export class PageTokens {
  constructor(
    private readonly secret: string,
    private readonly now: () => number,
  ) {}

  issue(cursor: Omit<PageCursor, 'issuedAt'>): string {
    const payload = Buffer.from(JSON.stringify({ ...cursor, issuedAt: this.now() })).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  read(token: string, scope: string): PageCursor {
    const [payload, signature] = token.split('.');
    const invalid = new GoogleApiError(400, 'invalid', 'Invalid Input: pageToken');
    if (!payload || !signature) throw invalid;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid;
    const cursor = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as PageCursor;
    if (cursor.scope !== scope) throw invalid;
    if (this.now() - cursor.issuedAt > PAGE_TOKEN_TTL_MS) throw new GoogleApiError(400, 'invalid', 'Invalid Input: pageToken (expired)');
    return cursor;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url').slice(0, 22);
  }
}
