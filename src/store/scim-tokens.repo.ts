import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { appendAudit } from './audit.repo.ts';
import type { AuditedBy } from './connections.repo.ts';
import type { Db, Tx } from './database.ts';

/**
 * The bearer token of each SCIM connection. Only its SHA-256 is stored; the token is shown once, when the
 * connection is created or the token rotated. Tokens are 256 random bits, so a plain hash resists guessing.
 */
export const SCIM_TOKEN_PREFIX = 'rscim_';

/** What a request authenticated with a connection's token may act on. */
export interface ScimConnection {
  id: string;
  organization_id: string;
  type: string;
  state: string;
  /** The organization's directory policy as stored (its SCIM extension schema lives there). */
  policy: string;
}

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function generateScimToken(): string {
  return `${SCIM_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export class ScimTokensRepo {
  constructor(private readonly db: Db) {}

  /** Issues a token for a connection, replacing any previous one (which stops working at once). */
  async issue(executor: Db | Tx, connection: { id: string; organization_id: string }, now: string): Promise<string> {
    const token = generateScimToken();
    const token_hash = hashToken(token).toString('hex');
    await executor
      .insertInto('scim_tokens')
      .values({ connection_id: connection.id, organization_id: connection.organization_id, token_hash, created_at: now })
      .onConflict((oc) => oc.column('connection_id').doUpdateSet({ token_hash, created_at: now }))
      .execute();
    return token;
  }

  /** Issues a new token in place of the current one, with its audit entry; the old token is refused from now on. */
  async rotate(connection: { id: string; organization_id: string }, audited: AuditedBy, now: string): Promise<string> {
    return this.db.transaction().execute(async (tx) => {
      const token = await this.issue(tx, connection, now);
      await appendAudit(
        tx,
        { organizationId: connection.organization_id, actor: audited.actor, action: audited.action, targetType: 'connection', targetId: connection.id },
        now,
      );
      return token;
    });
  }

  /**
   * The live connection this token opens, or undefined. The token must belong to exactly the connection in
   * the URL: another connection's valid token opens nothing here. The comparison is constant-time.
   */
  async authenticate(connectionId: string, token: string): Promise<ScimConnection | undefined> {
    const row = await this.db
      .selectFrom('scim_tokens as t')
      .innerJoin('connections as c', 'c.id', 't.connection_id')
      .innerJoin('organizations as o', 'o.id', 'c.organization_id')
      .select(['t.token_hash', 'c.id', 'c.organization_id', 'c.type', 'c.state', 'o.policy'])
      .where('t.connection_id', '=', connectionId)
      .where('c.deleted_at', 'is', null)
      .executeTakeFirst();
    const presented = hashToken(token);
    // Hash a stand-in when there is no row, so a missing connection costs the same as a wrong token.
    const stored = row ? Buffer.from(row.token_hash, 'hex') : hashToken(`${token}\u0000absent`);
    if (!timingSafeEqual(stored, presented) || !row) return undefined;
    return { id: row.id, organization_id: row.organization_id, type: row.type, state: row.state, policy: row.policy };
  }
}
