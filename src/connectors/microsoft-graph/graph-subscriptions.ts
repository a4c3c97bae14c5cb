import { z } from 'zod';
import type { ProviderHttpClient } from '../../sync/http/provider-http-client.ts';
import type { OpenedChannel, PushChannels } from '../connector.ts';

/**
 * Graph change notifications (hook graph.changeNotifications): one subscription per collection, `/users`
 * and `/groups`, the engine's channel token as their `clientState` (Graph signs nothing; the clientState
 * is what authenticates a notification). Graph validates both URLs before answering 201, so the receiver
 * must already answer the handshake. Renewal is the engine's: new subscriptions first, then the old ones
 * deleted.
 */

/** Users and groups subscriptions last at most 41,760 minutes; a minute is kept for clock skew. */
export const MAX_SUBSCRIPTION_SECONDS = (41_760 - 1) * 60;

export const SUBSCRIBED_RESOURCES = ['/users', '/groups'] as const;

export interface GraphSubscriptions extends PushChannels {
  /** Answers a `reauthorizationRequired` lifecycle event: the subscription keeps delivering. */
  reauthorize(subscriptionId: string, signal?: AbortSignal): Promise<void>;
}

const subscriptionResponse = z.object({ id: z.string().min(1), resource: z.string(), expirationDateTime: z.string() });

export function graphSubscriptions(http: ProviderHttpClient, baseUrl: string, clock: () => number = Date.now): GraphSubscriptions {
  const remove = async (id: string, signal?: AbortSignal) => {
    await http.request({
      method: 'DELETE',
      url: `${baseUrl}/subscriptions/${encodeURIComponent(id)}`,
      // A subscription already gone (expired, removed by Graph) is what deleting wants.
      acceptStatuses: [404],
      ...(signal ? { signal } : {}),
    });
  };

  return {
    open: async ({ address, token, ttlSeconds }, signal) => {
      const expiration = new Date(clock() + Math.min(ttlSeconds, MAX_SUBSCRIPTION_SECONDS) * 1000).toISOString();
      const opened: OpenedChannel[] = [];
      try {
        for (const resource of SUBSCRIBED_RESOURCES) {
          const response = await http.request({
            method: 'POST',
            url: `${baseUrl}/subscriptions`,
            headers: { 'content-type': 'application/json', accept: 'application/json' },
            body: JSON.stringify({
              // A soft delete or a restore is an update; `deleted` is asked for too, where Graph reports it apart.
              changeType: 'updated,deleted',
              notificationUrl: address,
              lifecycleNotificationUrl: address,
              resource,
              expirationDateTime: expiration,
              clientState: token,
            }),
            ...(signal ? { signal } : {}),
          });
          const subscription = subscriptionResponse.parse(response.json());
          opened.push({ id: subscription.id, resourceId: resource, expiresAt: Date.parse(subscription.expirationDateTime) });
        }
      } catch (error) {
        // Half a set would be stored by nobody and notify until it expires: take it back.
        for (const channel of opened) await remove(channel.id).catch(() => undefined);
        throw error;
      }
      return opened;
    },
    close: ({ id }, signal) => remove(id, signal),
    reauthorize: async (subscriptionId, signal) => {
      await http.request({ method: 'POST', url: `${baseUrl}/subscriptions/${encodeURIComponent(subscriptionId)}/reauthorize`, ...(signal ? { signal } : {}) });
    },
  };
}

export function isGraphSubscriptions(push: PushChannels | undefined): push is GraphSubscriptions {
  return typeof (push as Partial<GraphSubscriptions> | undefined)?.reauthorize === 'function';
}

const changeNotification = z.object({
  subscriptionId: z.string().min(1).max(200),
  clientState: z.string().max(256).nullish(),
  changeType: z.string().optional(),
  resource: z.string().max(2048).optional(),
  resourceData: z.object({ id: z.string().min(1).max(512), '@odata.type': z.string().optional() }).passthrough().optional(),
  lifecycleEvent: z.string().optional(),
});

export const graphNotificationBody = z.object({ value: z.array(z.unknown()).min(1).max(1000) });

/** What one entry of a notification POST says. */
export type GraphNotification =
  | { subscriptionId: string; clientState: string | undefined; lifecycleEvent: string }
  | { subscriptionId: string; clientState: string | undefined; kind: 'user' | 'group'; id: string };

/** Reads an entry; undefined when it is none (no subscription id, or a change naming no user or group). */
export function readGraphNotification(entry: unknown): GraphNotification | undefined {
  const parsed = changeNotification.safeParse(entry);
  if (!parsed.success) return undefined;
  const { subscriptionId, lifecycleEvent, resourceData, resource } = parsed.data;
  const clientState = parsed.data.clientState ?? undefined;
  if (lifecycleEvent) return { subscriptionId, clientState, lifecycleEvent };
  if (!resourceData) return undefined;
  const type = `${resourceData['@odata.type'] ?? ''} ${resource ?? ''}`.toLowerCase();
  const kind = type.includes('user') ? 'user' : type.includes('group') ? 'group' : undefined;
  return kind ? { subscriptionId, clientState, kind, id: resourceData.id } : undefined;
}
