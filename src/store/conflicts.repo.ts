import type { ConflictRow } from '../core/conflicts.ts';
import type { Db } from './database.ts';
import type { PageQuery } from './directory.repo.ts';

export interface ConflictFilter {
  organization_id?: string | undefined;
  status?: string | undefined;
  kind?: string | undefined;
  subject_id?: string | undefined;
}

export class ConflictsRepo {
  constructor(private readonly db: Db) {}

  async list(filter: ConflictFilter, page: PageQuery): Promise<ConflictRow[]> {
    let query = this.db.selectFrom('conflicts').selectAll().orderBy('id').limit(page.limit + 1);
    if (filter.organization_id !== undefined) query = query.where('organization_id', '=', filter.organization_id);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.kind !== undefined) query = query.where('kind', '=', filter.kind);
    if (filter.subject_id !== undefined) query = query.where('subject_id', '=', filter.subject_id);
    if (page.after !== null) query = query.where('id', '>', page.after);
    return (await query.execute()) as ConflictRow[];
  }

  async get(id: string): Promise<ConflictRow | undefined> {
    return (await this.db.selectFrom('conflicts').selectAll().where('id', '=', id).executeTakeFirst()) as ConflictRow | undefined;
  }
}
