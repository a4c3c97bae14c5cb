import type { Db } from './database.ts';
import type { PageQuery } from './directory.repo.ts';
import type { SyncRunsTable } from './schema.ts';

export interface SyncRunFilter {
  organization_id?: string | undefined;
  connection_id?: string | undefined;
  status?: string | undefined;
}

export class SyncRunsRepo {
  constructor(private readonly db: Db) {}

  async list(filter: SyncRunFilter, page: PageQuery): Promise<SyncRunsTable[]> {
    let query = this.db.selectFrom('sync_runs').selectAll().orderBy('id', 'desc').limit(page.limit + 1);
    if (filter.organization_id !== undefined) query = query.where('organization_id', '=', filter.organization_id);
    if (filter.connection_id !== undefined) query = query.where('connection_id', '=', filter.connection_id);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (page.after !== null) query = query.where('id', '<', page.after);
    return query.execute();
  }

  async get(id: string): Promise<SyncRunsTable | undefined> {
    return this.db.selectFrom('sync_runs').selectAll().where('id', '=', id).executeTakeFirst();
  }
}
