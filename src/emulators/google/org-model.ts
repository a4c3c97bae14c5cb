/** The emulated Google Workspace organization: mutable, in memory, every change bumps an etag and is announced. */

export interface GoogleName {
  givenName: string;
  familyName: string;
  fullName: string;
  displayName: string;
}

export interface GoogleUser {
  kind: 'admin#directory#user';
  id: string;
  etag: string;
  primaryEmail: string;
  name: GoogleName;
  isAdmin: boolean;
  isDelegatedAdmin: boolean;
  suspended: boolean;
  suspensionReason?: string;
  archived: boolean;
  deletionTime?: string;
  orgUnitPath: string;
  customerId: string;
  creationTime: string;
  lastLoginTime: string;
  emails: { address: string; primary?: boolean; type?: string; customType?: string }[];
  aliases?: string[];
  nonEditableAliases?: string[];
  organizations?: { department?: string; title?: string; costCenter?: string; primary?: boolean }[];
  relations?: { type: string; value: string }[];
  externalIds?: { type: string; value: string }[];
  customSchemas?: Record<string, Record<string, unknown>>;
}

export type MemberRole = 'OWNER' | 'MANAGER' | 'MEMBER';
export type MemberType = 'USER' | 'GROUP';

export interface GoogleGroup {
  kind: 'admin#directory#group';
  id: string;
  etag: string;
  email: string;
  name: string;
  description: string;
  adminCreated: boolean;
  aliases?: string[];
  externalIds?: { type: string; value: string }[];
}

/** Members are stored by id only; email and status are read from the user or group at answer time. */
export interface StoredMember {
  id: string;
  role: MemberRole;
  type: MemberType;
}

export type UserChangeKind = 'add' | 'update' | 'delete' | 'undelete' | 'makeAdmin';

export interface UserChange {
  kind: UserChangeKind;
  user: GoogleUser;
}

export type UserInput = Partial<Omit<GoogleUser, 'kind' | 'id' | 'etag' | 'customerId' | 'name'>> & {
  primaryEmail: string;
  name?: Partial<GoogleName>;
};

export type UserPatch = Partial<Omit<GoogleUser, 'kind' | 'id' | 'etag' | 'customerId' | 'creationTime' | 'name'>> & { name?: Partial<GoogleName> };

export interface OrgOptions {
  domain: string;
  customerId: string;
  /** The clock the org stamps times with; the emulator shares one so tests can move time. */
  now?: () => number;
}

export class GoogleOrg {
  readonly domain: string;
  readonly customerId: string;
  private readonly now: () => number;
  private readonly users = new Map<string, GoogleUser>();
  /** Deleted users past recovery: kept for their ids, answered as unknown. */
  private readonly purged = new Set<string>();
  private readonly userIdByEmail = new Map<string, string>();
  /** Ids in ascending order: ids are issued increasing, so appending keeps it sorted and paging is a binary search. */
  private readonly sortedUserIds: string[] = [];
  private readonly groups = new Map<string, GoogleGroup>();
  private readonly groupIdByEmail = new Map<string, string>();
  private readonly sortedGroupIds: string[] = [];
  private readonly members = new Map<string, Map<string, StoredMember>>();
  private readonly listeners = new Set<(change: UserChange) => void>();
  private nextIdNumber = 100000000000000000001n;
  private etagCounter = 0;
  /** Bumped by any change; the list-level etag is derived from it. */
  version = 0;

  constructor(options: OrgOptions) {
    this.domain = options.domain;
    this.customerId = options.customerId;
    this.now = options.now ?? Date.now;
  }

  onUserChange(listener: (change: UserChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private issueId(): string {
    const id = this.nextIdNumber.toString();
    this.nextIdNumber += 1n;
    return id;
  }

  /** Google etags are opaque quoted strings; a global counter guarantees a new one on every change. */
  private issueEtag(): string {
    this.etagCounter += 1;
    this.version += 1;
    return `"emu-${this.etagCounter.toString(36)}"`;
  }

  listEtag(): string {
    return `"emu-list-${this.version.toString(36)}"`;
  }

  private emit(kind: UserChangeKind, user: GoogleUser): void {
    for (const listener of this.listeners) listener({ kind, user });
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

  userById(id: string): GoogleUser | undefined {
    return this.users.get(id);
  }

  /** By id, primary email or alias, as users.get accepts. */
  findUser(key: string): GoogleUser | undefined {
    const byId = this.users.get(key);
    if (byId) return byId;
    const id = this.userIdByEmail.get(key.toLowerCase());
    return id === undefined ? undefined : this.users.get(id);
  }

  createUser(input: UserInput, silent = false): GoogleUser {
    const email = input.primaryEmail.toLowerCase();
    if (this.userIdByEmail.has(email) || this.groupIdByEmail.has(email)) throw new Error(`Entity already exists: ${email}`);
    const given = input.name?.givenName ?? email.split('@')[0] ?? email;
    const family = input.name?.familyName ?? '';
    const fullName = input.name?.fullName ?? `${given} ${family}`.trim();
    const now = this.iso();
    const user: GoogleUser = {
      kind: 'admin#directory#user',
      id: this.issueId(),
      etag: this.issueEtag(),
      primaryEmail: email,
      name: { givenName: given, familyName: family, fullName, displayName: input.name?.displayName ?? fullName },
      isAdmin: input.isAdmin ?? false,
      isDelegatedAdmin: input.isDelegatedAdmin ?? false,
      suspended: input.suspended ?? false,
      archived: input.archived ?? false,
      orgUnitPath: input.orgUnitPath ?? '/',
      customerId: this.customerId,
      creationTime: input.creationTime ?? now,
      lastLoginTime: input.lastLoginTime ?? '1970-01-01T00:00:00.000Z',
      emails: input.emails ?? [{ address: email, primary: true }],
    };
    const optional = ['suspensionReason', 'aliases', 'nonEditableAliases', 'organizations', 'relations', 'externalIds', 'customSchemas'] as const;
    for (const key of optional) if (input[key] !== undefined) Object.assign(user, { [key]: input[key] });
    this.users.set(user.id, user);
    this.userIdByEmail.set(email, user.id);
    for (const alias of user.aliases ?? []) this.userIdByEmail.set(alias.toLowerCase(), user.id);
    this.sortedUserIds.push(user.id);
    if (!silent) this.emit('add', user);
    return user;
  }

  private requireUser(key: string): GoogleUser {
    const user = this.findUser(key);
    if (!user) throw new Error(`Resource Not Found: userKey ${key}`);
    return user;
  }

  updateUser(key: string, patch: UserPatch): GoogleUser {
    const user = this.requireUser(key);
    const wasAdmin = user.isAdmin;
    const { name, primaryEmail, ...rest } = patch;
    if (primaryEmail !== undefined && primaryEmail.toLowerCase() !== user.primaryEmail) {
      const email = primaryEmail.toLowerCase();
      if (this.userIdByEmail.has(email)) throw new Error(`Entity already exists: ${email}`);
      this.userIdByEmail.delete(user.primaryEmail);
      this.userIdByEmail.set(email, user.id);
      user.primaryEmail = email;
    }
    Object.assign(user, rest);
    if (name) user.name = { ...user.name, ...name };
    user.etag = this.issueEtag();
    this.emit(!wasAdmin && user.isAdmin ? 'makeAdmin' : 'update', user);
    return user;
  }

  suspendUser(key: string, suspended = true, reason = 'ADMIN'): GoogleUser {
    return this.updateUser(key, suspended ? { suspended: true, suspensionReason: reason } : { suspended: false, suspensionReason: undefined });
  }

  /** Google keeps deleted users (visible with showDeleted=true) for a while; so does the emulator. */
  deleteUser(key: string): GoogleUser {
    const user = this.requireUser(key);
    if (user.deletionTime) throw new Error(`Resource Not Found: userKey ${key}`);
    user.deletionTime = this.iso();
    user.etag = this.issueEtag();
    this.emit('delete', user);
    return user;
  }

  /** Past Google's recovery window a deleted user is gone for good: no longer listed, even with showDeleted. */
  purgeUser(key: string): void {
    const user = this.requireUser(key);
    if (!user.deletionTime) throw new Error(`Only a deleted user is purged: ${key}`);
    this.purged.add(user.id);
  }

  isPurged(id: string): boolean {
    return this.purged.has(id);
  }

  undeleteUser(id: string): GoogleUser {
    const user = this.users.get(id);
    // A purged user is past recovery: Google no longer knows it.
    if (!user?.deletionTime || this.purged.has(id)) throw new Error(`Resource Not Found: userKey ${id}`);
    delete user.deletionTime;
    user.etag = this.issueEtag();
    this.emit('undelete', user);
    return user;
  }

  /** A sign-in changes lastLoginTime and the etag but nothing a person would call a profile change. */
  touchLastLogin(key: string, at = this.iso()): GoogleUser {
    const user = this.requireUser(key);
    user.lastLoginTime = at;
    user.etag = this.issueEtag();
    return user;
  }

  // ---- groups ----

  get groupCount(): number {
    return this.groups.size;
  }

  groupIds(): readonly string[] {
    return this.sortedGroupIds;
  }

  findGroup(key: string): GoogleGroup | undefined {
    const byId = this.groups.get(key);
    if (byId) return byId;
    const id = this.groupIdByEmail.get(key.toLowerCase());
    return id === undefined ? undefined : this.groups.get(id);
  }

  createGroup(input: { email: string; name?: string; description?: string; adminCreated?: boolean; aliases?: string[] }): GoogleGroup {
    const email = input.email.toLowerCase();
    if (this.groupIdByEmail.has(email) || this.userIdByEmail.has(email)) throw new Error(`Entity already exists: ${email}`);
    const group: GoogleGroup = {
      kind: 'admin#directory#group',
      id: this.issueGroupId(),
      etag: this.issueEtag(),
      email,
      name: input.name ?? email.split('@')[0] ?? email,
      description: input.description ?? '',
      adminCreated: input.adminCreated ?? true,
    };
    if (input.aliases) group.aliases = input.aliases;
    this.groups.set(group.id, group);
    this.groupIdByEmail.set(email, group.id);
    this.sortedGroupIds.push(group.id);
    this.members.set(group.id, new Map());
    return group;
  }

  /** Group ids look different from user ids in Google (short hex); keeping that helps catch mixed-up keys. */
  private groupSerial = 0;
  private issueGroupId(): string {
    this.groupSerial += 1;
    return `0${(0x1e7a000000000 + this.groupSerial).toString(16)}`;
  }

  private requireGroup(key: string): GoogleGroup {
    const group = this.findGroup(key);
    if (!group) throw new Error(`Resource Not Found: groupKey ${key}`);
    return group;
  }

  directMembersCount(groupId: string): number {
    return this.members.get(groupId)?.size ?? 0;
  }

  membersOf(groupId: string): StoredMember[] {
    return [...(this.members.get(groupId)?.values() ?? [])];
  }

  /** Adds a user or group (by id or email) to a group. */
  addMember(groupKey: string, memberKey: string, role: MemberRole = 'MEMBER'): StoredMember {
    const group = this.requireGroup(groupKey);
    const user = this.findUser(memberKey);
    const nested = user ? undefined : this.findGroup(memberKey);
    if (!user && !nested) throw new Error(`Resource Not Found: memberKey ${memberKey}`);
    const member: StoredMember = { id: user ? user.id : nested!.id, role, type: user ? 'USER' : 'GROUP' };
    this.members.get(group.id)!.set(member.id, member);
    group.etag = this.issueEtag();
    return member;
  }

  removeMember(groupKey: string, memberKey: string): void {
    const group = this.requireGroup(groupKey);
    const id = this.findUser(memberKey)?.id ?? this.findGroup(memberKey)?.id ?? memberKey;
    if (!this.members.get(group.id)!.delete(id)) throw new Error(`Resource Not Found: memberKey ${memberKey}`);
    group.etag = this.issueEtag();
  }

  /** Fast path for the generator: no etag churn, no events. */
  addMemberUnchecked(groupId: string, member: StoredMember): void {
    this.members.get(groupId)?.set(member.id, member);
  }

  /** Direct or, through nested groups, indirect membership, as hasMember answers. */
  hasMember(groupId: string, memberId: string, seen = new Set<string>()): boolean {
    const members = this.members.get(groupId);
    if (!members || seen.has(groupId)) return false;
    seen.add(groupId);
    if (members.has(memberId)) return true;
    for (const member of members.values()) {
      if (member.type === 'GROUP' && this.hasMember(member.id, memberId, seen)) return true;
    }
    return false;
  }
}
