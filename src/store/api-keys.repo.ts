import { sha256Hex } from '../security/secret-hash.ts';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { newId, isId } from '../core/ids.ts';
import { appendAudit } from './audit.repo.ts';
import type { Db } from './database.ts';
import type { ApiKeysTable } from './schema.ts';

/**
 * API keys. Only a SHA-256 of each key is stored (plus a short prefix people recognise in a list); the key
 * itself is shown once, when created. Keys are high-entropy random strings, so a plain hash is enough —
 * no salt or slow KDF is needed to resist guessing.
 */
export const API_KEY_PREFIX = 'rk_';
const DISPLAY_PREFIX_LENGTH = 9;
/** last_used_at is refreshed at most this often per key, so authentication does not write on every request. */
export const LAST_USED_RESOLUTION_MS = 60_000;

export type ApiKeyRecord = Omit<ApiKeysTable, 'key_hash'>;

export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export const hashApiKey = sha256Hex;

export interface NewApiKey {
  name: string;
  organizationId: string | null;
}

export class ApiKeysRepo {
  constructor(private readonly db: Db) {}

  /** The active (not revoked) key with this secret, or undefined. */
  async findActiveByKey(key: string): Promise<ApiKeyRecord | undefined> {
    const hash = hashApiKey(key);
    const row = await this.db.selectFrom('api_keys').selectAll().where('key_hash', '=', hash).executeTakeFirst();
    // The lookup is by hash; the comparison is constant-time anyway, so no branch depends on a partial match.
    if (!row || !timingSafeEqual(Buffer.from(row.key_hash, 'hex'), Buffer.from(hash, 'hex'))) return undefined;
    if (row.revoked_at !== null) return undefined;
    return withoutHash(row);
  }

  /** Records use of a key unless it was recorded less than a minute ago (by this or another process). */
  async touchLastUsed(key: ApiKeyRecord, now: Date): Promise<void> {
    const threshold = new Date(now.getTime() - LAST_USED_RESOLUTION_MS).toISOString();
    if (key.last_used_at !== null && key.last_used_at > threshold) return;
    await this.db
      .updateTable('api_keys')
      .set({ last_used_at: now.toISOString() })
      .where('id', '=', key.id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', threshold)]))
      .execute();
  }

  /** Creates a key and its audit entry; the secret is in the result and nowhere else. */
  async create(input: NewApiKey, actor: string, now: string): Promise<{ record: ApiKeyRecord; key: string }> {
    const key = generateApiKey();
    const record = await this.db.transaction().execute(async (tx) => {
      const created = await insertKey(tx, key, input, now);
      await appendAudit(
        tx,
        {
          organizationId: input.organizationId,
          actor,
          action: 'api_key.created',
          targetType: 'api_key',
          targetId: created.id,
          details: { name: input.name, organization_id: input.organizationId },
        },
        now,
      );
      return created;
    });
    return { record, key };
  }

  /**
   * Installs the operator's bootstrap key as the first admin key. Only while no key exists at all: once keys
   * are managed through the API, the environment variable no longer adds or revives one.
   */
  async bootstrap(key: string, now: string): Promise<'created' | 'present' | 'ignored'> {
    const existing = await this.db.selectFrom('api_keys').select(['id', 'key_hash']).limit(1).execute();
    if (existing.length > 0) {
      const same = await this.db.selectFrom('api_keys').select('id').where('key_hash', '=', hashApiKey(key)).executeTakeFirst();
      return same ? 'present' : 'ignored';
    }
    try {
      await this.db.transaction().execute(async (tx) => {
        const created = await insertKey(tx, key, { name: 'bootstrap (ROSTER_API_KEY)', organizationId: null }, now);
        await appendAudit(
          tx,
          { organizationId: null, actor: 'system', action: 'api_key.created', targetType: 'api_key', targetId: created.id, details: { bootstrap: true } },
          now,
        );
      });
      return 'created';
    } catch (error) {
      // Another process starting at the same moment inserted the same key first (unique key_hash).
      const same = await this.db.selectFrom('api_keys').select('id').where('key_hash', '=', hashApiKey(key)).executeTakeFirst();
      if (same) return 'present';
      throw error;
    }
  }

  /** Whether any key (even a revoked one) exists. */
  async anyExist(): Promise<boolean> {
    return (await this.db.selectFrom('api_keys').select('id').limit(1).execute()).length > 0;
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    if (!isId('apiKey', id)) return undefined;
    const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? withoutHash(row) : undefined;
  }

  async list(filter: { organizationId?: string | undefined }, page: { limit: number; after: string | null }): Promise<ApiKeyRecord[]> {
    let query = this.db.selectFrom('api_keys').selectAll();
    if (filter.organizationId !== undefined) query = query.where('organization_id', '=', filter.organizationId);
    if (page.after !== null) query = query.where('id', '>', page.after);
    const rows = await query.orderBy('id').limit(page.limit + 1).execute();
    return rows.map(withoutHash);
  }

  /** Revokes a key; revoking a revoked key changes nothing and writes no second audit entry. */
  async revoke(id: string, actor: string, now: string): Promise<ApiKeyRecord | undefined> {
    return this.db.transaction().execute(async (tx) => {
      if (!isId('apiKey', id)) return undefined;
      const row = await tx.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return undefined;
      if (row.revoked_at !== null) return withoutHash(row);
      await tx.updateTable('api_keys').set({ revoked_at: now }).where('id', '=', id).execute();
      await appendAudit(
        tx,
        { organizationId: row.organization_id, actor, action: 'api_key.revoked', targetType: 'api_key', targetId: id, details: { name: row.name } },
        now,
      );
      return withoutHash({ ...row, revoked_at: now });
    });
  }
}

async function insertKey(tx: Db, key: string, input: NewApiKey, now: string): Promise<ApiKeyRecord> {
  const row: ApiKeysTable = {
    id: newId('apiKey'),
    organization_id: input.organizationId,
    name: input.name,
    prefix: key.slice(0, DISPLAY_PREFIX_LENGTH),
    key_hash: hashApiKey(key),
    created_at: now,
    last_used_at: null,
    revoked_at: null,
  };
  await tx.insertInto('api_keys').values(row).execute();
  return withoutHash(row);
}

function withoutHash(row: ApiKeysTable): ApiKeyRecord {
  const { key_hash: _hash, ...record } = row;
  return record;
}
