import type { OktaAuth, ServiceAppCredentials } from './auth.ts';
import { dispatchControl, type ControlRoute } from '../kit/control-routes.ts';
import type { Behaviours, FaultRule } from './behaviours.ts';
import type { DeliveryRecord, DeliverySwitches, EventHook, EventHooks } from './event-hooks.ts';
import { OktaApiError } from './http-kit.ts';
import type { GroupType, OktaGroup, OktaOrg, OktaUser, ProfileValue, UserInput, UserProfile } from './org-model.ts';
import type { BucketName, RateLimitRule, RateLimits } from './rate-limits.ts';
import type { LogEvent, SystemLog } from './system-log.ts';

/** Switches a test flips on a running emulator; the same operations are served under /_emulator/. */
export interface OktaEmulatorControl {
  createUser(input: UserInput): OktaUser;
  updateUser(key: string, profile: Partial<UserProfile>): OktaUser;
  activateUser(key: string): OktaUser;
  suspendUser(key: string): OktaUser;
  unsuspendUser(key: string): OktaUser;
  deactivateUser(key: string): OktaUser;
  reactivateUser(key: string): OktaUser;
  lockUser(key: string): OktaUser;
  unlockUser(key: string): OktaUser;
  expirePassword(key: string): OktaUser;
  resetPassword(key: string): OktaUser;
  /** A sign-in: lastLogin moves, nothing else. */
  recordLogin(key: string): OktaUser;
  /** Deactivates first when needed, then deletes for good. */
  deleteUser(key: string): void;
  createGroup(input: { name: string; description?: string | null; type?: GroupType; profile?: Record<string, ProfileValue> }): OktaGroup;
  updateGroup(id: string, patch: { name?: string; description?: string | null }): OktaGroup;
  deleteGroup(id: string): void;
  addMember(groupId: string, userKey: string): void;
  removeMember(groupId: string, userKey: string): void;
  createApiToken(options?: { readOnly?: boolean }): string;
  revokeApiToken(token: string): boolean;
  createServiceApp(scopes?: string[]): Promise<ServiceAppCredentials>;
  deactivateServiceApp(clientId: string): boolean;
  setAccessTokenTtl(seconds: number): void;
  /** Replaces some buckets' limits and windows (tests use small ones). */
  setRateLimits(rules: Partial<Record<BucketName, RateLimitRule>>): void;
  /** Another client of the org spends calls of a bucket. */
  consumeRateLimit(bucket: BucketName, calls: number): void;
  setConcurrencyLimit(limit: number): void;
  injectFault(rule: FaultRule): void;
  clearFaults(): void;
  setLatency(ms: number): void;
  setDeliverySwitches(switches: DeliverySwitches): void;
  /** Waits until every queued event hook delivery has been attempted. */
  deliveriesIdle(): Promise<void>;
  eventHooks(): EventHook[];
  /** Deletes an event hook, as an admin does in the Admin Console. */
  deleteEventHook(id: string): void;
  deliveries(): readonly DeliveryRecord[];
  verifications(): ReadonlyArray<{ hookId: string; uri: string; ok: boolean; detail: string }>;
  /** Events become readable in the System Log this long after they are published. */
  setLogPersistenceDelay(ms: number): void;
  logEvents(): LogEvent[];
  /** Moves the emulator's clock forward (token expiry, rate-limit windows, timestamps). */
  advanceTime(ms: number): void;
  /** Clears faults, latency, delivery switches, rate limits back to Okta's, and request counts. */
  reset(): void;
  stats(): { throttled: Record<string, number>; faults: Record<string, number>; requests: Record<string, number>; maxInFlight: number };
}

export interface ControlDeps {
  org: OktaOrg;
  auth: OktaAuth;
  behaviours: Behaviours;
  rateLimits: RateLimits;
  hooks: EventHooks;
  log: SystemLog;
  advanceTime: (ms: number) => void;
}

export function createControl(deps: ControlDeps): OktaEmulatorControl {
  const { org, auth, behaviours, rateLimits, hooks, log } = deps;
  return {
    createUser: (input) => org.createUser(input),
    updateUser: (key, profile) => org.updateProfile(key, profile),
    activateUser: (key) => org.activate(key),
    suspendUser: (key) => org.suspend(key),
    unsuspendUser: (key) => org.unsuspend(key),
    deactivateUser: (key) => org.deactivate(key),
    reactivateUser: (key) => org.reactivate(key),
    lockUser: (key) => org.lock(key),
    unlockUser: (key) => org.unlock(key),
    expirePassword: (key) => org.expirePassword(key),
    resetPassword: (key) => org.resetPassword(key),
    recordLogin: (key) => org.recordLogin(key),
    deleteUser: (key) => org.deleteUser(key),
    createGroup: (input) => org.createGroup(input),
    updateGroup: (id, patch) => org.updateGroup(id, patch),
    deleteGroup: (id) => org.deleteGroup(id),
    addMember: (groupId, userKey) => org.addMember(groupId, userKey),
    removeMember: (groupId, userKey) => org.removeMember(groupId, userKey),
    createApiToken: (options) => auth.createApiToken(options),
    revokeApiToken: (token) => auth.revokeApiToken(token),
    createServiceApp: (scopes) => auth.createServiceApp(scopes),
    deactivateServiceApp: (clientId) => auth.deactivateServiceApp(clientId),
    setAccessTokenTtl: (seconds) => auth.setAccessTokenTtl(seconds),
    setRateLimits: (rules) => rateLimits.setRules(rules),
    consumeRateLimit: (bucket, calls) => rateLimits.consume(bucket, calls),
    setConcurrencyLimit: (limit) => {
      rateLimits.concurrencyLimit = limit;
    },
    injectFault: (rule) => behaviours.addFault(rule),
    clearFaults: () => behaviours.clearFaults(),
    setLatency: (ms) => {
      behaviours.latencyMs = Math.max(0, ms);
    },
    setDeliverySwitches: (switches) => hooks.setSwitches(switches),
    deliveriesIdle: () => hooks.idle(),
    eventHooks: () => hooks.list(),
    deleteEventHook: (id) => {
      // As in the Admin Console: an active hook is deactivated before it can be deleted.
      if (hooks.get(id).status === 'ACTIVE') hooks.setStatus(id, 'INACTIVE');
      hooks.delete(id);
    },
    deliveries: () => hooks.attempts,
    verifications: () => hooks.verifications,
    setLogPersistenceDelay: (ms) => {
      log.persistenceDelayMs = Math.max(0, ms);
    },
    logEvents: () => log.all(),
    advanceTime: deps.advanceTime,
    reset: () => {
      behaviours.reset();
      rateLimits.reset();
      hooks.setSwitches({});
      log.persistenceDelayMs = 0;
    },
    stats: () => ({
      throttled: { ...rateLimits.refused },
      faults: { ...behaviours.stats.faults },
      requests: { ...behaviours.stats.requests },
      maxInFlight: behaviours.stats.maxInFlight,
    }),
  };
}

const str = (value: unknown, name: string): string => {
  if (typeof value !== 'string' || value === '') throw new OktaApiError(400, 'E0000001', `Api validation failed: ${name} is required`);
  return value;
};

/** HTTP form of the control handle, for emulators started with the CLI. Bodies are JSON. */
const CONTROL_ROUTES: ControlRoute<OktaEmulatorControl>[] = [
  { method: 'POST', pattern: '/_emulator/users', handle: (c, body) => c.createUser(body as unknown as UserInput) },
  { method: 'PATCH', pattern: '/_emulator/users/:key', handle: (c, body, p) => c.updateUser(p.key!, body as Partial<UserProfile>) },
  { method: 'DELETE', pattern: '/_emulator/users/:key', handle: (c, _body, p) => c.deleteUser(p.key!) },
  {
    method: 'POST',
    pattern: '/_emulator/users/:key/lifecycle/:operation',
    handle: (c, _body, p) => {
      const operations: Record<string, (key: string) => OktaUser> = {
        activate: c.activateUser,
        suspend: c.suspendUser,
        unsuspend: c.unsuspendUser,
        deactivate: c.deactivateUser,
        reactivate: c.reactivateUser,
        lock: c.lockUser,
        unlock: c.unlockUser,
        expire_password: c.expirePassword,
        reset_password: c.resetPassword,
        login: c.recordLogin,
      };
      const operation = operations[p.operation!];
      if (!operation) throw new OktaApiError(404, 'E0000007', `Not found: lifecycle operation ${p.operation}`);
      return operation(p.key!);
    },
  },
  { method: 'POST', pattern: '/_emulator/groups', handle: (c, body) => c.createGroup({ ...(body as { type?: GroupType; description?: string }), name: str(body.name, 'name') }) },
  { method: 'PATCH', pattern: '/_emulator/groups/:id', handle: (c, body, p) => c.updateGroup(p.id!, body as { name?: string; description?: string }) },
  { method: 'DELETE', pattern: '/_emulator/groups/:id', handle: (c, _body, p) => c.deleteGroup(p.id!) },
  { method: 'PUT', pattern: '/_emulator/groups/:id/users/:user', handle: (c, _body, p) => c.addMember(p.id!, p.user!) },
  { method: 'DELETE', pattern: '/_emulator/groups/:id/users/:user', handle: (c, _body, p) => c.removeMember(p.id!, p.user!) },
  { method: 'POST', pattern: '/_emulator/api-tokens', handle: (c, body) => ({ token: c.createApiToken({ readOnly: body.read_only === true }) }) },
  { method: 'POST', pattern: '/_emulator/api-tokens/revoke', handle: (c, body) => ({ revoked: c.revokeApiToken(str(body.token, 'token')) }) },
  { method: 'POST', pattern: '/_emulator/service-apps', handle: (c, body) => c.createServiceApp(Array.isArray(body.scopes) ? (body.scopes as string[]) : undefined) },
  { method: 'POST', pattern: '/_emulator/service-apps/:id/deactivate', handle: (c, _body, p) => ({ deactivated: c.deactivateServiceApp(p.id!) }) },
  { method: 'PUT', pattern: '/_emulator/access-token-ttl', handle: (c, body) => c.setAccessTokenTtl(Number(body.seconds)) },
  { method: 'PUT', pattern: '/_emulator/rate-limits', handle: (c, body) => c.setRateLimits(body as Partial<Record<BucketName, RateLimitRule>>) },
  { method: 'POST', pattern: '/_emulator/rate-limits/:bucket/consume', handle: (c, body, p) => c.consumeRateLimit(p.bucket as BucketName, Number(body.calls)) },
  { method: 'PUT', pattern: '/_emulator/concurrency-limit', handle: (c, body) => c.setConcurrencyLimit(Number(body.limit)) },
  { method: 'POST', pattern: '/_emulator/faults', handle: (c, body) => c.injectFault(body as unknown as FaultRule) },
  { method: 'DELETE', pattern: '/_emulator/faults', handle: (c) => c.clearFaults() },
  { method: 'PUT', pattern: '/_emulator/latency', handle: (c, body) => c.setLatency(Number(body.ms)) },
  { method: 'PUT', pattern: '/_emulator/deliveries', handle: (c, body) => c.setDeliverySwitches(body as DeliverySwitches) },
  { method: 'GET', pattern: '/_emulator/deliveries', handle: (c) => c.deliveries().map((d) => ({ hookId: d.delivery.hookId, attempt: d.attempt, status: d.status, eventUuids: d.delivery.eventUuids })) },
  { method: 'GET', pattern: '/_emulator/event-hooks', handle: (c) => c.eventHooks() },
  { method: 'PUT', pattern: '/_emulator/log-persistence-delay', handle: (c, body) => c.setLogPersistenceDelay(Number(body.ms)) },
  { method: 'POST', pattern: '/_emulator/clock/advance', handle: (c, body) => c.advanceTime(Number(body.ms)) },
  { method: 'POST', pattern: '/_emulator/reset', handle: (c) => c.reset() },
  { method: 'GET', pattern: '/_emulator/stats', handle: (c) => c.stats() },
];

export function handleControl(control: OktaEmulatorControl, method: string, path: string, body: Record<string, unknown>): Promise<{ status: number; body: unknown } | undefined> {
  return dispatchControl(CONTROL_ROUTES, control, { method, path, body }, {
    isApiError: (error) => error instanceof OktaApiError,
    asApiError: (message) => new OktaApiError(/^Not found/.test(message) ? 404 : 400, /^Not found/.test(message) ? 'E0000007' : 'E0000001', message),
  });
}
