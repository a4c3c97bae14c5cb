/**
 * The emulated Entra tenant: users, groups and direct memberships, mutable in memory. Every change is
 * written to a change log (what delta rounds read) and announced (what subscriptions notify).
 */
import { seededRandom } from '../kit/seeded-random.ts';
import { insertSorted, partitionPoint } from '../kit/sorted.ts';
import { guidFrom } from './http-kit.ts';

export interface OnPremisesExtensionAttributes {
  [name: `extensionAttribute${number}`]: string | null;
}

/** A user's properties as Graph names them. */
export interface GraphUser {
  id: string;
  accountEnabled: boolean;
  businessPhones: string[];
  displayName: string;
  givenName: string | null;
  surname: string | null;
  jobTitle: string | null;
  mail: string | null;
  mobilePhone: string | null;
  officeLocation: string | null;
  preferredLanguage: string | null;
  userPrincipalName: string;
  department: string | null;
  employeeId: string | null;
  employeeType: string | null;
  companyName: string | null;
  otherMails: string[];
  proxyAddresses: string[];
  onPremisesImmutableId: string | null;
  onPremisesSamAccountName: string | null;
  onPremisesSyncEnabled: boolean | null;
  onPremisesExtensionAttributes: OnPremisesExtensionAttributes;
  createdDateTime: string;
  deletedDateTime: string | null;
}

export interface GraphGroup {
  id: string;
  displayName: string;
  description: string | null;
  mail: string | null;
  mailEnabled: boolean;
  mailNickname: string;
  securityEnabled: boolean;
  groupTypes: string[];
  membershipRule: string | null;
  onPremisesSyncEnabled: boolean | null;
  createdDateTime: string;
  deletedDateTime: string | null;
}

export type MemberType = 'user' | 'group';

/** `soft`: in the recycle bin (restorable; delta says `changed`); `hard`: gone for good (`deleted`). */
export type Removal = 'soft' | 'hard';

interface StoredUser {
  data: GraphUser;
  managerId: string | null;
  removed: Removal | null;
}

interface StoredGroup {
  data: GraphGroup;
  members: Map<string, MemberType>;
  removed: Removal | null;
}

export type ChangeEntry =
  | { seq: number; kind: 'user' | 'group'; id: string }
  | { seq: number; kind: 'member'; groupId: string; memberId: string; memberType: MemberType; removed: boolean };

/** What subscriptions hear: `resource` is the collection the change belongs to. */
export interface TenantChange {
  resource: 'users' | 'groups';
  id: string;
  changeType: 'created' | 'updated' | 'deleted';
  /** For a membership change: the group's members collection changed. */
  members?: boolean;
}

export type UserInput = Partial<Omit<GraphUser, 'id' | 'createdDateTime' | 'deletedDateTime'>> & { userPrincipalName: string; managerId?: string | null };
export type UserPatch = Partial<Omit<GraphUser, 'id' | 'createdDateTime' | 'deletedDateTime'>> & { managerId?: string | null };
export type GroupInput = Partial<Omit<GraphGroup, 'id' | 'createdDateTime' | 'deletedDateTime'>> & { displayName: string };

const noExtensions = (): OnPremisesExtensionAttributes =>
  Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`extensionAttribute${i + 1}`, null])) as OnPremisesExtensionAttributes;

export class GraphTenant {
  readonly tenantId: string;
  readonly domain: string;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly users = new Map<string, StoredUser>();
  private readonly userIdByUpn = new Map<string, string>();
  private readonly groups = new Map<string, StoredGroup>();
  /** Ids in ascending order, so listings page by "after this id" and survive inserts and deletes. */
  private readonly sortedUserIds: string[] = [];
  private readonly sortedGroupIds: string[] = [];
  private readonly log: ChangeEntry[] = [];
  private readonly listeners = new Set<(change: TenantChange) => void>();
  /** The last change's sequence number: a delta token is a position in this log. */
  seq = 0;
  /** Moves with every change, silent ones (the generated tenant) included: what is cached by it is current. */
  version = 0;

  constructor(options: { tenantId?: string; domain?: string; seed?: number; now?: () => number } = {}) {
    this.random = seededRandom(options.seed ?? 1);
    this.tenantId = options.tenantId ?? guidFrom(this.random);
    this.domain = options.domain ?? 'contoso.onmicrosoft.com';
    this.now = options.now ?? Date.now;
  }

  onChange(listener: (change: TenantChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private iso(): string {
    return new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  private record(entry: Omit<ChangeEntry & { kind: 'user' | 'group' }, 'seq'> | Omit<ChangeEntry & { kind: 'member' }, 'seq'>, change: TenantChange, silent: boolean): void {
    this.version += 1;
    if (silent) return;
    this.seq += 1;
    this.log.push({ ...entry, seq: this.seq } as ChangeEntry);
    for (const listener of this.listeners) listener(change);
  }

  /** Log entries with `from < seq ≤ to`, in order. */
  changesBetween(from: number, to: number): ChangeEntry[] {
    const low = partitionPoint(this.log.length, (i) => this.log[i]!.seq <= from);
    const out: ChangeEntry[] = [];
    for (let i = low; i < this.log.length && this.log[i]!.seq <= to; i += 1) out.push(this.log[i]!);
    return out;
  }

  // ---- users ----

  get userCount(): number {
    return this.sortedUserIds.filter((id) => this.users.get(id)!.removed === null).length;
  }

  /** Every user id ever created, ascending (removed ones included; check `userState`). */
  userIds(): readonly string[] {
    return this.sortedUserIds;
  }

  /** A live user by id or userPrincipalName. */
  findUser(key: string): GraphUser | undefined {
    const stored = this.storedUser(key);
    return stored && stored.removed === null ? stored.data : undefined;
  }

  private storedUser(key: string): StoredUser | undefined {
    return this.users.get(key) ?? this.users.get(this.userIdByUpn.get(key.toLowerCase()) ?? '');
  }

  userState(id: string): { user: GraphUser; managerId: string | null; removed: Removal | null } | undefined {
    const stored = this.users.get(id);
    return stored && { user: stored.data, managerId: stored.managerId, removed: stored.removed };
  }

  managerOf(id: string): GraphUser | undefined {
    const managerId = this.users.get(id)?.managerId;
    return managerId ? this.findUser(managerId) : undefined;
  }

  createUser(input: UserInput, silent = false): GraphUser {
    const upn = input.userPrincipalName.toLowerCase();
    if (this.userIdByUpn.has(upn)) throw new Error(`Another object with the same value for property userPrincipalName already exists: ${upn}`);
    const { managerId, ...fields } = input;
    const user: GraphUser = {
      id: guidFrom(this.random),
      accountEnabled: true,
      businessPhones: [],
      displayName: upn.split('@')[0]!,
      givenName: null,
      surname: null,
      jobTitle: null,
      mail: null,
      mobilePhone: null,
      officeLocation: null,
      preferredLanguage: null,
      department: null,
      employeeId: null,
      employeeType: null,
      companyName: null,
      otherMails: [],
      proxyAddresses: [],
      onPremisesImmutableId: null,
      onPremisesSamAccountName: null,
      onPremisesSyncEnabled: null,
      onPremisesExtensionAttributes: noExtensions(),
      createdDateTime: this.iso(),
      deletedDateTime: null,
      ...fields,
      userPrincipalName: input.userPrincipalName,
    };
    if (managerId && !this.users.has(managerId)) throw new Error(`Resource '${managerId}' does not exist`);
    this.users.set(user.id, { data: user, managerId: managerId ?? null, removed: null });
    this.userIdByUpn.set(upn, user.id);
    insertSorted(this.sortedUserIds, user.id);
    this.record({ kind: 'user', id: user.id }, { resource: 'users', id: user.id, changeType: 'created' }, silent);
    return user;
  }

  private requireUser(key: string, includeRemoved = false): StoredUser {
    const stored = this.storedUser(key);
    if (!stored || (!includeRemoved && stored.removed !== null)) throw new Error(`Resource '${key}' does not exist or one of its queried reference-property objects are not present.`);
    return stored;
  }

  updateUser(key: string, patch: UserPatch): GraphUser {
    const stored = this.requireUser(key);
    const { managerId, userPrincipalName, ...fields } = patch;
    if (userPrincipalName !== undefined && userPrincipalName.toLowerCase() !== stored.data.userPrincipalName.toLowerCase()) {
      if (this.userIdByUpn.has(userPrincipalName.toLowerCase())) throw new Error(`Another object with the same value for property userPrincipalName already exists: ${userPrincipalName}`);
      this.userIdByUpn.delete(stored.data.userPrincipalName.toLowerCase());
      this.userIdByUpn.set(userPrincipalName.toLowerCase(), stored.data.id);
      stored.data.userPrincipalName = userPrincipalName;
    }
    Object.assign(stored.data, fields);
    if (managerId !== undefined) {
      if (managerId !== null && !this.users.has(managerId)) throw new Error(`Resource '${managerId}' does not exist`);
      stored.managerId = managerId;
    }
    this.record({ kind: 'user', id: stored.data.id }, { resource: 'users', id: stored.data.id, changeType: 'updated' }, false);
    return stored.data;
  }

  /** Soft delete (to the recycle bin, restorable 30 days) or a permanent one. */
  deleteUser(key: string, permanent = false): GraphUser {
    const stored = this.requireUser(key, permanent);
    if (stored.removed === 'hard') throw new Error(`Resource '${key}' does not exist`);
    stored.removed = permanent ? 'hard' : 'soft';
    stored.data.deletedDateTime = this.iso();
    this.record({ kind: 'user', id: stored.data.id }, { resource: 'users', id: stored.data.id, changeType: 'deleted' }, false);
    return stored.data;
  }

  restoreUser(id: string): GraphUser {
    const stored = this.users.get(id);
    if (stored?.removed !== 'soft') throw new Error(`Resource '${id}' does not exist`);
    stored.removed = null;
    stored.data.deletedDateTime = null;
    this.record({ kind: 'user', id }, { resource: 'users', id, changeType: 'updated' }, false);
    return stored.data;
  }

  // ---- groups ----

  get groupCount(): number {
    return this.sortedGroupIds.filter((id) => this.groups.get(id)!.removed === null).length;
  }

  groupIds(): readonly string[] {
    return this.sortedGroupIds;
  }

  findGroup(id: string): GraphGroup | undefined {
    const stored = this.groups.get(id);
    return stored && stored.removed === null ? stored.data : undefined;
  }

  groupState(id: string): { group: GraphGroup; removed: Removal | null } | undefined {
    const stored = this.groups.get(id);
    return stored && { group: stored.data, removed: stored.removed };
  }

  createGroup(input: GroupInput, silent = false): GraphGroup {
    const group: GraphGroup = {
      id: guidFrom(this.random),
      description: null,
      mail: null,
      mailEnabled: false,
      mailNickname: input.displayName.toLowerCase().replace(/[^a-z0-9]+/g, '-'),
      securityEnabled: true,
      groupTypes: [],
      membershipRule: null,
      onPremisesSyncEnabled: null,
      createdDateTime: this.iso(),
      deletedDateTime: null,
      ...input,
    };
    this.groups.set(group.id, { data: group, members: new Map(), removed: null });
    insertSorted(this.sortedGroupIds, group.id);
    this.record({ kind: 'group', id: group.id }, { resource: 'groups', id: group.id, changeType: 'created' }, silent);
    return group;
  }

  private requireGroup(id: string): StoredGroup {
    const stored = this.groups.get(id);
    if (!stored || stored.removed !== null) throw new Error(`Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
    return stored;
  }

  updateGroup(id: string, patch: Partial<Omit<GraphGroup, 'id' | 'createdDateTime' | 'deletedDateTime'>>): GraphGroup {
    const stored = this.requireGroup(id);
    Object.assign(stored.data, patch);
    this.record({ kind: 'group', id }, { resource: 'groups', id, changeType: 'updated' }, false);
    return stored.data;
  }

  deleteGroup(id: string, permanent = false): GraphGroup {
    const stored = this.requireGroup(id);
    stored.removed = permanent ? 'hard' : 'soft';
    stored.data.deletedDateTime = this.iso();
    this.record({ kind: 'group', id }, { resource: 'groups', id, changeType: 'deleted' }, false);
    return stored.data;
  }

  /** Direct members: users and nested groups, by id. */
  membersOf(groupId: string): Array<{ id: string; type: MemberType }> {
    return [...(this.groups.get(groupId)?.members ?? new Map<string, MemberType>()).entries()].map(([id, type]) => ({ id, type }));
  }

  addMember(groupId: string, memberId: string, silent = false): void {
    const stored = this.requireGroup(groupId);
    const type: MemberType | undefined = this.findUser(memberId) ? 'user' : this.findGroup(memberId) ? 'group' : undefined;
    if (!type) throw new Error(`Resource '${memberId}' does not exist or one of its queried reference-property objects are not present.`);
    if (memberId === groupId) throw new Error('A group cannot be a member of itself.');
    if (stored.members.has(memberId)) throw new Error("One or more added object references already exist for the following modified properties: 'members'.");
    stored.members.set(memberId, type);
    this.record({ kind: 'member', groupId, memberId, memberType: type, removed: false }, { resource: 'groups', id: groupId, changeType: 'updated', members: true }, silent);
  }

  removeMember(groupId: string, memberId: string): void {
    const stored = this.requireGroup(groupId);
    const type = stored.members.get(memberId);
    if (!type) throw new Error(`Resource '${memberId}' does not exist or one of its queried reference-property objects are not present.`);
    stored.members.delete(memberId);
    this.record({ kind: 'member', groupId, memberId, memberType: type, removed: true }, { resource: 'groups', id: groupId, changeType: 'updated', members: true }, false);
  }
}
