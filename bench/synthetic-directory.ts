import type { IncomingRecordInput } from '../src/reconcile/incoming.ts';

/**
 * A deterministic, synthetic directory shaped like what an IdP connector enumerates: users with
 * realistic attributes and an Okta-like raw payload, groups, and group memberships. The same seed
 * always yields the same records, so benchmark runs and tests are comparable.
 *
 * Records are built on demand from their position (only compact index arrays are held), so feeding a
 * large directory page by page costs no more memory than a connector holding one page.
 */
export interface SyntheticDirectoryOptions {
  users: number;
  /** Default: one group per 50 users (2,000 for 100,000). */
  groups?: number;
  /** Default: three memberships per user (300,000 for 100,000). */
  memberships?: number;
  seed?: number;
}

/** What differs from the baseline snapshot: a fraction of users whose title changed. */
export interface SnapshotVariant {
  changedFraction?: number;
}

export type RecordKind = 'user' | 'group' | 'membership';

const DEPARTMENTS = [
  'Engineering', 'Product', 'Design', 'Sales', 'Marketing', 'Customer Success', 'Support', 'Finance',
  'Legal', 'People', 'IT', 'Security', 'Operations', 'Data', 'Research', 'Procurement', 'Facilities',
  'Partnerships', 'Communications', 'Quality',
] as const;

const TITLES = ['Associate', 'Specialist', 'Senior Specialist', 'Lead', 'Manager', 'Senior Manager', 'Director'] as const;

const FIRST_NAMES = [
  'Ada', 'Alan', 'Amara', 'Anders', 'Aiko', 'Beatriz', 'Bilal', 'Camille', 'Chen', 'Chiara', 'Dmitri', 'Elena',
  'Emeka', 'Fatima', 'Felix', 'Grace', 'Hamid', 'Hana', 'Ines', 'Ivan', 'Jamal', 'Javier', 'Jin', 'Julia',
  'Kai', 'Kavya', 'Lars', 'Leila', 'Lucas', 'Maya', 'Mateo', 'Mei', 'Nadia', 'Noah', 'Olga', 'Omar', 'Priya',
  'Rafael', 'Rosa', 'Sami', 'Sofia', 'Tariq', 'Thandiwe', 'Tomas', 'Uma', 'Victor', 'Wen', 'Yara', 'Yusuf', 'Zoe',
] as const;

const LAST_NAMES = [
  'Abebe', 'Andersson', 'Bakker', 'Banerjee', 'Costa', 'Dubois', 'Eriksen', 'Fernandes', 'Garcia', 'Gruber',
  'Haddad', 'Hoang', 'Ivanova', 'Jensen', 'Kato', 'Kim', 'Kowalski', 'Larsen', 'Lopez', 'Mendes', 'Moreau',
  'Nakamura', 'Novak', 'Okafor', 'Olsen', 'Park', 'Patel', 'Petrov', 'Quinn', 'Rossi', 'Santos', 'Schmidt',
  'Silva', 'Singh', 'Sato', 'Tanaka', 'Torres', 'Uddin', 'Varga', 'Wang', 'Weber', 'Wilson', 'Yamamoto', 'Zhang',
] as const;

const DOMAIN = 'acme-corp.example';
/** One user in this many has no manager (the top of the tree, contractors). */
const NO_MANAGER_ONE_IN = 25;
/** Users per manager in the reporting tree. */
const SPAN_OF_CONTROL = 8;
const INACTIVE_FRACTION = 0.02;
const BASE_TIME = Date.UTC(2024, 0, 1);
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A 32-bit integer hash of (seed, index, salt): each attribute of each object is independent of the others. */
function hash32(seed: number, index: number, salt: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

function unit(seed: number, index: number, salt: number): number {
  return hash32(seed, index, salt) / 0x1_0000_0000;
}

function pick<T>(items: readonly T[], seed: number, index: number, salt: number): T {
  return items[hash32(seed, index, salt) % items.length]!;
}

function base62(value: number, width: number): string {
  let out = '';
  for (let i = 0; i < width; i++) {
    out = BASE62[value % 62]! + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** A seeded PRNG for the few places that need a sequence rather than a per-index value. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

export class SyntheticDirectory {
  readonly userCount: number;
  readonly groupCount: number;
  readonly membershipCount: number;
  readonly seed: number;
  /** Feed order of users: a seeded permutation, so managers arrive before and after their reports. */
  private readonly userOrder: Int32Array;
  /** Memberships sorted by group, as a connector listing each group's members produces them. */
  private readonly memberGroup: Int32Array;
  private readonly memberUser: Int32Array;
  private readonly userIds: Array<string | undefined> = [];
  private readonly groupIds: Array<string | undefined> = [];

  constructor(options: SyntheticDirectoryOptions) {
    this.userCount = options.users;
    this.groupCount = options.groups ?? Math.max(DEPARTMENTS.length + 1, Math.round(options.users / 50));
    this.membershipCount = options.memberships ?? options.users * 3;
    this.seed = options.seed ?? 0x5eed;
    if (this.groupCount <= DEPARTMENTS.length) throw new Error(`Need more than ${DEPARTMENTS.length} groups`);
    if (this.membershipCount > this.userCount * (this.groupCount - DEPARTMENTS.length)) {
      throw new Error('More memberships requested than users × groups allow');
    }

    const random = mulberry32(this.seed);
    this.userOrder = new Int32Array(this.userCount);
    for (let i = 0; i < this.userCount; i++) this.userOrder[i] = i;
    for (let i = this.userCount - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [this.userOrder[i], this.userOrder[j]] = [this.userOrder[j]!, this.userOrder[i]!];
    }
    [this.memberGroup, this.memberUser] = this.buildMemberships();
  }

  get recordCount(): number {
    return this.userCount + this.groupCount + this.membershipCount;
  }

  /** Every user is in their department's group and in a few other groups, popular ones more often. */
  private buildMemberships(): [Int32Array, Int32Array] {
    const total = this.membershipCount;
    const pairsGroup = new Int32Array(total);
    const pairsUser = new Int32Array(total);
    const base = Math.floor(total / this.userCount);
    const extra = total % this.userCount;
    const others = this.groupCount - DEPARTMENTS.length;
    let n = 0;
    for (let user = 0; user < this.userCount; user++) {
      const count = base + (user < extra ? 1 : 0);
      const chosen = new Set<number>();
      if (count > 0) chosen.add(this.departmentIndex(user));
      for (let attempt = 0; chosen.size < count; attempt++) {
        // Squaring a uniform value skews towards low indexes: a few large groups, a long tail of small ones.
        const u = unit(this.seed, user, 1000 + attempt);
        chosen.add(DEPARTMENTS.length + Math.floor(u * u * others));
      }
      for (const group of chosen) {
        pairsGroup[n] = group;
        pairsUser[n] = user;
        n++;
      }
    }
    // Counting sort by group keeps users in ascending order within each group.
    const starts = new Int32Array(this.groupCount + 1);
    for (let i = 0; i < total; i++) starts[pairsGroup[i]! + 1]! += 1;
    for (let g = 0; g < this.groupCount; g++) starts[g + 1]! += starts[g]!;
    const group = new Int32Array(total);
    const user = new Int32Array(total);
    for (let i = 0; i < total; i++) {
      const at = starts[pairsGroup[i]!]!++;
      group[at] = pairsGroup[i]!;
      user[at] = pairsUser[i]!;
    }
    return [group, user];
  }

  private departmentIndex(user: number): number {
    return hash32(this.seed, user, 1) % DEPARTMENTS.length;
  }

  userExternalId(user: number): string {
    // Okta-like: random-looking, but the index inside keeps every id unique.
    this.userIds[user] ??= `00u${base62(hash32(this.seed, user, 2), 6)}${base62(user, 4)}${base62(hash32(this.seed, user, 3), 4)}`;
    return this.userIds[user];
  }

  groupExternalId(group: number): string {
    this.groupIds[group] ??= `00g${base62(hash32(this.seed, group, 4), 6)}${base62(group, 4)}${base62(hash32(this.seed, group, 5), 4)}`;
    return this.groupIds[group];
  }

  employeeId(user: number): string {
    return String(100000 + user);
  }

  /** The reporting tree: user 0 at the top, every other user under an earlier one, a few without a manager. */
  managerOf(user: number): number | null {
    if (user === 0 || hash32(this.seed, user, 6) % NO_MANAGER_ONE_IN === 0) return null;
    return Math.floor((user - 1) / SPAN_OF_CONTROL);
  }

  isInactive(user: number): boolean {
    return unit(this.seed, user, 7) < INACTIVE_FRACTION;
  }

  /** Whether this user's title differs in a snapshot with `changedFraction` of users changed. */
  isChanged(user: number, variant: SnapshotVariant): boolean {
    return (variant.changedFraction ?? 0) > 0 && unit(this.seed, user, 8) < variant.changedFraction!;
  }

  /** The user at feed position `position` (0 ≤ position < userCount). */
  userAt(position: number, variant: SnapshotVariant = {}): IncomingRecordInput {
    return this.user(this.userOrder[position]!, variant);
  }

  user(index: number, variant: SnapshotVariant = {}): IncomingRecordInput {
    const { seed } = this;
    const id = this.userExternalId(index);
    const first = pick(FIRST_NAMES, seed, index, 10);
    const last = pick(LAST_NAMES, seed, index, 11);
    const email = `${first}.${last}${index}@${DOMAIN}`.toLowerCase();
    const department = DEPARTMENTS[this.departmentIndex(index)]!;
    const changed = this.isChanged(index, variant);
    const level = (hash32(seed, index, 12) + (changed ? 1 : 0)) % TITLES.length;
    const title = `${TITLES[level]}, ${department}`;
    const manager = this.managerOf(index);
    const inactive = this.isInactive(index);
    const created = new Date(BASE_TIME - (hash32(seed, index, 13) % 2000) * 86_400_000);
    const updated = new Date(BASE_TIME + (hash32(seed, index, 14) % 300) * 86_400_000 + (changed ? 86_400_000 * 301 : 0));
    const employeeId = this.employeeId(index);
    return {
      kind: 'user',
      id,
      attributes: {
        email,
        username: email,
        employee_id: employeeId,
        first_name: first,
        last_name: last,
        display_name: `${first} ${last}`,
        department,
        title,
        manager: manager === null ? null : { employee_id: this.employeeId(manager) },
        state: inactive ? 'inactive' : 'active',
        start_date: created.toISOString().slice(0, 10),
      },
      raw: {
        id,
        status: inactive ? 'DEPROVISIONED' : 'ACTIVE',
        created: created.toISOString(),
        activated: created.toISOString(),
        lastUpdated: updated.toISOString(),
        type: { id: 'oty1default' },
        profile: {
          login: email,
          email,
          firstName: first,
          lastName: last,
          displayName: `${first} ${last}`,
          employeeNumber: employeeId,
          department,
          title,
          managerId: manager === null ? null : this.employeeId(manager),
          costCenter: `CC-${1000 + this.departmentIndex(index) * 10 + (hash32(seed, index, 15) % 10)}`,
          city: pick(['Berlin', 'Lisbon', 'Toronto', 'Singapore', 'Austin', 'Nairobi', 'Osaka', 'Dublin'], seed, index, 16),
          mobilePhone: `+1555${String(hash32(seed, index, 17) % 10_000_000).padStart(7, '0')}`,
        },
      },
    };
  }

  group(index: number): IncomingRecordInput {
    const id = this.groupExternalId(index);
    const name =
      index < DEPARTMENTS.length
        ? `dept-${DEPARTMENTS[index]!.toLowerCase().replace(/\s+/g, '-')}`
        : `${pick(['team', 'app', 'project', 'role', 'site'], this.seed, index, 20)}-${index}`;
    const description = index < DEPARTMENTS.length ? `Everyone in ${DEPARTMENTS[index]}` : `Synthetic group ${index}`;
    return {
      kind: 'group',
      id,
      attributes: { name, description },
      raw: {
        id,
        type: 'OKTA_GROUP',
        created: new Date(BASE_TIME - index * 3_600_000).toISOString(),
        profile: { name, description },
      },
    };
  }

  /** The membership at feed position `position` (memberships are fed group by group). */
  membership(position: number): IncomingRecordInput {
    return {
      kind: 'membership',
      group_id: this.groupExternalId(this.memberGroup[position]!),
      user_id: this.userExternalId(this.memberUser[position]!),
    };
  }

  /** Every record in connector order: users, then groups, then memberships. */
  *records(variant: SnapshotVariant = {}): Generator<IncomingRecordInput> {
    for (let i = 0; i < this.userCount; i++) yield this.userAt(i, variant);
    for (let i = 0; i < this.groupCount; i++) yield this.group(i);
    for (let i = 0; i < this.membershipCount; i++) yield this.membership(i);
  }

  /** The records in pages of `size`; a page never mixes kinds, as a connector's pages do not. */
  *pages(size: number, variant: SnapshotVariant = {}): Generator<IncomingRecordInput[]> {
    const kinds: Array<[number, (i: number) => IncomingRecordInput]> = [
      [this.userCount, (i) => this.userAt(i, variant)],
      [this.groupCount, (i) => this.group(i)],
      [this.membershipCount, (i) => this.membership(i)],
    ];
    for (const [count, make] of kinds) {
      for (let start = 0; start < count; start += size) {
        const page: IncomingRecordInput[] = [];
        for (let i = start; i < Math.min(count, start + size); i++) page.push(make(i));
        yield page;
      }
    }
  }

  /** How many users differ in a variant snapshot. */
  changedUsers(variant: SnapshotVariant): number {
    let n = 0;
    for (let i = 0; i < this.userCount; i++) if (this.isChanged(i, variant)) n++;
    return n;
  }
}
