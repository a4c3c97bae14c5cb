import { randomBytes } from 'node:crypto';
import { DeliveryQueue, type DeliverySwitches } from '../kit/delivery-queue.ts';
import { GoogleApiError } from './http-kit.ts';
import type { GoogleOrg, UserChange, UserChangeKind } from './org-model.ts';

const DEFAULT_TTL_S = 2 * 3600;
const MAX_TTL_S = 2 * 24 * 3600;

export interface WatchChannel {
  kind: 'api#channel';
  id: string;
  resourceId: string;
  resourceUri: string;
  token?: string;
  /** Unix ms as a string: Google renders int64 fields as JSON strings. */
  expiration: string;
}

interface ChannelState {
  channel: WatchChannel;
  address: string;
  event: UserChangeKind | undefined;
  expiresAt: number;
  nextMessage: number;
}

export type { DeliverySwitches } from '../kit/delivery-queue.ts';

export interface Notification {
  channelId: string;
  address: string;
  headers: Record<string, string>;
  body: string;
}

export interface ChannelOptions {
  org: GoogleOrg;
  now: () => number;
  resourceUriBase: () => string;
  /** Sends one notification; the default POSTs with fetch. Failures are recorded, never thrown. */
  send?: (notification: Notification) => Promise<void>;
}

async function postNotification(notification: Notification): Promise<void> {
  await fetch(notification.address, { method: 'POST', headers: notification.headers, body: notification.body, signal: AbortSignal.timeout(10_000) });
}

export class WatchChannels {
  private readonly channels = new Map<string, ChannelState>();
  private readonly deliveries = new DeliveryQueue<Notification>((notification) => this.deliver(notification), 0x9e3779b9);
  readonly delivered: Notification[] = [];
  readonly failures: { notification: Notification; error: string }[] = [];
  private readonly unsubscribe: () => void;

  constructor(private readonly options: ChannelOptions) {
    this.unsubscribe = options.org.onUserChange((change) => this.onChange(change));
  }

  close(): void {
    this.unsubscribe();
  }

  setSwitches(switches: DeliverySwitches): void {
    this.deliveries.setSwitches(switches);
  }

  /** users.watch: validates the request body and sends the initial `sync` message. */
  create(body: Record<string, unknown>, query: URLSearchParams): WatchChannel {
    const id = typeof body.id === 'string' ? body.id : '';
    const address = typeof body.address === 'string' ? body.address : '';
    if (!id) throw new GoogleApiError(400, 'required', 'Required: channel id');
    if (body.type !== 'web_hook') throw new GoogleApiError(400, 'invalid', 'Invalid value for: type');
    if (!/^https?:\/\//.test(address)) throw new GoogleApiError(400, 'push.webhookUrlNotHttps', 'WebHook callback must be HTTPS: ' + address);
    if (this.channels.has(id)) throw new GoogleApiError(400, 'channelIdNotUnique', 'Channel id not unique');
    const params = (body.params ?? {}) as Record<string, unknown>;
    const ttl = params.ttl === undefined ? DEFAULT_TTL_S : Number(params.ttl);
    if (!Number.isFinite(ttl) || ttl <= 0) throw new GoogleApiError(400, 'invalid', 'Invalid value for: params.ttl');
    const event = query.get('event') ?? undefined;
    if (event && !['add', 'delete', 'makeAdmin', 'undelete', 'update'].includes(event)) throw new GoogleApiError(400, 'invalid', `Invalid value for: event ${event}`);
    const expiresAt = this.options.now() + Math.min(ttl, MAX_TTL_S) * 1000;
    const resourceQuery = new URLSearchParams({ alt: 'json', customer: query.get('customer') ?? 'my_customer', ...(event ? { event } : {}) });
    const channel: WatchChannel = {
      kind: 'api#channel',
      id,
      resourceId: randomBytes(15).toString('base64url'),
      resourceUri: `${this.options.resourceUriBase()}/admin/directory/v1/users?${resourceQuery}`,
      ...(typeof body.token === 'string' ? { token: body.token } : {}),
      expiration: String(expiresAt),
    };
    const state: ChannelState = { channel, address, event: event as UserChangeKind | undefined, expiresAt, nextMessage: 1 };
    this.channels.set(id, state);
    // The sync message is the handshake; it is never dropped or reordered.
    this.deliveries.enqueue(this.build(state, 'sync', undefined), false);
    return channel;
  }

  stop(body: Record<string, unknown>): void {
    const state = typeof body.id === 'string' ? this.channels.get(body.id) : undefined;
    if (!state || state.channel.resourceId !== body.resourceId) throw new GoogleApiError(404, 'notFound', `Channel '${String(body.id)}' not found for project`);
    this.channels.delete(state.channel.id);
  }

  list(): WatchChannel[] {
    return [...this.channels.values()].map((state) => state.channel);
  }

  /** Resolves when every queued notification has been attempted. */
  idle(): Promise<void> {
    return this.deliveries.idle();
  }

  private onChange(change: UserChange): void {
    for (const state of this.channels.values()) {
      if (state.expiresAt <= this.options.now()) {
        this.channels.delete(state.channel.id);
        continue;
      }
      if (state.event && state.event !== change.kind) continue;
      this.deliveries.enqueue(this.build(state, change.kind, change), true);
    }
  }

  private build(state: ChannelState, resourceState: string, change: UserChange | undefined): Notification {
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=UTF-8',
      'x-goog-channel-id': state.channel.id,
      'x-goog-channel-expiration': new Date(state.expiresAt).toUTCString(),
      'x-goog-resource-id': state.channel.resourceId,
      'x-goog-resource-uri': state.channel.resourceUri,
      'x-goog-resource-state': resourceState,
      'x-goog-message-number': String(state.nextMessage),
    };
    state.nextMessage += 1;
    if (state.channel.token !== undefined) headers['x-goog-channel-token'] = state.channel.token;
    const body = change ? JSON.stringify({ kind: 'admin#directory#user', id: change.user.id, etag: change.user.etag, primaryEmail: change.user.primaryEmail }) : '';
    return { channelId: state.channel.id, address: state.address, headers, body };
  }

  private async deliver(notification: Notification): Promise<void> {
    try {
      await (this.options.send ?? postNotification)(notification);
      this.delivered.push(notification);
    } catch (error) {
      this.failures.push({ notification, error: error instanceof Error ? error.message : String(error) });
    }
  }
}
