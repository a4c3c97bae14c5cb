import { isGraphSubscriptions, graphNotificationBody, readGraphNotification, type GraphNotification } from '../../connectors/microsoft-graph/graph-subscriptions.ts';
import { ACCEPTS_RECORDS } from '../../core/connection-states.ts';
import { isId } from '../../core/ids.ts';
import type { JobQueue } from '../../jobs/job-queue.ts';
import type { ChannelVerdict, PushChannelsRepo } from '../../store/push-channels.repo.ts';
import type { ConnectionRuntimes } from '../../sync/connection-runtimes.ts';
import { JOBS, OBJECTS_FETCHED_PER_DELIVERY } from '../../sync/pull-connections.ts';
import { describeSyncError } from '../../sync/sync-errors.ts';
import type { SyncRunner } from '../../sync/sync-runner.ts';
import type { FastifyZodInstance } from '../types.ts';

export interface GraphPushRoutesDeps {
  channels: PushChannelsRepo;
  jobs: JobQueue;
  runner: SyncRunner;
  runtimes: ConnectionRuntimes;
  logger: { warn(obj: object, msg: string): void };
}

/** A notification POST holds at most a few hundred small entries. */
const NOTIFICATION_BODY_LIMIT = 256 * 1024;
/** Graph's validation tokens are a sentence and a request id; anything much longer is not one. */
const MAX_VALIDATION_TOKEN = 1024;

/**
 * Where Microsoft Graph delivers change and lifecycle notifications: `/push/{connection_id}/microsoft-graph`
 * (both URLs of every subscription). Public: Graph has no API key. A `validationToken` query is the
 * handshake Graph makes before it creates a subscription, answered with the token as text/plain; every
 * notification entry is authenticated by its subscription (the channel) and clientState (the channel's
 * token), compared in constant time, once per subscription a POST names. The answer is 202 once the work is
 * queued (Graph wants it within 3 s): a user is fetched and reconciled, a group change or a missed
 * notification starts a delta round (one per POST, however many entries ask), a removed subscription makes
 * the channels renew, a reauthorization is made in the background. A POST naming more users than are
 * fetched one by one starts a delta round instead, which reads what changed in one go.
 */
export function registerGraphPushRoutes(server: FastifyZodInstance, deps: GraphPushRoutesDeps): void {
  server.register(async (app) => {
    // The handshake is text/plain with an empty body; a notification is JSON. Neither may fail parsing.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, body === '' ? undefined : JSON.parse(body as string));
      } catch {
        done(null, undefined);
      }
    });
    app.post('/push/:connectionId/microsoft-graph', {
      schema: { hide: true },
      bodyLimit: NOTIFICATION_BODY_LIMIT,
      handler: async (request, reply) => {
        const { connectionId } = request.params as { connectionId: string };
        if (!isId('connection', connectionId)) return reply.code(404).send({ error: { code: 'not_found', message: 'Unknown connection.', details: {} } });
        const { validationToken } = request.query as { validationToken?: unknown };
        if (typeof validationToken === 'string') {
          if (validationToken.length > MAX_VALIDATION_TOKEN) return reply.code(400).send({ error: { code: 'not_a_notification', message: 'Validation token too long.', details: {} } });
          // Graph wants the decoded token back verbatim, as plain text (nosniff: it is never rendered as HTML).
          return reply.code(200).header('content-type', 'text/plain; charset=utf-8').header('x-content-type-options', 'nosniff').send(validationToken);
        }
        const body = graphNotificationBody.safeParse(request.body);
        if (!body.success) return reply.code(400).send({ error: { code: 'not_a_notification', message: 'Not a Microsoft Graph notification.', details: {} } });
        // Entries of one subscription share its verdict: one lookup per subscription, not per entry.
        const verdicts = new Map<string, Promise<ChannelVerdict>>();
        const work: Work = { users: new Set(), delta: false, lifecycle: [] };
        let accepted = 0;
        let refused = 0;
        for (const entry of body.data.value) {
          const notification = readGraphNotification(entry);
          if (!notification) continue;
          const key = `${notification.subscriptionId}\u0000${notification.clientState ?? ''}`;
          let verdict = verdicts.get(key);
          if (!verdict) verdicts.set(key, (verdict = deps.channels.authenticate(connectionId, notification.subscriptionId, notification.clientState)));
          const channel = await verdict;
          if (!channel.ok) {
            refused += 1;
            deps.logger.warn({ connection_id: connectionId, channel_id: notification.subscriptionId }, 'refused a Graph notification with an unknown subscription or a wrong clientState');
            continue;
          }
          accepted += 1;
          // A stopped subscription or a connection not syncing: acknowledged (Graph would retry for hours) and ignored.
          if (channel.stopped || !(ACCEPTS_RECORDS as readonly string[]).includes(channel.connectionState)) continue;
          collect(work, notification);
        }
        await act(deps, connectionId, work);
        if (refused > 0 && accepted === 0) return reply.code(401).send({ error: { code: 'unauthorized', message: 'Unknown subscription or wrong clientState.', details: {} } });
        return reply.code(202).send();
      },
    });
  });
}

/** What one notification POST asks for, deduplicated: it is acted on once the entries are read. */
interface Work {
  users: Set<string>;
  /** A group changed (a notification does not say which members), or notifications were missed. */
  delta: boolean;
  lifecycle: Array<{ subscriptionId: string; lifecycleEvent: string }>;
}

function collect(work: Work, notification: GraphNotification): void {
  if (!('kind' in notification)) {
    work.lifecycle.push(notification);
    // What changed while notifications were lost, or a subscription was gone, comes with a delta round.
    if (notification.lifecycleEvent === 'missed' || notification.lifecycleEvent === 'subscriptionRemoved') work.delta = true;
    return;
  }
  if (notification.kind === 'user') work.users.add(notification.id);
  else work.delta = true;
}

async function act(deps: GraphPushRoutesDeps, connectionId: string, work: Work): Promise<void> {
  const attempt = async (what: () => Promise<unknown>) =>
    what().catch((error: unknown) => deps.logger.warn({ connection_id: connectionId, error: describeSyncError(error) }, 'could not act on a Graph notification'));
  const fetchEach = work.users.size <= OBJECTS_FETCHED_PER_DELIVERY;
  if (fetchEach) for (const id of work.users) await attempt(() => deps.jobs.send(JOBS.fetchObject, { connection_id: connectionId, kind: 'user', external_id: id }));
  for (const { subscriptionId, lifecycleEvent } of work.lifecycle) {
    // Its sibling may look alive: the set is replaced whole.
    if (lifecycleEvent === 'subscriptionRemoved') await attempt(() => deps.jobs.send(JOBS.renewChannels, { connection_id: connectionId, force: true }));
    // Not awaited: the answer must not wait on a call to Graph.
    if (lifecycleEvent === 'reauthorizationRequired') void reauthorize(deps, connectionId, subscriptionId);
  }
  if (work.delta || !fetchEach) await attempt(() => deps.runner.request(connectionId, 'delta', 'push'));
}

async function reauthorize(deps: GraphPushRoutesDeps, connectionId: string, subscriptionId: string): Promise<void> {
  try {
    const push = (await deps.runtimes.get(connectionId)).connector.push;
    if (isGraphSubscriptions(push)) await push.reauthorize(subscriptionId);
  } catch (error) {
    deps.logger.warn({ connection_id: connectionId, channel_id: subscriptionId, error: describeSyncError(error) }, 'could not reauthorize a Graph subscription; renewing the channels instead');
    await deps.jobs.send(JOBS.renewChannels, { connection_id: connectionId }).catch(() => undefined);
  }
}
