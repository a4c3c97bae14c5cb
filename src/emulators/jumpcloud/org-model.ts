import { insertSorted } from '../kit/sorted.ts';

/**
 * The emulated JumpCloud organization: system users (v1), user groups and their direct members (v2),
 * mutable and in memory. Ids are 24-hex ObjectIds like JumpCloud's, issued increasing, so `_id` order is
 * creation order — except ids minted "early", which let a test put new users before existing ones.
 */

export type SystemUserState = 'STAGED' | 'ACTIVATED' | 'SUSPENDED';

export interface CustomAttribute {
  name: string;
  value: string;
}

/** A systemuser as v1 answers it; unset text fields are empty strings, as JumpCloud renders them. */
export interface SystemUser {
  _id: string;
  id: string;
  organization: string;
  username: string;
  email: string;
  alternateEmail: string;
  firstname: string;
  lastname: string;
  middlename: string;
  displayname: string;
  state: SystemUserState;
  activated: boolean;
  suspended: boolean;
  account_locked: boolean;
  department: string;
  jobTitle: string;
  employeeIdentifier: string;
  employeeType: string;
  company: string;
  costCenter: string;
  location: string;
  /** Another systemuser's `_id`, or null. */
  manager: string | null;
  attributes: CustomAttribute[];
  created: string;
  externally_managed: boolean;
  badLoginAttempts: number;
  password_expired: boolean;
  password_expiration_date: string | null;
  totp_enabled: boolean;
  mfa: { configured: boolean; exclusion: boolean };
}

export interface UserGroup {
  id: string;
  name: string;
  description: string;
  email: string;
  type: 'user_group';
  attributes: Record<string, unknown> | null;
  membershipMethod: 'STATIC';
  memberQuery: null;
}

type Editable = Omit<SystemUser, '_id' | 'id' | 'organization' | 'created' | 'activated' | 'suspended'>;
export type SystemUserInput = Partial<Editable> & { username: string; email: string };
export type SystemUserPatch = Partial<Editable>;
export type UserGroupInput = { name: string; description?: string; email?: string; attributes?: Record<string, unknown> | null };

const UNIQUE_USER_FIELDS = ['username', 'email', 'employeeIdentifier'] as const;

export interface JumpCloudOrgOptions {
  /** The organization's id (24 hex), what `x-org-id` names. */
  orgId: string;
  now?: () => number;
}

export class JumpCloudOrg {
  readonly orgId: string;
  private readonly now: () => number;
  private readonly users = new Map<string, SystemUser>();
  /** The unique fields' values (lower-cased) → user id: uniqueness is a lookup, not a scan of every user. */
  private readonly uniqueValues = new Map<(typeof UNIQUE_USER_FIELDS)[number], Map<string, string>>(UNIQUE_USER_FIELDS.map((field) => [field, new Map()]));
  /** `_id`s in ascending order (the default listing order). */
  private readonly sortedUserIds: string[] = [];
  private readonly groups = new Map<string, UserGroup>();
  private readonly sortedGroupIds: string[] = [];
  /** Direct members of each group, user ids in the order they were added. */
  private readonly members = new Map<string, string[]>();
  private counter = 0;
  private earlyCounter = 0;
  /** Bumped by every change: what listings cache against. */
  version = 0;

  constructor(options: JumpCloudOrgOptions) {
    this.orgId = options.orgId;
    this.now = options.now ?? Date.now;
  }

  /**
   * A new ObjectId: 8 hex of seconds, then a counter. `early` ids carry a zero timestamp, so they sort
   * before every id issued normally (users imported with the ids of another system).
   */
  mintId(early = false): string {
    if (early) return `00000000${(++this.earlyCounter).toString(16).padStart(16, '0')}`;
    const seconds = Math.floor(this.now() / 1000).toString(16).padStart(8, '0');
    return `${seconds}${(++this.counter).toString(16).padStart(16, '0')}`;
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  // ---- users ----

  get userCount(): number {
    return this.users.size;
  }

  /** Every user in `_id` order. */
  listUsers(): SystemUser[] {
    return this.sortedUserIds.map((id) => this.users.get(id)!);
  }

  userIds(): readonly string[] {
    return this.sortedUserIds;
  }

  user(id: string): SystemUser | undefined {
    return this.users.get(id);
  }

  requireUser(id: string): SystemUser {
    const user = this.users.get(id);
    if (!user) throw new Error(`Not Found: systemuser ${id}`);
    return user;
  }

  createUser(input: SystemUserInput, options: { early?: boolean } = {}): SystemUser {
    const id = this.mintId(options.early);
    const state = input.state ?? 'ACTIVATED';
    const user: SystemUser = {
      _id: id,
      id,
      organization: this.orgId,
      username: input.username,
      email: input.email,
      alternateEmail: input.alternateEmail ?? '',
      firstname: input.firstname ?? '',
      lastname: input.lastname ?? '',
      middlename: input.middlename ?? '',
      displayname: input.displayname ?? '',
      state,
      activated: state !== 'STAGED',
      suspended: state === 'SUSPENDED',
      account_locked: input.account_locked ?? false,
      department: input.department ?? '',
      jobTitle: input.jobTitle ?? '',
      employeeIdentifier: input.employeeIdentifier ?? '',
      employeeType: input.employeeType ?? '',
      company: input.company ?? '',
      costCenter: input.costCenter ?? '',
      location: input.location ?? '',
      manager: input.manager ?? null,
      attributes: input.attributes ?? [],
      created: this.iso(),
      externally_managed: input.externally_managed ?? false,
      badLoginAttempts: input.badLoginAttempts ?? 0,
      password_expired: input.password_expired ?? false,
      password_expiration_date: input.password_expiration_date ?? null,
      totp_enabled: input.totp_enabled ?? false,
      mfa: input.mfa ?? { configured: false, exclusion: false },
    };
    this.checkUnique(user);
    if (user.manager !== null) this.requireUser(user.manager);
    this.users.set(id, user);
    this.indexUnique(user, undefined);
    insertSorted(this.sortedUserIds, id);
    this.version += 1;
    return user;
  }

  updateUser(id: string, patch: SystemUserPatch): SystemUser {
    const user = this.requireUser(id);
    const next: SystemUser = { ...user, ...patch };
    if (patch.state !== undefined) {
      next.suspended = patch.state === 'SUSPENDED';
      // Once activated, a user stays "activated" (it says the account was set up), even when suspended.
      next.activated = user.activated || patch.state !== 'STAGED';
    }
    this.checkUnique(next, id);
    if (patch.manager) this.requireUser(patch.manager);
    this.users.set(id, next);
    this.indexUnique(next, user);
    this.version += 1;
    return next;
  }

  /** JumpCloud's suspend: `state: SUSPENDED` and `suspended: true` move together. */
  suspendUser(id: string, suspended = true): SystemUser {
    return this.updateUser(id, { state: suspended ? 'SUSPENDED' : 'ACTIVATED' });
  }

  /** A failed login attempt: bumps a counter that is not a profile change. */
  recordFailedLogin(id: string): SystemUser {
    const user = this.requireUser(id);
    return this.updateUser(id, { badLoginAttempts: user.badLoginAttempts + 1 });
  }

  /** Deletes the user; their memberships and their reports' manager go with them, as in JumpCloud. */
  deleteUser(id: string): SystemUser {
    const user = this.requireUser(id);
    this.users.delete(id);
    this.indexUnique(undefined, user);
    this.sortedUserIds.splice(this.sortedUserIds.indexOf(id), 1);
    for (const [groupId, ids] of this.members) this.members.set(groupId, ids.filter((member) => member !== id));
    for (const other of this.users.values()) if (other.manager === id) this.users.set(other._id, { ...other, manager: null });
    this.version += 1;
    return user;
  }

  private checkUnique(user: SystemUser, except?: string): void {
    for (const field of UNIQUE_USER_FIELDS) {
      const value = user[field];
      if (value === '') continue;
      const holder = this.uniqueValues.get(field)!.get(value.toLowerCase());
      if (holder !== undefined && holder !== except) throw new Error(`Conflict: ${field} ${value} already exists`);
    }
  }

  /** Moves a user's unique values in the index from what it was (`before`) to what it is (`after`). */
  private indexUnique(after: SystemUser | undefined, before: SystemUser | undefined): void {
    for (const field of UNIQUE_USER_FIELDS) {
      const index = this.uniqueValues.get(field)!;
      if (before && before[field] !== '') index.delete(before[field].toLowerCase());
      if (after && after[field] !== '') index.set(after[field].toLowerCase(), after._id);
    }
  }

  // ---- groups ----

  get groupCount(): number {
    return this.groups.size;
  }

  listGroups(): UserGroup[] {
    return this.sortedGroupIds.map((id) => this.groups.get(id)!);
  }

  group(id: string): UserGroup | undefined {
    return this.groups.get(id);
  }

  requireGroup(id: string): UserGroup {
    const group = this.groups.get(id);
    if (!group) throw new Error(`Not Found: usergroup ${id}`);
    return group;
  }

  createGroup(input: UserGroupInput, options: { early?: boolean } = {}): UserGroup {
    if ([...this.groups.values()].some((group) => group.name === input.name)) throw new Error(`Conflict: usergroup ${input.name} already exists`);
    const id = this.mintId(options.early);
    const group: UserGroup = {
      id,
      name: input.name,
      description: input.description ?? '',
      email: input.email ?? '',
      type: 'user_group',
      attributes: input.attributes ?? null,
      membershipMethod: 'STATIC',
      memberQuery: null,
    };
    this.groups.set(id, group);
    insertSorted(this.sortedGroupIds, id);
    this.members.set(id, []);
    this.version += 1;
    return group;
  }

  updateGroup(id: string, patch: Partial<UserGroupInput>): UserGroup {
    const group = { ...this.requireGroup(id), ...patch } as UserGroup;
    this.groups.set(id, group);
    this.version += 1;
    return group;
  }

  deleteGroup(id: string): UserGroup {
    const group = this.requireGroup(id);
    this.groups.delete(id);
    this.sortedGroupIds.splice(this.sortedGroupIds.indexOf(id), 1);
    this.members.delete(id);
    this.version += 1;
    return group;
  }

  membersOf(groupId: string): readonly string[] {
    return this.members.get(this.requireGroup(groupId).id) ?? [];
  }

  addMember(groupId: string, userId: string): void {
    const ids = this.members.get(this.requireGroup(groupId).id)!;
    this.requireUser(userId);
    if (ids.includes(userId)) return;
    ids.push(userId);
    this.version += 1;
  }

  removeMember(groupId: string, userId: string): void {
    const ids = this.members.get(this.requireGroup(groupId).id)!;
    const at = ids.indexOf(userId);
    if (at < 0) throw new Error(`Not Found: member ${userId} of usergroup ${groupId}`);
    ids.splice(at, 1);
    this.version += 1;
  }

  groupsOf(userId: string): string[] {
    return this.sortedGroupIds.filter((groupId) => this.members.get(groupId)!.includes(userId));
  }
}
