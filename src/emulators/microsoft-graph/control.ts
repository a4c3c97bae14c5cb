import type { FaultRule, GraphBehaviours, GraphThrottleRule, ThrottleAnswerShape } from './behaviours.ts';
import { dispatchControl, type ControlRoute } from '../kit/control-routes.ts';
import type { DeltaExpiryMode, DeltaQueries, DeltaSettings, DeltaSwitches } from './delta-query.ts';
import { GraphApiError } from './http-kit.ts';
import type { IdentityPlatform } from './identity-platform.ts';
import type { DeliverySwitches } from '../kit/delivery-queue.ts';
import type { Delivery, DeliveryFailure, NotificationDeliveries, NotificationDeliverySettings } from './notification-delivery.ts';
import type { Handshake, LifecycleEvent, Subscription, Subscriptions } from './subscriptions.ts';
import type { GraphGroup, GraphTenant, GraphUser, GroupInput, UserInput, UserPatch } from './tenant-model.ts';

/** Switches a test flips on a running emulator; the same operations are served under /_emulator/. */
export interface GraphEmulatorControl {
  createUser(input: UserInput): GraphUser;
  updateUser(key: string, patch: UserPatch): GraphUser;
  /** Soft delete (recycle bin; delta `@removed` reason `changed`), or permanent (`deleted`). */
  deleteUser(key: string, permanent?: boolean): GraphUser;
  restoreUser(id: string): GraphUser;
  createGroup(input: GroupInput): GraphGroup;
  updateGroup(id: string, patch: Partial<GroupInput>): GraphGroup;
  deleteGroup(id: string, permanent?: boolean): GraphGroup;
  addMember(groupId: string, memberId: string): void;
  removeMember(groupId: string, memberId: string): void;
  /** The admin replaces the app's client secret: the old one is refused from now on. Answers the new one. */
  rotateClientSecret(): string;
  /** Access tokens already issued stop working (they normally live out their 60–90 minutes). */
  revokeAccessTokens(): number;
  /** A fixed access token lifetime; undefined for Entra's random 60–90 minutes. */
  setAccessTokenTtl(seconds: number | undefined): void;
  setThrottle(rule: GraphThrottleRule | undefined): void;
  setThrottleAnswer(answer: ThrottleAnswerShape): void;
  injectFault(rule: FaultRule): void;
  clearFaults(): void;
  setDeltaSwitches(switches: DeltaSwitches): void;
  configureDelta(settings: Partial<DeltaSettings>): void;
  /** Every delta and skip token issued so far is expired, answered as 410 Gone or syncStateNotFound. */
  expireDeltaTokens(mode?: DeltaExpiryMode): void;
  /** Applies to the first attempt of change notifications; retries and lifecycle events are never switched. */
  setNotificationSwitches(switches: DeliverySwitches): void;
  /** Changes the acknowledgement window or retry schedule; answers the settings now in force. */
  configureNotificationDelivery(settings: Partial<NotificationDeliverySettings>): NotificationDeliverySettings;
  subscriptions(): Subscription[];
  /** Sends a lifecycle notification for a subscription. */
  lifecycle(subscriptionId: string, event: LifecycleEvent): void;
  awaitsReauthorization(subscriptionId: string): boolean;
  handshakes(): readonly Handshake[];
  /** Every attempt the receiver answered (any status), with its attempt number. */
  deliveredNotifications(): readonly Delivery[];
  /** Every attempt that was not acknowledged: the error, when it is retried, or that it was given up. */
  notificationFailures(): readonly DeliveryFailure[];
  /** Resolves once every attempt queued so far is made; retries still waiting for their backoff are not awaited. */
  notificationsIdle(): Promise<void>;
  /** Resolves once every notification is acknowledged or given up, scheduled retries included. */
  notificationsSettled(): Promise<void>;
  advanceTime(ms: number): void;
  /** Clears throttling, faults, latency and switches; notification delivery goes back to its settings at start. */
  reset(): void;
  setLatency(ms: number): void;
  stats(): { throttled: number; faults: Record<string, number>; requests: Record<string, number>; maxInFlight: number; resourceUnits: number; tokenRequests: number };
}

export interface ControlDeps {
  tenant: GraphTenant;
  identity: IdentityPlatform;
  clientId: string;
  behaviours: GraphBehaviours;
  delta: DeltaQueries;
  subscriptions: Subscriptions;
  notifications: NotificationDeliveries;
  advanceTime: (ms: number) => void;
}

export function createControl(deps: ControlDeps): GraphEmulatorControl {
  const { tenant, identity, behaviours, delta, subscriptions, notifications } = deps;
  return {
    createUser: (input) => tenant.createUser(input),
    updateUser: (key, patch) => tenant.updateUser(key, patch),
    deleteUser: (key, permanent = false) => tenant.deleteUser(key, permanent),
    restoreUser: (id) => tenant.restoreUser(id),
    createGroup: (input) => tenant.createGroup(input),
    updateGroup: (id, patch) => tenant.updateGroup(id, patch),
    deleteGroup: (id, permanent = false) => tenant.deleteGroup(id, permanent),
    addMember: (groupId, memberId) => tenant.addMember(groupId, memberId),
    removeMember: (groupId, memberId) => tenant.removeMember(groupId, memberId),
    rotateClientSecret: () => identity.rotateSecret(deps.clientId),
    revokeAccessTokens: () => identity.revokeAccessTokens(),
    setAccessTokenTtl: (seconds) => identity.setAccessTokenTtl(seconds),
    setThrottle: (rule) => behaviours.setThrottle(rule),
    setThrottleAnswer: (answer) => {
      behaviours.throttleAnswer = answer;
    },
    injectFault: (rule) => behaviours.addFault(rule),
    clearFaults: () => behaviours.clearFaults(),
    setDeltaSwitches: (switches) => delta.setSwitches(switches),
    configureDelta: (settings) => delta.configure(settings),
    expireDeltaTokens: (mode) => delta.expireTokens(mode),
    setNotificationSwitches: (switches) => notifications.setSwitches(switches),
    configureNotificationDelivery: (settings) => notifications.configure(settings),
    subscriptions: () => subscriptions.list(),
    lifecycle: (id, event) => subscriptions.lifecycle(id, event),
    awaitsReauthorization: (id) => subscriptions.awaitsReauthorization(id),
    handshakes: () => subscriptions.handshakes,
    deliveredNotifications: () => notifications.delivered,
    notificationFailures: () => notifications.failures,
    notificationsIdle: () => notifications.idle(),
    notificationsSettled: () => notifications.settled(),
    advanceTime: deps.advanceTime,
    reset: () => {
      behaviours.reset();
      delta.setSwitches({});
      notifications.setSwitches({});
      notifications.restoreSettings();
    },
    setLatency: (ms) => {
      behaviours.latencyMs = Math.max(0, ms);
    },
    stats: () => ({ ...behaviours.stats, faults: { ...behaviours.stats.faults }, requests: { ...behaviours.stats.requests }, tokenRequests: identity.tokenRequests }),
  };
}

const str = (value: unknown, name: string): string => {
  if (typeof value !== 'string' || value === '') throw new GraphApiError(400, 'BadRequest', `Required: ${name}`);
  return value;
};

/** HTTP form of the control handle, for emulators started with `roster emulate graph`. Bodies are JSON. */
const CONTROL_ROUTES: ControlRoute<GraphEmulatorControl>[] = [
  { method: 'POST', pattern: '/_emulator/users', handle: (c, body) => c.createUser(body as unknown as UserInput) },
  { method: 'PATCH', pattern: '/_emulator/users/:key', handle: (c, body, p) => c.updateUser(p.key!, body as UserPatch) },
  { method: 'DELETE', pattern: '/_emulator/users/:key', handle: (c, body, p) => c.deleteUser(p.key!, body.permanent === true) },
  { method: 'POST', pattern: '/_emulator/users/:key/restore', handle: (c, _body, p) => c.restoreUser(p.key!) },
  { method: 'POST', pattern: '/_emulator/groups', handle: (c, body) => c.createGroup({ ...(body as Partial<GroupInput>), displayName: str(body.displayName, 'displayName') }) },
  { method: 'PATCH', pattern: '/_emulator/groups/:id', handle: (c, body, p) => c.updateGroup(p.id!, body as Partial<GroupInput>) },
  { method: 'DELETE', pattern: '/_emulator/groups/:id', handle: (c, body, p) => c.deleteGroup(p.id!, body.permanent === true) },
  { method: 'POST', pattern: '/_emulator/groups/:id/members', handle: (c, body, p) => c.addMember(p.id!, str(body.member, 'member')) },
  { method: 'DELETE', pattern: '/_emulator/groups/:id/members/:member', handle: (c, _body, p) => c.removeMember(p.id!, p.member!) },
  { method: 'POST', pattern: '/_emulator/client-secret/rotate', handle: (c) => ({ client_secret: c.rotateClientSecret() }) },
  { method: 'POST', pattern: '/_emulator/access-tokens/revoke', handle: (c) => ({ revoked: c.revokeAccessTokens() }) },
  { method: 'PUT', pattern: '/_emulator/access-token-ttl', handle: (c, body) => c.setAccessTokenTtl(body.seconds === undefined || body.seconds === null ? undefined : Number(body.seconds)) },
  { method: 'PUT', pattern: '/_emulator/throttle', handle: (c, body) => c.setThrottle(body as unknown as GraphThrottleRule) },
  { method: 'DELETE', pattern: '/_emulator/throttle', handle: (c) => c.setThrottle(undefined) },
  { method: 'POST', pattern: '/_emulator/faults', handle: (c, body) => c.injectFault(body as unknown as FaultRule) },
  { method: 'DELETE', pattern: '/_emulator/faults', handle: (c) => c.clearFaults() },
  { method: 'PUT', pattern: '/_emulator/delta', handle: (c, body) => c.configureDelta(body as Partial<DeltaSettings>) },
  { method: 'PUT', pattern: '/_emulator/delta/switches', handle: (c, body) => c.setDeltaSwitches(body as DeltaSwitches) },
  { method: 'POST', pattern: '/_emulator/delta/expire', handle: (c, body) => c.expireDeltaTokens(body.mode as DeltaExpiryMode | undefined) },
  { method: 'PUT', pattern: '/_emulator/notifications', handle: (c, body) => c.setNotificationSwitches(body as DeliverySwitches) },
  { method: 'PUT', pattern: '/_emulator/notifications/delivery', handle: (c, body) => c.configureNotificationDelivery(body as Partial<NotificationDeliverySettings>) },
  { method: 'GET', pattern: '/_emulator/notifications/failures', handle: (c) => c.notificationFailures() },
  { method: 'GET', pattern: '/_emulator/subscriptions', handle: (c) => c.subscriptions() },
  { method: 'POST', pattern: '/_emulator/subscriptions/:id/lifecycle', handle: (c, body, p) => c.lifecycle(p.id!, str(body.event, 'event') as LifecycleEvent) },
  { method: 'GET', pattern: '/_emulator/handshakes', handle: (c) => c.handshakes() },
  { method: 'POST', pattern: '/_emulator/clock/advance', handle: (c, body) => c.advanceTime(Number(body.ms)) },
  { method: 'POST', pattern: '/_emulator/reset', handle: (c) => c.reset() },
  { method: 'GET', pattern: '/_emulator/stats', handle: (c) => c.stats() },
  { method: 'PUT', pattern: '/_emulator/latency', handle: (c, body) => c.setLatency(Number(body.ms)) },
];

export function handleControl(control: GraphEmulatorControl, method: string, path: string, body: Record<string, unknown>): Promise<{ status: number; body: unknown } | undefined> {
  return dispatchControl(CONTROL_ROUTES, control, { method, path, body }, {
    isApiError: (error) => error instanceof GraphApiError,
    asApiError: (message) => {
    const missing = /does not exist|not found/i.test(message);
    return new GraphApiError(missing ? 404 : 400, missing ? 'Request_ResourceNotFound' : 'Request_BadRequest', message);
  },
  });
}
