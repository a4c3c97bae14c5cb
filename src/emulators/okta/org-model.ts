import { lowerBound } from '../kit/sorted.ts';
import { OktaIds } from './okta-ids.ts';

/** The emulated Okta org: users, groups and memberships, in memory; every change is announced for the System Log. */

export const USER_STATUSES = ['STAGED', 'PROVISIONED', 'ACTIVE', 'RECOVERY', 'PASSWORD_EXPIRED', 'LOCKED_OUT', 'SUSPENDED', 'DEPROVISIONED'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

export type ProfileValue = string | number | boolean | null | string[];
export type UserProfile = { login: string; email: string; firstName?: string | null; lastName?: string | null } & Record<string, ProfileValue | undefined>;

export interface OktaUser {
  id: string;
  status: UserStatus;
  created: string;
  activated: string | null;
  statusChanged: string | null;
  lastLogin: string | null;
  lastUpdated: string;
  passwordChanged: string | null;
  type: { id: string };
  profile: UserProfile;
  credentials: { password?: Record<string, never>; provider: { type: 'OKTA'; name: 'OKTA' } };
}

export type GroupType = 'OKTA_GROUP' | 'APP_GROUP' | 'BUILT_IN';

export interface OktaGroup {
  id: string;
  created: string;
  lastUpdated: string;
  lastMembershipUpdated: string;
  objectClass: string[];
  type: GroupType;
  profile: { name: string; description: string | null } & Record<string, ProfileValue>;
}

export interface LogTarget {
  id: string;
  type: 'User' | 'UserGroup';
  alternateId: string;
  displayName: string;
}

/** What one change writes to the System Log. */
export interface OrgChange {
  eventType: string;
  displayMessage: string;
  targets: LogTarget[];
}

export interface UserInput {
  profile: UserProfile;
  /** ACTIVE by default (created and activated); STAGED or PROVISIONED leave it waiting. */
  status?: UserStatus;
  created?: string;
  lastLogin?: string | null;
  groupIds?: string[];
}

const OBJECT_CLASS: Record<GroupType, string[]> = {
  OKTA_GROUP: ['okta:user_group'],
  APP_GROUP: ['okta:windows_security_principal'],
  BUILT_IN: ['okta:user_group'],
};

export class OktaOrg {
  readonly domain: string;
  private readonly now: () => number;
  private readonly ids = new OktaIds();
  readonly userTypeId: string;
  private readonly users = new Map<string, OktaUser>();
  private readonly userIdByLogin = new Map<string, string>();
  /** Ascending: ids are issued increasing, so appending keeps it sorted and paging is a binary search. */
  private readonly sortedUserIds: string[] = [];
  private readonly groups = new Map<string, OktaGroup>();
  private readonly sortedGroupIds: string[] = [];
  private readonly members = new Map<string, Set<string>>();
  private readonly listeners = new Set<(change: OrgChange) => void>();
  /** The built-in "Everyone" group: every user is a member, implicitly. */
  readonly everyoneId: string;
  /** Bumped by any change, so derived caches know when to rebuild. */
  version = 0;

  constructor(options: { domain: string; now?: () => number }) {
    this.domain = options.domain;
    this.now = options.now ?? Date.now;
    this.userTypeId = this.ids.issue('oty');
    this.everyoneId = this.createGroup({ name: 'Everyone', description: 'All users in your organization', type: 'BUILT_IN' }, true).id;
  }

  onChange(listener: (change: OrgChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private announce(eventType: string, displayMessage: string, targets: LogTarget[]): void {
    this.version += 1;
    for (const listener of this.listeners) listener({ eventType, displayMessage, targets });
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  // ---- users ----

  get userCount(): number {
    return this.users.size;
  }

  userIds(): readonly string[] {
    return this.sortedUserIds;
  }

  userById(id: string): OktaUser | undefined {
    return this.users.get(id);
  }

  /** By id or login, as `GET /api/v1/users/{idOrLogin}` accepts. */
  findUser(key: string): OktaUser | undefined {
    return this.users.get(key) ?? this.users.get(this.userIdByLogin.get(key.toLowerCase()) ?? '');
  }

  private requireUser(key: string): OktaUser {
    const user = this.findUser(key);
    if (!user) throw new Error(`Not found: Resource not found: ${key} (User)`);
    return user;
  }

  userTarget(user: OktaUser): LogTarget {
    const name = [user.profile.firstName, user.profile.lastName].filter(Boolean).join(' ') || user.profile.login;
    return { id: user.id, type: 'User', alternateId: user.profile.login, displayName: name };
  }

  createUser(input: UserInput, silent = false): OktaUser {
    const login = input.profile.login.toLowerCase();
    if (this.userIdByLogin.has(login)) throw new Error(`Api validation failed: login: An object with this field already exists in the current organization`);
    const now = input.created ?? this.iso();
    const status = input.status ?? 'ACTIVE';
    const waiting = status === 'STAGED' || status === 'PROVISIONED';
    const user: OktaUser = {
      id: this.ids.issue('00u'),
      status,
      created: now,
      activated: waiting ? null : now,
      statusChanged: waiting && status === 'STAGED' ? null : now,
      lastLogin: input.lastLogin ?? null,
      lastUpdated: now,
      passwordChanged: waiting ? null : now,
      type: { id: this.userTypeId },
      profile: { ...input.profile },
      credentials: { ...(waiting ? {} : { password: {} }), provider: { type: 'OKTA', name: 'OKTA' } },
    };
    this.users.set(user.id, user);
    this.userIdByLogin.set(login, user.id);
    this.sortedUserIds.push(user.id);
    this.touchMembership(this.everyoneId, now);
    for (const groupId of input.groupIds ?? []) {
      const members = this.members.get(groupId);
      if (!members) continue;
      members.add(user.id);
      // A group a user is created into changed its membership, as addMember records it.
      this.touchMembership(groupId, now);
    }
    if (!silent) {
      this.announce('user.lifecycle.create', 'Create Okta user', [this.userTarget(user)]);
      if (!waiting) this.announce('user.lifecycle.activate', 'Activate Okta user', [this.userTarget(user)]);
      for (const groupId of input.groupIds ?? []) this.announceMembership('add', user, this.groups.get(groupId)!);
    }
    return user;
  }

  /** A partial profile update (`POST /api/v1/users/{id}` semantics): keys set to null are cleared. */
  updateProfile(key: string, patch: Partial<UserProfile>): OktaUser {
    const user = this.requireUser(key);
    if (patch.login !== undefined && patch.login.toLowerCase() !== user.profile.login.toLowerCase()) {
      const login = patch.login.toLowerCase();
      if (this.userIdByLogin.has(login)) throw new Error('Api validation failed: login: An object with this field already exists in the current organization');
      this.userIdByLogin.delete(user.profile.login.toLowerCase());
      this.userIdByLogin.set(login, user.id);
    }
    user.profile = { ...user.profile, ...patch } as UserProfile;
    user.lastUpdated = this.iso();
    this.announce('user.account.update_profile', 'Update user profile for Okta', [this.userTarget(user)]);
    return user;
  }

  private transition(key: string, allowed: readonly UserStatus[] | 'any', to: UserStatus, eventType: string, message: string): OktaUser {
    const user = this.requireUser(key);
    if (allowed !== 'any' && !allowed.includes(user.status)) {
      throw new Error(`Api validation failed: the user is ${user.status}; this lifecycle operation needs ${allowed.join(' or ')}`);
    }
    const now = this.iso();
    if (to === 'ACTIVE' && user.activated === null) user.activated = now;
    user.status = to;
    user.statusChanged = now;
    user.lastUpdated = now;
    this.announce(eventType, message, [this.userTarget(user)]);
    return user;
  }

  activate(key: string): OktaUser {
    return this.transition(key, ['STAGED', 'PROVISIONED'], 'ACTIVE', 'user.lifecycle.activate', 'Activate Okta user');
  }

  suspend(key: string): OktaUser {
    return this.transition(key, ['ACTIVE'], 'SUSPENDED', 'user.lifecycle.suspend', 'Suspend Okta user');
  }

  unsuspend(key: string): OktaUser {
    return this.transition(key, ['SUSPENDED'], 'ACTIVE', 'user.lifecycle.unsuspend', 'Unsuspend Okta user');
  }

  /** Group memberships are kept while a user is deactivated, so a reactivation finds them again. [unverified] */
  deactivate(key: string): OktaUser {
    const user = this.requireUser(key);
    if (user.status === 'DEPROVISIONED') throw new Error('Api validation failed: the user is already DEPROVISIONED');
    return this.transition(key, 'any', 'DEPROVISIONED', 'user.lifecycle.deactivate', 'Deactivate Okta user');
  }

  /** Okta reactivates into PROVISIONED: the person must set a password again before they are ACTIVE. */
  reactivate(key: string): OktaUser {
    return this.transition(key, ['DEPROVISIONED'], 'PROVISIONED', 'user.lifecycle.reactivate', 'Reactivate Okta user');
  }

  lock(key: string): OktaUser {
    return this.transition(key, ['ACTIVE', 'PASSWORD_EXPIRED', 'RECOVERY'], 'LOCKED_OUT', 'user.account.lock', 'Max sign in attempts exceeded');
  }

  unlock(key: string): OktaUser {
    return this.transition(key, ['LOCKED_OUT'], 'ACTIVE', 'user.account.unlock', 'Unlock user account');
  }

  expirePassword(key: string): OktaUser {
    return this.transition(key, ['ACTIVE', 'RECOVERY', 'LOCKED_OUT'], 'PASSWORD_EXPIRED', 'user.account.expire_password', 'Expire user password');
  }

  resetPassword(key: string): OktaUser {
    return this.transition(key, ['ACTIVE', 'PASSWORD_EXPIRED', 'LOCKED_OUT'], 'RECOVERY', 'user.account.reset_password', 'Reset user password');
  }

  /** A sign-in moves lastLogin only: not a profile change, and lastUpdated stays. */
  recordLogin(key: string): OktaUser {
    const user = this.requireUser(key);
    user.lastLogin = this.iso();
    return user;
  }

  /** As the Admin Console does: an active user is deactivated first, then deleted for good (and leaves its groups). */
  deleteUser(key: string): void {
    const user = this.requireUser(key);
    if (user.status !== 'DEPROVISIONED') this.deactivate(user.id);
    const target = this.userTarget(user);
    this.announce('user.lifecycle.delete.initiated', 'Delete Okta user', [target]);
    const now = this.iso();
    for (const [groupId, members] of this.members) if (members.delete(user.id)) this.touchMembership(groupId, now);
    this.touchMembership(this.everyoneId, now);
    this.users.delete(user.id);
    this.userIdByLogin.delete(user.profile.login.toLowerCase());
    this.sortedUserIds.splice(lowerBound(this.sortedUserIds, user.id), 1);
    this.announce('user.lifecycle.delete.completed', 'Delete Okta user completed', [target]);
  }

  // ---- groups ----

  get groupCount(): number {
    return this.groups.size;
  }

  groupIds(): readonly string[] {
    return this.sortedGroupIds;
  }

  groupById(id: string): OktaGroup | undefined {
    return this.groups.get(id);
  }

  private requireGroup(id: string): OktaGroup {
    const group = this.groups.get(id);
    if (!group) throw new Error(`Not found: Resource not found: ${id} (UserGroup)`);
    return group;
  }

  groupTarget(group: OktaGroup): LogTarget {
    return { id: group.id, type: 'UserGroup', alternateId: 'unknown', displayName: group.profile.name };
  }

  createGroup(input: { name: string; description?: string | null; type?: GroupType; profile?: Record<string, ProfileValue> }, silent = false): OktaGroup {
    const now = this.iso();
    const type = input.type ?? 'OKTA_GROUP';
    const group: OktaGroup = {
      id: this.ids.issue('00g'),
      created: now,
      lastUpdated: now,
      lastMembershipUpdated: now,
      objectClass: OBJECT_CLASS[type],
      type,
      profile: { ...input.profile, name: input.name, description: input.description ?? null },
    };
    this.groups.set(group.id, group);
    this.sortedGroupIds.push(group.id);
    this.members.set(group.id, new Set());
    if (!silent) this.announce('group.lifecycle.create', 'Create okta user group', [this.groupTarget(group)]);
    return group;
  }

  updateGroup(id: string, patch: { name?: string; description?: string | null }): OktaGroup {
    const group = this.requireGroup(id);
    if (group.type !== 'OKTA_GROUP') throw new Error(`Api validation failed: only OKTA_GROUP profiles can be changed, this is ${group.type}`);
    group.profile = { ...group.profile, ...patch } as OktaGroup['profile'];
    group.lastUpdated = this.iso();
    this.announce('group.profile.update', 'Update group profile', [this.groupTarget(group)]);
    return group;
  }

  deleteGroup(id: string): void {
    const group = this.requireGroup(id);
    if (group.type === 'BUILT_IN') throw new Error('Api validation failed: the Everyone group cannot be deleted');
    this.groups.delete(id);
    this.members.delete(id);
    this.sortedGroupIds.splice(lowerBound(this.sortedGroupIds, id), 1);
    this.announce('group.lifecycle.delete', 'Delete Okta group', [this.groupTarget(group)]);
  }

  /** The ids of a group's members, ascending (Everyone: every user). */
  memberIdsOf(groupId: string): string[] {
    if (groupId === this.everyoneId) return [...this.sortedUserIds];
    return [...(this.members.get(groupId) ?? [])].sort();
  }

  addMember(groupId: string, userKey: string): void {
    const group = this.requireGroup(groupId);
    const user = this.requireUser(userKey);
    if (group.type !== 'OKTA_GROUP') throw new Error(`Api validation failed: members of an ${group.type} cannot be changed in Okta`);
    const members = this.members.get(group.id)!;
    if (members.has(user.id)) return;
    members.add(user.id);
    this.touchMembership(group.id, this.iso());
    this.announceMembership('add', user, group);
  }

  removeMember(groupId: string, userKey: string): void {
    const group = this.requireGroup(groupId);
    const user = this.requireUser(userKey);
    if (!this.members.get(group.id)!.delete(user.id)) return;
    this.touchMembership(group.id, this.iso());
    this.announceMembership('remove', user, group);
  }

  /** Fast path for the generator: no timestamps moved, nothing announced. */
  addMemberUnchecked(groupId: string, userId: string): void {
    this.members.get(groupId)?.add(userId);
  }

  private touchMembership(groupId: string, at: string): void {
    const group = this.groups.get(groupId);
    if (group) group.lastMembershipUpdated = at;
  }

  private announceMembership(kind: 'add' | 'remove', user: OktaUser, group: OktaGroup): void {
    const message = kind === 'add' ? 'Add user to group membership' : 'Remove user from group membership';
    this.announce(`group.user_membership.${kind}`, message, [this.userTarget(user), this.groupTarget(group)]);
  }
}
