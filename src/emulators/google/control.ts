import type { Behaviours, FaultRule, ThrottleRule } from './behaviours.ts';
import { dispatchControl, type ControlRoute } from '../kit/control-routes.ts';
import { GoogleApiError } from './http-kit.ts';
import type { OAuthAuthority } from './oauth.ts';
import type { GoogleGroup, GoogleOrg, GoogleUser, MemberRole, StoredMember, UserInput, UserPatch } from './org-model.ts';
import type { DeliverySwitches, Notification, WatchChannel, WatchChannels } from './watch-channels.ts';

/** Switches a test flips on a running emulator; the same operations are served under /_emulator/. */
export interface GoogleEmulatorControl {
  createUser(input: UserInput): GoogleUser;
  updateUser(key: string, patch: UserPatch): GoogleUser;
  suspendUser(key: string, suspended?: boolean): GoogleUser;
  deleteUser(key: string): GoogleUser;
  undeleteUser(id: string): GoogleUser;
  /** A deleted user past Google's recovery window: no longer listed, even with showDeleted. */
  purgeUser(key: string): void;
  /** Changes lastLoginTime (and so the etag) without a profile change. */
  touchLastLogin(key: string): GoogleUser;
  createGroup(input: { email: string; name?: string; description?: string }): GoogleGroup;
  addMember(groupKey: string, memberKey: string, role?: MemberRole): StoredMember;
  removeMember(groupKey: string, memberKey: string): void;
  revokeRefreshToken(token: string): boolean;
  /** Deletes a service account's key: its JWT-bearer grants answer invalid_grant from then on. */
  deleteServiceAccountKey(email: string): boolean;
  revokeAllRefreshTokens(): number;
  setAccessTokenTtl(seconds: number): void;
  setThrottle(rule: ThrottleRule | undefined): void;
  injectFault(rule: FaultRule): void;
  clearFaults(): void;
  setNotificationSwitches(switches: DeliverySwitches): void;
  /** Waits until every queued push notification has been attempted. */
  notificationsIdle(): Promise<void>;
  channels(): WatchChannel[];
  deliveredNotifications(): readonly Notification[];
  /** Moves the emulator's clock forward (token, page-token and channel expiry). */
  advanceTime(ms: number): void;
  /** Clears throttling, faults and delivery switches. */
  reset(): void;
  /** Adds this delay to every API call (0 to stop). */
  setLatency(ms: number): void;
  stats(): { throttled: number; faults: Record<string, number>; requests: Record<string, number>; maxInFlight: number };
}

export interface ControlDeps {
  org: GoogleOrg;
  oauth: OAuthAuthority;
  behaviours: Behaviours;
  channels: WatchChannels;
  advanceTime: (ms: number) => void;
}

export function createControl(deps: ControlDeps): GoogleEmulatorControl {
  const { org, oauth, behaviours, channels } = deps;
  return {
    createUser: (input) => org.createUser(input),
    updateUser: (key, patch) => org.updateUser(key, patch),
    suspendUser: (key, suspended = true) => org.suspendUser(key, suspended),
    deleteUser: (key) => org.deleteUser(key),
    undeleteUser: (id) => org.undeleteUser(id),
    purgeUser: (key) => org.purgeUser(key),
    touchLastLogin: (key) => org.touchLastLogin(key),
    createGroup: (input) => org.createGroup(input),
    addMember: (groupKey, memberKey, role) => org.addMember(groupKey, memberKey, role),
    removeMember: (groupKey, memberKey) => org.removeMember(groupKey, memberKey),
    revokeRefreshToken: (token) => oauth.revokeRefreshToken(token),
    deleteServiceAccountKey: (email) => oauth.deleteServiceAccountKey(email),
    revokeAllRefreshTokens: () => oauth.revokeAllRefreshTokens(),
    setAccessTokenTtl: (seconds) => oauth.setAccessTokenTtl(seconds),
    setThrottle: (rule) => behaviours.setThrottle(rule),
    injectFault: (rule) => behaviours.addFault(rule),
    clearFaults: () => behaviours.clearFaults(),
    setNotificationSwitches: (switches) => channels.setSwitches(switches),
    notificationsIdle: () => channels.idle(),
    channels: () => channels.list(),
    deliveredNotifications: () => channels.delivered,
    advanceTime: deps.advanceTime,
    reset: () => {
      behaviours.reset();
      channels.setSwitches({});
    },
    setLatency: (ms) => {
      behaviours.latencyMs = Math.max(0, ms);
    },
    stats: () => ({
      throttled: behaviours.stats.throttled,
      faults: { ...behaviours.stats.faults },
      requests: { ...behaviours.stats.requests },
      maxInFlight: behaviours.stats.maxInFlight,
    }),
  };
}

const str = (value: unknown, name: string): string => {
  if (typeof value !== 'string' || value === '') throw new GoogleApiError(400, 'required', `Required: ${name}`);
  return value;
};

/** HTTP form of the control handle, for emulators started with the CLI. Bodies are JSON. */
const CONTROL_ROUTES: ControlRoute<GoogleEmulatorControl>[] = [
  { method: 'POST', pattern: '/_emulator/users', handle: (c, body) => c.createUser(body as unknown as UserInput) },
  { method: 'PATCH', pattern: '/_emulator/users/:key', handle: (c, body, p) => c.updateUser(p.key!, body as UserPatch) },
  { method: 'DELETE', pattern: '/_emulator/users/:key', handle: (c, _body, p) => c.deleteUser(p.key!) },
  { method: 'POST', pattern: '/_emulator/users/:key/undelete', handle: (c, _body, p) => c.undeleteUser(p.key!) },
  { method: 'POST', pattern: '/_emulator/users/:key/purge', handle: (c, _body, p) => c.purgeUser(p.key!) },
  { method: 'POST', pattern: '/_emulator/users/:key/suspend', handle: (c, body, p) => c.suspendUser(p.key!, body.suspended !== false) },
  { method: 'POST', pattern: '/_emulator/users/:key/touch-login', handle: (c, _body, p) => c.touchLastLogin(p.key!) },
  { method: 'POST', pattern: '/_emulator/groups', handle: (c, body) => c.createGroup({ email: str(body.email, 'email'), ...(typeof body.name === 'string' ? { name: body.name } : {}) }) },
  { method: 'POST', pattern: '/_emulator/groups/:key/members', handle: (c, body, p) => c.addMember(p.key!, str(body.member, 'member'), (body.role as MemberRole | undefined) ?? 'MEMBER') },
  { method: 'DELETE', pattern: '/_emulator/groups/:key/members/:member', handle: (c, _body, p) => c.removeMember(p.key!, p.member!) },
  { method: 'POST', pattern: '/_emulator/refresh-tokens/revoke', handle: (c, body) => (body.all === true ? { revoked: c.revokeAllRefreshTokens() } : { revoked: c.revokeRefreshToken(str(body.refresh_token, 'refresh_token')) }) },
  { method: 'DELETE', pattern: '/_emulator/service-accounts/:email/key', handle: (c, _body, p) => ({ deleted: c.deleteServiceAccountKey(p.email!) }) },
  { method: 'PUT', pattern: '/_emulator/access-token-ttl', handle: (c, body) => c.setAccessTokenTtl(Number(body.seconds)) },
  { method: 'PUT', pattern: '/_emulator/throttle', handle: (c, body) => c.setThrottle(body as unknown as ThrottleRule) },
  { method: 'DELETE', pattern: '/_emulator/throttle', handle: (c) => c.setThrottle(undefined) },
  { method: 'POST', pattern: '/_emulator/faults', handle: (c, body) => c.injectFault(body as unknown as FaultRule) },
  { method: 'DELETE', pattern: '/_emulator/faults', handle: (c) => c.clearFaults() },
  { method: 'PUT', pattern: '/_emulator/notifications', handle: (c, body) => c.setNotificationSwitches(body as DeliverySwitches) },
  { method: 'GET', pattern: '/_emulator/channels', handle: (c) => c.channels() },
  { method: 'POST', pattern: '/_emulator/clock/advance', handle: (c, body) => c.advanceTime(Number(body.ms)) },
  { method: 'POST', pattern: '/_emulator/reset', handle: (c) => c.reset() },
  { method: 'GET', pattern: '/_emulator/stats', handle: (c) => c.stats() },
  { method: 'PUT', pattern: '/_emulator/latency', handle: (c, body) => c.setLatency(Number(body.ms)) },
];

export function handleControl(control: GoogleEmulatorControl, method: string, path: string, body: Record<string, unknown>): Promise<{ status: number; body: unknown } | undefined> {
  return dispatchControl(CONTROL_ROUTES, control, { method, path, body }, {
    isApiError: (error) => error instanceof GoogleApiError,
    asApiError: (message) => new GoogleApiError(/Not Found/.test(message) ? 404 : 400, /Not Found/.test(message) ? 'notFound' : 'invalid', message),
  });
}
