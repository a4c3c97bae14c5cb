/**
 * Change notification subscriptions: created only after the validation handshake (Graph POSTs
 * `?validationToken=` to the notification and lifecycle URLs and needs the token echoed as text/plain
 * within 10 s), renewed by PATCH, deleted by DELETE. Changes are POSTed as `{value:[…]}` with the
 * subscription's clientState; lifecycle events (`reauthorizationRequired`, `subscriptionRemoved`,
 * `missed`) on demand. How they are delivered and retried is notification-delivery.ts.
 */
import { randomUUID } from 'node:crypto';
import { GraphApiError } from './http-kit.ts';
import type { NotificationDeliveries } from './notification-delivery.ts';
import type { GraphTenant, TenantChange } from './tenant-model.ts';

/** Users and groups subscriptions may last at most 41,760 minutes (under 29 days). */
export const MAX_SUBSCRIPTION_MINUTES = 41_760;

export type LifecycleEvent = 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed';

export interface Subscription {
  id: string;
  resource: string;
  applicationId: string;
  changeType: string;
  clientState: string | null;
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  expirationDateTime: string;
  creatorId: string;
  includeResourceData: boolean;
  latestSupportedTlsVersion: string;
  encryptionCertificate: null;
  encryptionCertificateId: null;
  notificationQueryOptions: null;
  notificationUrlAppId: null;
}

export interface Handshake {
  url: string;
  token: string;
  ok: boolean;
  reason?: string;
}

export interface SubscriptionOptions {
  tenant: GraphTenant;
  now: () => number;
  clientIdOf: () => string;
  /** Validation answers must arrive within this (Graph: 10 s). */
  validationTimeoutMs?: number;
  /** Real Graph requires HTTPS notification URLs; the emulator accepts http unless told otherwise. */
  requireHttps?: boolean;
  /** Where change and lifecycle notifications are queued for delivery. */
  deliveries: NotificationDeliveries;
}

const RESOURCES = [/^\/?users$/i, /^\/?groups$/i, /^\/?users\/[^/]+$/i, /^\/?groups\/[^/]+$/i, /^\/?groups\/[^/]+\/members$/i];
const CHANGE_TYPES = new Set(['created', 'updated', 'deleted']);

export class Subscriptions {
  private readonly subscriptions = new Map<string, Subscription & { reauthorizationRequired: boolean }>();
  readonly handshakes: Handshake[] = [];
  private readonly unsubscribe: () => void;

  constructor(private readonly options: SubscriptionOptions) {
    this.unsubscribe = options.tenant.onChange((change) => this.onChange(change));
  }

  close(): void {
    this.unsubscribe();
  }

  list(): Subscription[] {
    return [...this.subscriptions.values()].map(({ reauthorizationRequired: _flag, ...subscription }) => subscription);
  }

  get(id: string): Subscription {
    const found = this.subscriptions.get(id);
    if (!found) throw new GraphApiError(404, 'ResourceNotFound', `The object was not found. Subscription '${id}'.`);
    const { reauthorizationRequired: _flag, ...subscription } = found;
    return subscription;
  }

  async create(body: Record<string, unknown>): Promise<Subscription> {
    const text = (name: string, required: boolean) => {
      const value = body[name];
      if (value === undefined || value === null) {
        if (required) throw new GraphApiError(400, 'InvalidRequest', `${name} is a required property for subscription creation.`);
        return null;
      }
      if (typeof value !== 'string') throw new GraphApiError(400, 'InvalidRequest', `Invalid value for ${name}.`);
      return value;
    };
    const changeType = text('changeType', true)!;
    const notificationUrl = text('notificationUrl', true)!;
    const lifecycleNotificationUrl = text('lifecycleNotificationUrl', false);
    const resource = text('resource', true)!;
    const clientState = text('clientState', false);
    const expiration = this.readExpiration(text('expirationDateTime', true)!);
    if (!changeType.split(',').every((type) => CHANGE_TYPES.has(type.trim()))) throw new GraphApiError(400, 'InvalidRequest', `Invalid 'changeType' attribute: '${changeType}'.`);
    if (!RESOURCES.some((pattern) => pattern.test(resource))) throw new GraphApiError(400, 'InvalidRequest', `Resource '${resource}' is not supported.`);
    if (clientState !== null && clientState.length > 128) throw new GraphApiError(400, 'InvalidRequest', 'clientState must not exceed 128 characters.');
    for (const url of [notificationUrl, lifecycleNotificationUrl]) {
      if (url === null) continue;
      const secure = /^https:\/\//i.test(url);
      if (!secure && (this.options.requireHttps || !/^http:\/\//i.test(url))) throw new GraphApiError(400, 'InvalidRequest', `Invalid notification url '${url}'. The url must use https.`);
    }
    // Both URLs must echo a validation token before the subscription exists.
    for (const url of [notificationUrl, lifecycleNotificationUrl]) if (url !== null) await this.validate(url);
    const subscription = {
      id: randomUUID(),
      resource,
      applicationId: this.options.clientIdOf(),
      changeType,
      clientState,
      notificationUrl,
      lifecycleNotificationUrl,
      expirationDateTime: expiration,
      creatorId: randomUUID(),
      includeResourceData: false,
      latestSupportedTlsVersion: 'v1_2',
      encryptionCertificate: null,
      encryptionCertificateId: null,
      notificationQueryOptions: null,
      notificationUrlAppId: null,
      reauthorizationRequired: false,
    } as const;
    this.subscriptions.set(subscription.id, { ...subscription });
    return this.get(subscription.id);
  }

  renew(id: string, body: Record<string, unknown>): Subscription {
    const found = this.subscriptions.get(id);
    if (!found) throw new GraphApiError(404, 'ResourceNotFound', `The object was not found. Subscription '${id}'.`);
    if (typeof body.expirationDateTime !== 'string') throw new GraphApiError(400, 'InvalidRequest', 'expirationDateTime is required.');
    found.expirationDateTime = this.readExpiration(body.expirationDateTime);
    return this.get(id);
  }

  delete(id: string): void {
    if (!this.subscriptions.delete(id)) throw new GraphApiError(404, 'ResourceNotFound', `The object was not found. Subscription '${id}'.`);
  }

  reauthorize(id: string): void {
    const found = this.subscriptions.get(id);
    if (!found) throw new GraphApiError(404, 'ResourceNotFound', `The object was not found. Subscription '${id}'.`);
    found.reauthorizationRequired = false;
  }

  /** Whether a reauthorizationRequired event is still unanswered by a reauthorize call. */
  awaitsReauthorization(id: string): boolean {
    return this.subscriptions.get(id)?.reauthorizationRequired === true;
  }

  /** Sends a lifecycle event to the subscription's lifecycle URL; `subscriptionRemoved` also removes it. */
  lifecycle(id: string, event: LifecycleEvent): void {
    const found = this.subscriptions.get(id);
    if (!found) throw new Error(`Subscription '${id}' not found`);
    if (!found.lifecycleNotificationUrl) throw new Error(`Subscription '${id}' has no lifecycleNotificationUrl`);
    if (event === 'reauthorizationRequired') found.reauthorizationRequired = true;
    if (event === 'subscriptionRemoved') this.subscriptions.delete(id);
    const body = JSON.stringify({
      value: [
        {
          subscriptionId: found.id,
          subscriptionExpirationDateTime: found.expirationDateTime,
          tenantId: this.options.tenant.tenantId,
          clientState: found.clientState,
          lifecycleEvent: event,
          resource: found.resource,
          organizationId: this.options.tenant.tenantId,
        },
      ],
    });
    this.options.deliveries.enqueue({ url: found.lifecycleNotificationUrl, body, kind: 'lifecycle' }, false);
  }

  private readExpiration(value: string): string {
    const at = Date.parse(value);
    const now = this.options.now();
    if (!Number.isFinite(at)) throw new GraphApiError(400, 'InvalidRequest', `Invalid expirationDateTime '${value}'.`);
    if (at <= now) throw new GraphApiError(400, 'InvalidRequest', 'Subscription expiration must be in the future.');
    if (at > now + MAX_SUBSCRIPTION_MINUTES * 60_000) throw new GraphApiError(400, 'InvalidRequest', `Subscription expiration can only be ${MAX_SUBSCRIPTION_MINUTES} minutes in the future.`);
    return new Date(at).toISOString().replace(/\.\d{3}Z$/, '.0000000Z');
  }

  private async validate(url: string): Promise<void> {
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    const target = new URL(url);
    target.searchParams.set('validationToken', token);
    const timeoutMs = this.options.validationTimeoutMs ?? 10_000;
    let reason: string | undefined;
    try {
      const response = await fetch(target, { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, signal: AbortSignal.timeout(timeoutMs) });
      const text = await response.text();
      if (response.status !== 200) reason = `answered ${response.status}`;
      else if (!(response.headers.get('content-type') ?? '').toLowerCase().startsWith('text/plain')) reason = 'answered without Content-Type text/plain';
      else if (text !== token) reason = 'answered a body other than the validation token';
    } catch (error) {
      reason = error instanceof Error && error.name === 'TimeoutError' ? `did not answer within ${timeoutMs} ms` : 'could not be reached';
    }
    this.handshakes.push({ url, token, ok: reason === undefined, ...(reason ? { reason } : {}) });
    if (reason) throw new GraphApiError(400, 'ValidationError', `Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request (${reason}).`);
  }

  private matches(subscription: Subscription, change: TenantChange): boolean {
    const resource = subscription.resource.replace(/^\//, '').toLowerCase();
    const types = subscription.changeType.split(',').map((type) => type.trim());
    // Membership changes are `updated` on the group; Graph reports a creation of a user as `updated` unless `created` is asked for.
    const changeType = types.includes(change.changeType) ? change.changeType : change.changeType === 'created' && types.includes('updated') ? 'updated' : undefined;
    if (changeType === undefined) return false;
    if (resource === change.resource) return true;
    if (resource === `${change.resource}/${change.id.toLowerCase()}`) return true;
    return change.members === true && resource === `groups/${change.id.toLowerCase()}/members`;
  }

  private onChange(change: TenantChange): void {
    const now = this.options.now();
    for (const subscription of this.subscriptions.values()) {
      if (Date.parse(subscription.expirationDateTime) <= now) {
        this.subscriptions.delete(subscription.id);
        continue;
      }
      if (!this.matches(subscription, change)) continue;
      const types = subscription.changeType.split(',').map((type) => type.trim());
      const changeType = types.includes(change.changeType) ? change.changeType : 'updated';
      const path = `${change.resource === 'users' ? 'Users' : 'Groups'}/${change.id}`;
      const body = JSON.stringify({
        value: [
          {
            id: randomUUID(),
            subscriptionId: subscription.id,
            subscriptionExpirationDateTime: subscription.expirationDateTime,
            clientState: subscription.clientState,
            changeType,
            resource: path,
            tenantId: this.options.tenant.tenantId,
            resourceData: { '@odata.type': `#Microsoft.Graph.${change.resource === 'users' ? 'User' : 'Group'}`, '@odata.id': path, id: change.id, organizationId: this.options.tenant.tenantId },
          },
        ],
      });
      this.options.deliveries.enqueue({ url: subscription.notificationUrl, body, kind: 'change' }, true);
    }
  }
}
