import { z } from 'zod';
import type { ProviderHttpClient } from '../../sync/http/provider-http-client.ts';
import type { OpenedChannel, PushChannels } from '../connector.ts';

/**
 * Google's push channels for users (users.watch): a channel lives for a TTL (at most two days) and cannot
 * be renewed, so the engine opens a new one before expiry and then stops the old one. Notifications carry
 * no signature; the channel token we chose, echoed in `X-Goog-Channel-Token`, is what authenticates them.
 */
export function googleWatchChannels(http: ProviderHttpClient, baseUrl: string): PushChannels {
  return {
    open: async ({ id, address, token, ttlSeconds }, signal) => {
      const url = new URL(`${baseUrl}/users/watch`);
      url.searchParams.set('customer', 'my_customer');
      const response = await http.request({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ id, type: 'web_hook', address, token, params: { ttl: String(ttlSeconds) } }),
        ...(signal ? { signal } : {}),
      });
      const channel = channelResponse.parse(response.json());
      return [{ id: channel.id, resourceId: channel.resourceId, expiresAt: Number(channel.expiration) } satisfies OpenedChannel];
    },
    close: async ({ id, resourceId }, signal) => {
      // Note the underscore: channels/stop lives under directory_v1, beside (not under) the v1 base,
      // and under whatever path the base URL has before it (a proxy's prefix).
      const url = channelsStopUrl(baseUrl);
      await http.request({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, resourceId }),
        // A channel already gone (expired, stopped) is what closing wants.
        acceptStatuses: [404],
        ...(signal ? { signal } : {}),
      });
    },
  };
}

const channelResponse = z.object({ id: z.string().min(1), resourceId: z.string().min(1), expiration: z.union([z.string().regex(/^\d+$/), z.number()]) });

/** What one Google notification says, read from its headers and body. */
export type GoogleNotification =
  | { channelId: string; token: string | undefined; state: 'sync' }
  | { channelId: string; token: string | undefined; state: string; userId: string };

const notificationBody = z.object({ id: z.string().min(1).max(512) });

/** Reads a notification; undefined when it is not one (no channel id, or a change without a user id). */
export function readGoogleNotification(headers: Readonly<Record<string, string | string[] | undefined>>, body: unknown): GoogleNotification | undefined {
  const header = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const channelId = header('x-goog-channel-id');
  const state = header('x-goog-resource-state');
  if (!channelId || !state) return undefined;
  const token = header('x-goog-channel-token');
  // The first message of every channel is the `sync` handshake, with no body.
  if (state === 'sync') return { channelId, token, state };
  const parsed = notificationBody.safeParse(body);
  return parsed.success ? { channelId, token, state, userId: parsed.data.id } : undefined;
}

/** `…/admin/directory/v1` → `…/admin/directory_v1/channels/stop`, keeping the base URL's origin and any prefix. */
export function channelsStopUrl(baseUrl: string): URL {
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '').replace(/\/admin\/directory\/v1$/, '');
  return new URL(`${prefix}/admin/directory_v1/channels/stop`, base.origin);
}
