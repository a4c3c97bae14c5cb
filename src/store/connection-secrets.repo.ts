import type { JsonObject } from '../core/model.ts';
import type { SecretBox } from '../security/secret-box.ts';
import type { Db, Tx } from './database.ts';

/**
 * A pull connection's credentials (keys, client secrets, refresh tokens), stored as ONE document sealed by
 * the secret box. Nothing here is ever returned by the API or logged; it is opened only to talk to the provider.
 */
export class ConnectionSecretsRepo {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  /** Stores (or replaces) the document; inside `tx` when given (a connection created with its credentials). */
  async write(tx: Tx | undefined, connection: { id: string; organization_id: string }, secrets: JsonObject, now: string): Promise<void> {
    const sealed = this.box.seal(JSON.stringify(secrets));
    await (tx ?? this.db)
      .insertInto('connection_secrets')
      .values({ connection_id: connection.id, organization_id: connection.organization_id, sealed, updated_at: now })
      .onConflict((oc) => oc.column('connection_id').doUpdateSet({ sealed, updated_at: now }))
      .execute();
  }

  async read(connectionId: string): Promise<JsonObject | undefined> {
    const row = await this.db.selectFrom('connection_secrets').select('sealed').where('connection_id', '=', connectionId).executeTakeFirst();
    return row ? (JSON.parse(this.box.open(row.sealed)) as JsonObject) : undefined;
  }

  /** Merges fields into the stored document (a rotated refresh token, a consent's grant). */
  async merge(connection: { id: string; organization_id: string }, fields: JsonObject, now: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('connection_secrets').select('sealed').where('connection_id', '=', connection.id).executeTakeFirst();
      const current = row ? (JSON.parse(this.box.open(row.sealed)) as JsonObject) : {};
      await this.write(tx, connection, { ...current, ...fields }, now);
    });
  }
}
