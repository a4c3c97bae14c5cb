import { mapGroup, mapMember, mapUser } from '../connectors/definition/mapping-engine.ts';
import type { ProviderDefinition } from '../connectors/definition/load-provider-definition.ts';
import { pages, type FetchJson } from '../connectors/definition/pager.ts';
import type { ResourceName } from '../connectors/definition/provider-definition.ts';
import type { IncomingRecord } from '../reconcile/incoming.ts';
import type { SnapshotService } from '../reconcile/snapshots.ts';
import type { ProviderHttpClient } from './http/provider-http-client.ts';

/** Records applied per reconciliation: the ingest API's own page limit. */
const APPLY_BATCH = 5000;

/** A pull source as one full enumeration needs it: what the provider looks like, how to reach it. */
export interface PullSource {
  definition: ProviderDefinition;
  /** The connection's settings, filling the definition's `{placeholders}`. */
  config: Readonly<Record<string, string>>;
  fetchJson: FetchJson;
}

export interface SnapshotProgress {
  resource: ResourceName;
  pages: number;
  records: number;
}

export interface FullSnapshotOptions {
  onProgress?: (progress: SnapshotProgress) => void;
  signal?: AbortSignal;
  /** Who aborts the snapshot when the enumeration fails, for the run's record. */
  actor?: string;
}

/**
 * One full enumeration of a pull source, framed as a snapshot: every page of users, groups and their
 * members is applied as it arrives, and only once the whole enumeration succeeded is the
 * snapshot committed — the commit alone removes what the source no longer has (DESIGN law 7), within the
 * deprovision guard (law 8), which may hold it. Any failure aborts the snapshot: a partial pull deactivates
 * nobody. Resolves to the committed (or held) run.
 */
export async function runFullSnapshot(snapshots: SnapshotService, connectionId: string, source: PullSource, options: FullSnapshotOptions = {}) {
  const run = await snapshots.begin(connectionId);
  try {
    const progress: SnapshotProgress = { resource: 'users', pages: 0, records: 0 };
    // Pages are gathered into batches of about APPLY_BATCH records: one reconciliation of 5,000 records costs
    // far less than ten of 500 (the size of a Google page).
    let pending: IncomingRecord[] = [];
    const flush = async () => {
      if (pending.length > 0) await snapshots.addRecords(connectionId, run.id, pending);
      pending = [];
    };
    const apply = async (resource: ResourceName, records: IncomingRecord[]) => {
      if (resource !== progress.resource) await flush();
      pending.push(...records);
      if (pending.length >= APPLY_BATCH) await flush();
      progress.resource = resource;
      progress.pages += 1;
      progress.records += records.length;
      options.onProgress?.({ ...progress });
    };
    const walk = (resource: ResourceName, groupId?: string) =>
      pages(source.definition, resource, { config: source.config, groupId, signal: options.signal }, source.fetchJson);

    // Deleted users are not listed: a user the source deleted is absent from `users`, and the commit removes
    // it under the deprovision guard. Applying the source's deletions page by page would bypass the guard.
    for await (const page of walk('users')) await apply('users', await Promise.all(page.items.map((item) => mapUser(source.definition, item))));
    if (source.definition.resources.groups) {
      const groupIds: string[] = [];
      for await (const page of walk('groups')) {
        const records = await Promise.all(page.items.map((item) => mapGroup(source.definition, item)));
        for (const record of records) if (!record.deleted) groupIds.push(record.external_id);
        await apply('groups', records);
      }
      if (source.definition.resources.members) {
        for (const groupId of groupIds) {
          for await (const page of walk('members', groupId)) {
            const members = await Promise.all(page.items.map((item) => mapMember(source.definition, groupId, item)));
            // Nested groups and members that are not people are kept out: canonical memberships are of users.
            await apply('members', members.flatMap((m) => (m.kind === 'membership' ? [m.record] : [])));
          }
        }
      }
    }
    await flush();
    return await snapshots.commit(connectionId, run.id);
  } catch (error) {
    // The enumeration's error is what the caller needs. Should the abort fail too, the run stays `running`,
    // and the next begin reports it as in progress, so it is not lost either.
    await snapshots.abort(connectionId, run.id, options.actor ?? 'sync').catch(() => undefined);
    throw error;
  }
}

/** The pager's `FetchJson` over a connection's provider HTTP client (auth, pacing and retries live there). */
export function fetchJsonVia(client: ProviderHttpClient): FetchJson {
  return async (url, init) => {
    const response = await client.request({ url, headers: init.headers, ...(init.signal ? { signal: init.signal } : {}) });
    return { status: response.status, headers: Object.fromEntries(response.headers.entries()), body: response.text === '' ? null : response.json() };
  };
}
