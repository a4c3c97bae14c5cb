import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../security/secret-hash.ts';
import { readConnectionConfig, type PullConfig } from '../connectors/pull-connection-type.ts';
import { pullConnectionType } from '../connectors/pull-connection-types.ts';
import { ACCEPTS_RECORDS, type ConnectionState } from '../core/connection-states.ts';
import { newId } from '../core/ids.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import type { Reconciler } from '../reconcile/reconciler.ts';
import type { SyncRunView } from '../reconcile/sync-runs.ts';
import type { Database } from '../store/database.ts';
import type { ConnectionRecord, ConnectionsRepo } from '../store/connections.repo.ts';
import type { PushChannels } from '../connectors/connector.ts';
import type { ConnectionRuntimes } from './connection-runtimes.ts';
import type { CredentialsRevokedError } from './credentials/errors.ts';
import { describeSyncError, isCredentialFailure } from './sync-errors.ts';
import type { PullKind, SyncRunner } from './sync-runner.ts';

export const JOBS = {
  validate: 'connection.validate',
  renewChannels: 'push.renew',
  fetchObject: 'push.fetch',
} as const;

/**
 * Objects one push delivery has fetched one by one (a job each); a delivery naming more asks for a delta
 * round instead, which reads what changed in one go, and is answered within the provider's few seconds.
 */
export const OBJECTS_FETCHED_PER_DELIVERY = 50;

/** The tiers a pull connection is scheduled on, and `channels`: keeping its push channels open. */
export type ScheduleTier = PullKind | 'channels';

export interface PullConnectionsDeps {
  database: Database;
  connections: ConnectionsRepo;
  runtimes: ConnectionRuntimes;
  reconciler: Reconciler;
  jobs: JobQueue;
  runner: () => SyncRunner;
  /** Where providers deliver push notifications for a connection. */
  pushAddress: (connectionId: string, provider: string) => string;
  clock: () => Date;
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Counts an ended run, for /metrics. */
  onRunMeasured?: (run: SyncRunView) => void;
}

/**
 * The life of a pull connection around its runs: credentials checked before anything syncs, schedules set
 * on activation, push channels opened and renewed, notified objects fetched, and the connection's state
 * following what its credentials and runs do (needs_reauth, invalid_credentials, error, back to active).
 */
export class PullConnections {
  constructor(private readonly deps: PullConnectionsDeps) {}

  /** Checks the credentials by asking for a token and one page of users; activates the connection on success. */
  async validate(connectionId: string): Promise<void> {
    const { connections, runtimes } = this.deps;
    const connection = await connections.get(connectionId);
    if (!connection || connection.state !== 'validating') return;
    try {
      const runtime = await runtimes.get(connectionId);
      await runtime.tokens.getAuthHeader();
      for await (const _page of runtime.connector.pages('users')) break;
    } catch (error) {
      const to: ConnectionState = isCredentialFailure(error) ? 'invalid_credentials' : 'error';
      this.deps.logger.warn({ connection_id: connectionId, error: describeSyncError(error) }, 'connection validation failed');
      await this.transitionIf(connectionId, ['validating'], to, describeSyncError(error));
      return;
    }
    const activated = await this.transitionIf(connectionId, ['validating'], 'active', null);
    if (activated) await this.activate(activated);
  }

  /** A newly active connection: its tiers are scheduled, its first full run queued, its channels opened. */
  private async activate(connection: ConnectionRecord): Promise<void> {
    const { config } = readConnectionConfig(pullConnectionType(connection.type)!, connection.config);
    await this.schedule(connection, config);
    await this.deps.runner().request(connection.id, 'full', 'activation');
    if (config.push) await this.deps.jobs.send(JOBS.renewChannels, { connection_id: connection.id });
  }

  /**
   * A connection back to active after a successful run: one whose validation had failed on the provider (not
   * its credentials) and was synced by hand never got its schedule; it gets it now, with its channels.
   */
  private async resumeSchedule(connection: ConnectionRecord): Promise<void> {
    const scheduled = await this.deps.database.db.selectFrom('sync_schedules').select('tier').where('connection_id', '=', connection.id).executeTakeFirst();
    if (scheduled) return;
    const { config } = readConnectionConfig(pullConnectionType(connection.type)!, connection.config);
    await this.schedule(connection, config);
    if (config.push) await this.deps.jobs.send(JOBS.renewChannels, { connection_id: connection.id });
  }

  /** Writes the connection's schedule rows; the full tier's first run is the one activation queues. */
  async schedule(connection: ConnectionRecord, config: PullConfig): Promise<void> {
    const now = this.deps.clock().getTime();
    const tiers: Array<[ScheduleTier, number]> = [
      ['critical', config.schedule.critical_seconds],
      ['profile', config.schedule.profile_seconds],
      ['full', config.schedule.full_seconds],
    ];
    // Channels are checked four times per lifetime, so a new one is always open before the old one ends.
    if (config.push) tiers.push(['channels', Math.max(30, Math.floor(config.push_ttl_seconds / 4))]);
    await this.deps.database.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('sync_schedules').where('connection_id', '=', connection.id).execute();
      await tx
        .insertInto('sync_schedules')
        .values(
          tiers.map(([tier, seconds]) => ({
            connection_id: connection.id,
            organization_id: connection.organization_id,
            tier,
            interval_seconds: seconds,
            next_run_at: new Date(now + seconds * 1000).toISOString(),
            last_run_at: null,
          })),
        )
        .execute();
    });
  }

  /**
   * New settings of a connection already scheduled: its tiers take the new intervals from now, and its
   * push channels are opened or stopped as `push` says.
   */
  async reconfigure(connectionId: string): Promise<void> {
    const connection = await this.deps.connections.get(connectionId);
    if (!connection) return;
    const scheduled = await this.deps.database.db.selectFrom('sync_schedules').select('tier').where('connection_id', '=', connectionId).executeTakeFirst();
    if (!scheduled) return;
    const { config } = readConnectionConfig(pullConnectionType(connection.type)!, connection.config);
    await this.schedule(connection, config);
    if (config.push) await this.deps.jobs.send(JOBS.renewChannels, { connection_id: connectionId });
    else await this.stopChannels(connectionId);
  }

  /**
   * Keeps one push channel open: when none outlives the next check, a new one is opened first, then the
   * older ones are stopped (Google channels cannot be renewed in place). `force` replaces them even when
   * they look alive: the provider said it removed one (Graph `subscriptionRemoved`).
   */
  async renewChannels(connectionId: string, options: { force?: boolean } = {}): Promise<void> {
    const { database, runtimes, clock } = this.deps;
    const connection = await this.deps.connections.get(connectionId);
    if (!connection || connection.state !== 'active') return;
    const runtime = await runtimes.get(connectionId);
    const push = runtime.connector.push;
    if (!push || !runtime.config.push) return;
    const now = clock().getTime();
    const ttl = runtime.config.push_ttl_seconds;
    const live = await database.db
      .selectFrom('push_channels')
      .selectAll()
      .where('connection_id', '=', connectionId)
      .where('stopped_at', 'is', null)
      .orderBy('expires_at', 'desc')
      .execute();
    const checkEveryMs = Math.max(30, Math.floor(ttl / 4)) * 1000;
    const newest = live[0];
    if (!options.force && newest && Date.parse(newest.expires_at) > now + 2 * checkEveryMs && (await this.allDeliver(push, live))) return;

    const token = randomBytes(32).toString('base64url');
    const id = newId('pushChannel');
    const opened = await push.open({ id, address: this.deps.pushAddress(connectionId, runtime.type.type), token, ttlSeconds: ttl });
    for (const channel of opened) {
      await database.db
        .insertInto('push_channels')
        .values({
          id: channel.id,
          connection_id: connectionId,
          organization_id: connection.organization_id,
          resource_id: channel.resourceId,
          token_hash: sha256Hex(token),
          expires_at: new Date(channel.expiresAt).toISOString(),
          created_at: clock().toISOString(),
          stopped_at: null,
        })
        .execute();
      this.deps.logger.info({ connection_id: connectionId, channel_id: channel.id, expires_at: new Date(channel.expiresAt).toISOString() }, 'opened a push channel');
    }
    for (const old of live) await this.stopChannel(old.id, old.resource_id, push.close.bind(push));
  }

  /** Channels that never expire are asked whether they still deliver; the others are trusted until they expire. */
  private async allDeliver(push: PushChannels, live: ReadonlyArray<{ id: string; resource_id: string }>): Promise<boolean> {
    if (!push.check) return true;
    for (const channel of live) if (!(await push.check({ id: channel.id, resourceId: channel.resource_id }))) return false;
    return true;
  }

  /** Stops every channel of a connection (paused, deleted, push turned off). */
  async stopChannels(connectionId: string): Promise<void> {
    const live = await this.deps.database.db.selectFrom('push_channels').select(['id', 'resource_id']).where('connection_id', '=', connectionId).where('stopped_at', 'is', null).execute();
    if (live.length === 0) return;
    const push = (await this.deps.runtimes.get(connectionId)).connector.push;
    for (const channel of live) await this.stopChannel(channel.id, channel.resource_id, push ? push.close.bind(push) : async () => undefined);
  }

  private async stopChannel(id: string, resourceId: string, close: (channel: { id: string; resourceId: string }) => Promise<void>): Promise<void> {
    try {
      await close({ id, resourceId });
    } catch (error) {
      // An old channel that cannot be stopped expires by itself; its notifications still verify and are harmless.
      this.deps.logger.warn({ channel_id: id, error: describeSyncError(error) }, 'could not stop a push channel');
    }
    await this.deps.database.db.updateTable('push_channels').set({ stopped_at: this.deps.clock().toISOString() }).where('id', '=', id).execute();
  }

  /**
   * A notification named an object: fetch what the source holds now and reconcile it. Duplicates and
   * reordering are harmless — each fetch reads the current state, and reconciling it again changes nothing.
   */
  async fetchObject(connectionId: string, kind: 'user' | 'group', externalId: string): Promise<void> {
    const connection = await this.deps.connections.get(connectionId);
    if (!connection || !ACCEPTS_RECORDS.includes(connection.state)) return;
    const runtime = await this.deps.runtimes.get(connectionId);
    const record = await runtime.connector.fetchObject(kind, externalId);
    await this.deps.reconciler.apply(connectionId, [record], { tombstone_reason: 'removed_from_source' });
  }

  /** The grant is gone: the connection waits for an admin to consent again (or, never validated, is refused). */
  async onRevoked(connection: ConnectionRecord, error: CredentialsRevokedError): Promise<void> {
    await this.transitionIf(connection.id, ['validating'], 'invalid_credentials', describeSyncError(error));
    await this.transitionIf(connection.id, ['active', 'error'], 'needs_reauth', describeSyncError(error));
  }

  /** The connection's health follows its runs: a failure is an `error` with its reason, a later success clears it. */
  async onRunEnded(run: SyncRunView, outcome: { ok: boolean; error?: unknown }): Promise<void> {
    this.deps.onRunMeasured?.(run);
    if (outcome.ok) {
      const recovered = await this.transitionIf(run.connection_id, ['error'], 'active', null);
      if (recovered) await this.resumeSchedule(recovered);
      return;
    }
    if (isCredentialFailure(outcome.error)) {
      await this.transitionIf(run.connection_id, ['active', 'error'], 'invalid_credentials', describeSyncError(outcome.error));
      return;
    }
    await this.transitionIf(run.connection_id, ['active'], 'error', describeSyncError(outcome.error));
  }

  /** Moves the connection to `to` only from one of `from` (decided on the locked row); the record, or undefined. */
  private async transitionIf(connectionId: string, from: ConnectionState[], to: ConnectionState, reason: string | null): Promise<ConnectionRecord | undefined> {
    let moved = false;
    const record = await this.deps.connections.transition(
      connectionId,
      (current) => {
        moved = from.includes(current.state);
        return moved ? to : current.state;
      },
      { reason },
      this.deps.clock().toISOString(),
      { unchangedIsNoop: true },
    );
    return moved ? record : undefined;
  }
}
