import { readGoogleNotification } from '../../connectors/google/google-watch-channels.ts';
import { ACCEPTS_RECORDS } from '../../core/connection-states.ts';
import { isId } from '../../core/ids.ts';
import type { JobQueue } from '../../jobs/job-queue.ts';
import type { PushChannelsRepo } from '../../store/push-channels.repo.ts';
import { JOBS } from '../../sync/pull-connections.ts';
import type { FastifyZodInstance } from '../types.ts';
import { acceptUnreadableJson } from './notification-body.ts';

export interface PushRoutesDeps {
  channels: PushChannelsRepo;
  jobs: JobQueue;
  logger: { warn(obj: object, msg: string): void };
}

/** Notifications are small; anything larger is not one. */
const NOTIFICATION_BODY_LIMIT = 64 * 1024;

/**
 * Where providers deliver change notifications: `/push/{connection_id}/google-workspace`. Public (the
 * provider has no API key); each notification is authenticated by the token of the channel it names,
 * compared in constant time. A notification only says something changed: the object is fetched and
 * reconciled in the background, so a duplicate or a late one is harmless.
 */
export function registerPushRoutes(server: FastifyZodInstance, deps: PushRoutesDeps): void {
  server.register(async (app) => {
    acceptUnreadableJson(app);
    registerGoogleReceiver(app as FastifyZodInstance, deps);
  });
}

function registerGoogleReceiver(app: FastifyZodInstance, deps: PushRoutesDeps): void {
  app.post('/push/:connectionId/google-workspace', {
    schema: { hide: true },
    bodyLimit: NOTIFICATION_BODY_LIMIT,
    handler: async (request, reply) => {
      const { connectionId } = request.params as { connectionId: string };
      const notification = readGoogleNotification(request.headers, request.body);
      if (!notification || !isId('connection', connectionId)) return reply.code(400).send({ error: { code: 'not_a_notification', message: 'Not a Google push notification.', details: {} } });
      const channel = await deps.channels.authenticate(connectionId, notification.channelId, notification.token);
      if (!channel.ok) {
        deps.logger.warn({ connection_id: connectionId, channel_id: notification.channelId }, 'refused a push notification with an unknown channel or a wrong token');
        return reply.code(401).send({ error: { code: 'unauthorized', message: 'Unknown channel or wrong channel token.', details: {} } });
      }
      // A stopped channel or a connection not syncing: acknowledged, so the provider does not retry, and ignored.
      const syncing = (ACCEPTS_RECORDS as readonly string[]).includes(channel.connectionState);
      if (notification.state === 'sync' || channel.stopped || !syncing || !('userId' in notification)) return reply.code(200).send();
      await deps.jobs.send(JOBS.fetchObject, { connection_id: connectionId, kind: 'user', external_id: notification.userId });
      return reply.code(200).send();
    },
  });
}
