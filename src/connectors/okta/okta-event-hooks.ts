import { z } from 'zod';
import type { ProviderHttpClient } from '../../sync/http/provider-http-client.ts';
import type { OpenedChannel, PushChannels } from '../connector.ts';
import { collectChanges, emptyChanges, OKTA_CHANGE_EVENT_TYPES, type NamedChanges } from './okta-system-log.ts';

/**
 * Okta event hooks as push channels. Opening one creates a hook whose Authorization header is the channel
 * token and whose URI names the channel (`…/push/{connection}/okta/{channel}`: a hook cannot add anything
 * of its own to a delivery, so the path is how the receiver knows which channel's token to check), then
 * asks Okta to verify it, which Okta does by calling the receiver with a challenge before it answers.
 * Hooks do not expire; closing one deactivates and deletes it.
 */

/** Hooks live until deleted; the channel's expiry is set far enough that the engine never replaces it. */
const HOOK_LIFETIME_MS = 10 * 365 * 24 * 3600_000;

const hookResponse = z.object({ id: z.string().min(1), verificationStatus: z.string().optional() });
const hookStatus = z.object({ status: z.string(), verificationStatus: z.string().optional() });

export function oktaEventHooks(http: ProviderHttpClient, apiBaseUrl: string, now: () => number = Date.now): PushChannels {
  const json = { 'content-type': 'application/json', accept: 'application/json' };
  const remove = async (hookId: string, signal?: AbortSignal) => {
    const hook = `${apiBaseUrl}/eventHooks/${encodeURIComponent(hookId)}`;
    // A hook already gone is what closing wants; Okta deletes only a deactivated hook.
    await http.request({ method: 'POST', url: `${hook}/lifecycle/deactivate`, headers: json, acceptStatuses: [404], ...(signal ? { signal } : {}) });
    await http.request({ method: 'DELETE', url: hook, headers: { accept: 'application/json' }, acceptStatuses: [404], ...(signal ? { signal } : {}) });
  };
  return {
    open: async ({ id, address, token }, signal) => {
      const created = await http.request({
        method: 'POST',
        url: `${apiBaseUrl}/eventHooks`,
        headers: json,
        body: JSON.stringify({
          name: `Roster ${id}`,
          events: { type: 'EVENT_TYPE', items: OKTA_CHANGE_EVENT_TYPES },
          channel: { type: 'HTTP', version: '1.0.0', config: { uri: `${address}/${encodeURIComponent(id)}`, headers: [], authScheme: { type: 'HEADER', key: 'Authorization', value: token } } },
        }),
        ...(signal ? { signal } : {}),
      });
      const hook = hookResponse.parse(created.json());
      try {
        const verified = hookResponse.parse((await http.request({ method: 'POST', url: `${apiBaseUrl}/eventHooks/${encodeURIComponent(hook.id)}/lifecycle/verify`, headers: json, ...(signal ? { signal } : {}) })).json());
        if (verified.verificationStatus !== undefined && verified.verificationStatus !== 'VERIFIED') throw new Error(`event hook ${hook.id} is ${verified.verificationStatus}`);
      } catch (error) {
        // An unverified hook delivers nothing: it is not left behind.
        await remove(hook.id, signal).catch(() => undefined);
        throw error;
      }
      return [{ id, resourceId: hook.id, expiresAt: now() + HOOK_LIFETIME_MS } satisfies OpenedChannel];
    },
    close: async ({ resourceId }, signal) => remove(resourceId, signal),
    // An admin can delete or deactivate a hook in Okta; hooks never expire, so only asking tells.
    check: async ({ resourceId }, signal) => {
      const answer = await http.request({ url: `${apiBaseUrl}/eventHooks/${encodeURIComponent(resourceId)}`, headers: { accept: 'application/json' }, acceptStatuses: [404], ...(signal ? { signal } : {}) });
      if (answer.status === 404) return false;
      const hook = hookStatus.parse(answer.json());
      return hook.status === 'ACTIVE' && hook.verificationStatus === 'VERIFIED';
    },
  };
}

const deliveryBody = z.object({
  eventType: z.literal('com.okta.event_hook'),
  data: z.object({ events: z.array(z.object({ uuid: z.string().min(1).max(100) }).passthrough()).max(1000) }),
});

export interface OktaDelivery {
  /** Every event's uuid, the key Okta's at-least-once deliveries are deduplicated by. */
  uuids: string[];
  /** Per event uuid, what it names. */
  events: Array<{ uuid: string; changes: NamedChanges }>;
}

/** Reads an event hook delivery; undefined when the body is not one. */
export function readOktaDelivery(body: unknown): OktaDelivery | undefined {
  const parsed = deliveryBody.safeParse(body);
  if (!parsed.success) return undefined;
  const events = parsed.data.data.events.map((event) => {
    const changes = emptyChanges();
    collectChanges(changes, event);
    return { uuid: event.uuid, changes };
  });
  return { uuids: events.map((event) => event.uuid), events };
}
