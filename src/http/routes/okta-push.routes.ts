import { readOktaDelivery } from '../../connectors/okta/okta-event-hooks.ts';
import { ACCEPTS_RECORDS } from '../../core/connection-states.ts';
import { isId } from '../../core/ids.ts';
import type { JobQueue } from '../../jobs/job-queue.ts';
import type { PushChannelsRepo } from '../../store/push-channels.repo.ts';
import type { PushEventsRepo } from '../../store/push-events.repo.ts';
import { JOBS, OBJECTS_FETCHED_PER_DELIVERY } from '../../sync/pull-connections.ts';
import { describeSyncError } from '../../sync/sync-errors.ts';
import type { FastifyZodInstance } from '../types.ts';
import { acceptUnreadableJson } from './notification-body.ts';

export interface OktaPushRoutesDeps {
  channels: PushChannelsRepo;
  /** Event uuids already acted on, shared by every process. */
  events: PushEventsRepo;
  clock: () => Date;
  jobs: JobQueue;
  /** Queues a delta round (`runner.request(id, 'delta', 'push')`), or joins the run under way. */
  requestDelta: (connectionId: string) => Promise<unknown>;
  logger: { warn(obj: object, msg: string): void };
}

/** Okta batches events into a delivery; a few hundred KB holds many. */
const DELIVERY_BODY_LIMIT = 1024 * 1024;
/** Okta's challenge is a short random string; anything longer is not one. */
const MAX_CHALLENGE = 512;

const refuse = (code: string, message: string) => ({ error: { code, message, details: {} } });

/**
 * Where Okta event hooks call: `/push/{connection_id}/okta/{channel_id}`, the path each hook was created
 * with. Public (Okta has no API key), each delivery authenticated by its channel's token, which Okta
 * sends as the Authorization header, compared in constant time.
 *
 * - `GET` with `x-okta-verification-challenge` is the one-time verification, answered
 *   `{"verification": <challenge>}`. It comes while the hook is being created, before its channel is
 *   stored, so it cannot be checked against one; echoing a challenge grants nothing, and every delivery
 *   is checked.
 * - `POST` is a delivery. Users an event names are fetched and reconciled; a membership change queues a
 *   delta round, which lists the changed group's members again, and so does a delivery naming more objects
 *   than are fetched one by one. The answer is 200 once that is queued
 *   (Okta wants one within 3 s). Deliveries are at-least-once and deduplicated by event `uuid`: each is
 *   recorded when acted on (for a day, in the store, so whichever process a redelivery reaches queues
 *   nothing), and forgotten again when it could not be queued, so Okta's retry is acted on. Were one to
 *   slip through, it would still be harmless: a fetch reads the current state, and reconciling it again
 *   changes nothing (DESIGN law 2).
 */
export function registerOktaPushRoutes(server: FastifyZodInstance, deps: OktaPushRoutesDeps): void {
  server.register(async (app) => {
    acceptUnreadableJson(app);

    app.get('/push/:connectionId/okta/:channelId', {
      schema: { hide: true },
      handler: async (request, reply) => {
        const { connectionId, channelId } = request.params as { connectionId: string; channelId: string };
        const challenge = request.headers['x-okta-verification-challenge'];
        if (!isId('connection', connectionId) || !isId('pushChannel', channelId)) return reply.code(404).send(refuse('not_found', 'Unknown event hook.'));
        if (typeof challenge !== 'string' || challenge === '' || challenge.length > MAX_CHALLENGE) {
          return reply.code(400).send(refuse('not_a_verification', 'Not an Okta event hook verification.'));
        }
        return reply.code(200).header('cache-control', 'no-store').send({ verification: challenge });
      },
    });

    app.post('/push/:connectionId/okta/:channelId', {
      schema: { hide: true },
      bodyLimit: DELIVERY_BODY_LIMIT,
      handler: async (request, reply) => {
        const { connectionId, channelId } = request.params as { connectionId: string; channelId: string };
        if (!isId('connection', connectionId) || !isId('pushChannel', channelId)) return reply.code(404).send(refuse('not_found', 'Unknown event hook.'));
        const channel = await deps.channels.authenticate(connectionId, channelId, request.headers.authorization);
        if (!channel.ok) {
          deps.logger.warn({ connection_id: connectionId, channel_id: channelId }, 'refused an Okta event hook delivery with an unknown channel or a wrong Authorization header');
          return reply.code(401).send(refuse('unauthorized', 'Unknown event hook or wrong Authorization header.'));
        }
        const delivery = readOktaDelivery(request.body);
        if (!delivery) return reply.code(400).send(refuse('not_a_delivery', 'Not an Okta event hook delivery.'));
        // A stopped hook or a connection not syncing: acknowledged, so Okta does not retry, and ignored.
        if (channel.stopped || !(ACCEPTS_RECORDS as readonly string[]).includes(channel.connectionState)) return reply.code(200).send();

        const fresh = await deps.events.claim(connectionId, delivery.uuids, deps.clock());
        const users = new Set<string>();
        const groups = new Set<string>();
        let memberships = false;
        for (const event of delivery.events) {
          if (!fresh.has(event.uuid)) continue;
          for (const id of event.changes.users) users.add(id);
          for (const id of event.changes.groups) groups.add(id);
          if (event.changes.memberships.size > 0) memberships = true;
        }
        // A delivery naming many objects (up to 1000 events) is caught up by one delta round.
        const fetchEach = users.size + groups.size <= OBJECTS_FETCHED_PER_DELIVERY;
        try {
          if (fetchEach) {
            for (const id of users) await deps.jobs.send(JOBS.fetchObject, { connection_id: connectionId, kind: 'user', external_id: id });
            for (const id of groups) await deps.jobs.send(JOBS.fetchObject, { connection_id: connectionId, kind: 'group', external_id: id });
          }
          if (memberships || !fetchEach) await deps.requestDelta(connectionId);
        } catch (error) {
          // Polling catches up with whatever could not be queued; Okta retries once on a 5xx, harmlessly.
          deps.logger.warn({ connection_id: connectionId, error: describeSyncError(error) }, 'could not act on an Okta event hook delivery');
          await deps.events.release(connectionId, [...fresh]).catch(() => undefined);
          return reply.code(503).send(refuse('unavailable', 'Could not queue the delivery; retry.'));
        }
        return reply.code(200).send();
      },
    });
  });
}
