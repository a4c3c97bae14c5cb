import { DEPARTMENTS, FAMILY_NAMES as FAMILY, GIVEN_NAMES as GIVEN, JOB_TITLES as TITLES } from '../kit/names.ts';
import { OrgChart } from '../kit/org-chart.ts';
import { pickWith, seededRandom } from '../kit/seeded-random.ts';
import { OktaOrg, type UserStatus } from './org-model.ts';

export interface GenerateOrgOptions {
  users: number;
  groups: number;
  seed?: number;
  domain?: string;
  now?: () => number;
}

/** How often each status appears among generated people (the rest are ACTIVE). */
const STATUS_SHARES: Array<[UserStatus, number]> = [
  ['DEPROVISIONED', 0.04],
  ['SUSPENDED', 0.02],
  ['STAGED', 0.01],
  ['PROVISIONED', 0.01],
  ['LOCKED_OUT', 0.01],
  ['PASSWORD_EXPIRED', 0.01],
  ['RECOVERY', 0.01],
];

/**
 * Builds an org deterministically: user 0 is the admin, managers form a tree of fan-out 8 (referenced by
 * `managerId`, as Okta's profile holds them), people in every status Okta has, one OKTA_GROUP per
 * department holding its people, a few APP_GROUPs (imported, read-only in Okta) and project groups.
 */
export function generateOrg(options: GenerateOrgOptions): OktaOrg {
  const random = seededRandom(options.seed ?? 1);
  const pick = pickWith(random);
  const domain = options.domain ?? 'example.com';
  const org = new OktaOrg({ domain, ...(options.now ? { now: options.now } : {}) });
  const baseTime = Date.UTC(2020, 0, 1);
  const userIds: string[] = [];
  const names: string[] = [];
  const chart = new OrgChart(random, { givenNames: GIVEN, familyNames: FAMILY, adminFamily: 'Root', departmentCount: DEPARTMENTS.length });

  for (let i = 0; i < options.users; i += 1) {
    const { given, family, local, managerIndex, department } = chart.next();
    const email = i === 0 ? `admin@${domain}` : `${local}@${domain}`.toLowerCase();
    let status: UserStatus = 'ACTIVE';
    if (i > 0) {
      let roll = random();
      for (const [candidate, share] of STATUS_SHARES) {
        if (roll < share) {
          status = candidate;
          break;
        }
        roll -= share;
      }
    }
    const created = new Date(baseTime + i * 60_000).toISOString();
    const user = org.createUser(
      {
        status,
        created,
        lastLogin: status === 'ACTIVE' ? new Date(baseTime + Math.floor(random() * 1e10)).toISOString() : null,
        profile: {
          login: email,
          email,
          secondEmail: null,
          firstName: given,
          lastName: family,
          displayName: `${given} ${family}`,
          title: pick(TITLES),
          department: DEPARTMENTS[department]!,
          costCenter: `CC-${100 + department}`,
          employeeNumber: `E${String(i + 1).padStart(6, '0')}`,
          mobilePhone: null,
          ...(managerIndex >= 0 ? { managerId: userIds[managerIndex]!, manager: names[managerIndex]! } : {}),
          // Custom attributes, as an org's profile editor adds them.
          ...(i % 10 === 0 ? { employmentType: i % 20 === 0 ? 'Contractor' : 'FTE', remote: i % 3 === 0 } : {}),
        },
      },
      true,
    );
    userIds.push(user.id);
    names.push(`${given} ${family}`);
  }

  const groupIds: string[] = [];
  for (let g = 0; g < options.groups; g += 1) {
    const isDepartment = g < DEPARTMENTS.length;
    // Every third group past the departments is imported from a directory (APP_GROUP), the rest Okta's own.
    const type = !isDepartment && (g - DEPARTMENTS.length) % 3 === 1 ? 'APP_GROUP' : 'OKTA_GROUP';
    const name = isDepartment ? `${DEPARTMENTS[g]} team` : type === 'APP_GROUP' ? `AD Project ${g}` : `Project ${g}`;
    const group = org.createGroup(
      { name, description: `${name} (generated)`, type, ...(type === 'APP_GROUP' ? { profile: { samAccountName: `proj${g}`, windowsDomainQualifiedName: `CORP\\proj${g}` } } : {}) },
      true,
    );
    groupIds.push(group.id);
  }
  if (groupIds.length === 0 || userIds.length === 0) return org;
  for (let i = 0; i < userIds.length; i += 1) {
    const department = chart.departments[i]!;
    if (department < groupIds.length) org.addMemberUnchecked(groupIds[department]!, userIds[i]!);
  }
  for (let g = DEPARTMENTS.length; g < groupIds.length; g += 1) {
    const size = 3 + Math.floor(random() * 20);
    for (let k = 0; k < size; k += 1) org.addMemberUnchecked(groupIds[g]!, userIds[Math.floor(random() * userIds.length)]!);
  }
  return org;
}
