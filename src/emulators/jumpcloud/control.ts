import type { ApiKeys, OrgIdRule } from './api-keys.ts';
import { dispatchControl, type ControlRoute } from '../kit/control-routes.ts';
import type { Behaviours, FaultRule, LoggedRequest, ThrottleRule } from './behaviours.ts';
import type { DriftApplied, DriftRule, DriftSwitch } from './drift.ts';
import { JumpCloudApiError } from './http-kit.ts';
import type { JumpCloudOrg, SystemUser, SystemUserInput, SystemUserPatch, UserGroup, UserGroupInput } from './org-model.ts';

/** Switches a test flips on a running emulator; the same operations are served under /_emulator/. */
export interface JumpCloudEmulatorControl {
  createUser(input: SystemUserInput, options?: { early?: boolean }): SystemUser;
  updateUser(id: string, patch: SystemUserPatch): SystemUser;
  suspendUser(id: string, suspended?: boolean): SystemUser;
  deleteUser(id: string): SystemUser;
  recordFailedLogin(id: string): SystemUser;
  createGroup(input: UserGroupInput): UserGroup;
  deleteGroup(id: string): UserGroup;
  addMember(groupId: string, userId: string): void;
  removeMember(groupId: string, userId: string): void;
  /** A new API key of an admin (`multi-tenant`: one that must name the org with x-org-id). */
  issueApiKey(kind?: 'admin' | 'multi-tenant'): string;
  /** Resets a key, as an admin does in the console: calls with it answer 401 from now on. */
  revokeApiKey(key: string): boolean;
  /** When x-org-id is required: for multi-tenant keys (default), always, or never. */
  setOrgIdRule(rule: OrgIdRule): void;
  setThrottle(rule: ThrottleRule | undefined): void;
  injectFault(rule: FaultRule): void;
  clearFaults(): void;
  /** Adds or removes users (or groups) between two page requests of a scan. */
  drift(rule: DriftRule): void;
  clearDrift(): void;
  driftHistory(): readonly DriftApplied[];
  setLatency(ms: number): void;
  /** Clears throttling, faults, drift, latency and the request log. */
  reset(): void;
  stats(): { throttled: number; faults: Record<string, number>; requests: Record<string, number>; maxInFlight: number; log: LoggedRequest[] };
}

export interface ControlDeps {
  org: JumpCloudOrg;
  keys: ApiKeys;
  behaviours: Behaviours;
  drift: DriftSwitch;
}

export function createControl({ org, keys, behaviours, drift }: ControlDeps): JumpCloudEmulatorControl {
  return {
    createUser: (input, options) => org.createUser(input, options),
    updateUser: (id, patch) => org.updateUser(id, patch),
    suspendUser: (id, suspended = true) => org.suspendUser(id, suspended),
    deleteUser: (id) => org.deleteUser(id),
    recordFailedLogin: (id) => org.recordFailedLogin(id),
    createGroup: (input) => org.createGroup(input),
    deleteGroup: (id) => org.deleteGroup(id),
    addMember: (groupId, userId) => org.addMember(groupId, userId),
    removeMember: (groupId, userId) => org.removeMember(groupId, userId),
    issueApiKey: (kind = 'admin') => keys.issue(kind),
    revokeApiKey: (key) => keys.revoke(key),
    setOrgIdRule: (rule) => {
      keys.orgIdRule = rule;
    },
    setThrottle: (rule) => behaviours.setThrottle(rule),
    injectFault: (rule) => behaviours.addFault(rule),
    clearFaults: () => behaviours.clearFaults(),
    drift: (rule) => drift.arm(rule),
    clearDrift: () => drift.clear(),
    driftHistory: () => drift.history,
    setLatency: (ms) => {
      behaviours.latencyMs = Math.max(0, ms);
    },
    reset: () => {
      behaviours.reset();
      drift.clear();
    },
    stats: () => ({
      throttled: behaviours.stats.throttled,
      faults: { ...behaviours.stats.faults },
      requests: { ...behaviours.stats.requests },
      maxInFlight: behaviours.stats.maxInFlight,
      log: [...behaviours.stats.log],
    }),
  };
}

const text = (value: unknown, name: string): string => {
  if (typeof value !== 'string' || value === '') throw new JumpCloudApiError(400, `${name} is required`);
  return value;
};

/** HTTP form of the control handle, for emulators started with the CLI. Bodies are JSON. */
const CONTROL_ROUTES: ControlRoute<JumpCloudEmulatorControl>[] = [
  { method: 'POST', pattern: '/_emulator/users', handle: (c, body) => c.createUser(body as unknown as SystemUserInput, { early: body.early === true }) },
  { method: 'PATCH', pattern: '/_emulator/users/:id', handle: (c, body, p) => c.updateUser(p.id!, body as SystemUserPatch) },
  { method: 'DELETE', pattern: '/_emulator/users/:id', handle: (c, _body, p) => c.deleteUser(p.id!) },
  { method: 'POST', pattern: '/_emulator/users/:id/suspend', handle: (c, body, p) => c.suspendUser(p.id!, body.suspended !== false) },
  { method: 'POST', pattern: '/_emulator/users/:id/failed-login', handle: (c, _body, p) => c.recordFailedLogin(p.id!) },
  { method: 'POST', pattern: '/_emulator/groups', handle: (c, body) => c.createGroup({ ...(body as UserGroupInput), name: text(body.name, 'name') }) },
  { method: 'DELETE', pattern: '/_emulator/groups/:id', handle: (c, _body, p) => c.deleteGroup(p.id!) },
  { method: 'POST', pattern: '/_emulator/groups/:id/members', handle: (c, body, p) => c.addMember(p.id!, text(body.user, 'user')) },
  { method: 'DELETE', pattern: '/_emulator/groups/:id/members/:user', handle: (c, _body, p) => c.removeMember(p.id!, p.user!) },
  { method: 'POST', pattern: '/_emulator/api-keys', handle: (c, body) => ({ api_key: c.issueApiKey(body.kind === 'multi-tenant' ? 'multi-tenant' : 'admin') }) },
  { method: 'POST', pattern: '/_emulator/api-keys/revoke', handle: (c, body) => ({ revoked: c.revokeApiKey(text(body.api_key, 'api_key')) }) },
  { method: 'PUT', pattern: '/_emulator/org-id-rule', handle: (c, body) => c.setOrgIdRule(text(body.rule, 'rule') as OrgIdRule) },
  { method: 'PUT', pattern: '/_emulator/throttle', handle: (c, body) => c.setThrottle(body as unknown as ThrottleRule) },
  { method: 'DELETE', pattern: '/_emulator/throttle', handle: (c) => c.setThrottle(undefined) },
  { method: 'POST', pattern: '/_emulator/faults', handle: (c, body) => c.injectFault(body as unknown as FaultRule) },
  { method: 'DELETE', pattern: '/_emulator/faults', handle: (c) => c.clearFaults() },
  { method: 'POST', pattern: '/_emulator/drift', handle: (c, body) => c.drift(body as DriftRule) },
  { method: 'DELETE', pattern: '/_emulator/drift', handle: (c) => c.clearDrift() },
  { method: 'GET', pattern: '/_emulator/drift', handle: (c) => c.driftHistory() },
  { method: 'PUT', pattern: '/_emulator/latency', handle: (c, body) => c.setLatency(Number(body.ms)) },
  { method: 'POST', pattern: '/_emulator/reset', handle: (c) => c.reset() },
  { method: 'GET', pattern: '/_emulator/stats', handle: (c) => c.stats() },
];

export function handleControl(control: JumpCloudEmulatorControl, method: string, path: string, body: Record<string, unknown>): Promise<{ status: number; body: unknown } | undefined> {
  return dispatchControl(CONTROL_ROUTES, control, { method, path, body }, {
    isApiError: (error) => error instanceof JumpCloudApiError,
    asApiError: (message) => new JumpCloudApiError(message.startsWith('Not Found') ? 404 : message.startsWith('Conflict') ? 409 : 400, message),
  });
}
