import { DEPARTMENTS, FAMILY_NAMES as FAMILY, GIVEN_NAMES as GIVEN, JOB_TITLES as TITLES } from '../kit/names.ts';
import { OrgChart } from '../kit/org-chart.ts';
import { pickWith, seededRandom } from '../kit/seeded-random.ts';
import { GoogleOrg, type MemberRole } from './org-model.ts';

export interface GenerateOrgOptions {
  users: number;
  groups: number;
  seed?: number;
  domain?: string;
  customerId?: string;
  now?: () => number;
}

/**
 * Builds an org deterministically: user 0 is the super admin, managers form a tree of fan-out 8 (so a
 * manager always exists before their reports), one group per department holding its people, other groups
 * with a few random members, and some groups nested inside others.
 */
export function generateOrg(options: GenerateOrgOptions): GoogleOrg {
  const random = seededRandom(options.seed ?? 1);
  const pick = pickWith(random);
  const domain = options.domain ?? 'example.com';
  const org = new GoogleOrg({ domain, customerId: options.customerId ?? 'C03emu001', ...(options.now ? { now: options.now } : {}) });
  const baseTime = Date.UTC(2020, 0, 1);
  const emails: string[] = [];
  const userIds: string[] = [];
  const chart = new OrgChart(random, { givenNames: GIVEN, familyNames: FAMILY, adminFamily: 'Root', departmentCount: DEPARTMENTS.length });

  for (let i = 0; i < options.users; i += 1) {
    const { given, family, local, managerIndex, department } = chart.next();
    const email = i === 0 ? `admin@${domain}` : `${local}@${domain}`.toLowerCase();
    const user = org.createUser(
      {
        primaryEmail: email,
        name: { givenName: given, familyName: family },
        isAdmin: i === 0,
        suspended: i > 0 && random() < 0.02,
        orgUnitPath: `/${DEPARTMENTS[department]}`,
        creationTime: new Date(baseTime + i * 60_000).toISOString(),
        lastLoginTime: new Date(baseTime + Math.floor(random() * 1e10)).toISOString(),
        organizations: [{ department: DEPARTMENTS[department]!, title: pick(TITLES), costCenter: `CC-${100 + department}`, primary: true }],
        externalIds: [{ type: 'organization', value: `E${String(i + 1).padStart(6, '0')}` }],
        ...(managerIndex >= 0 ? { relations: [{ type: 'manager', value: emails[managerIndex]! }] } : {}),
        ...(i % 10 === 0 ? { customSchemas: { Employment: { level: 1 + (i % 7), remote: i % 3 === 0 } } } : {}),
      },
      true,
    );
    emails.push(email);
    userIds.push(user.id);
  }

  const groupIds: string[] = [];
  for (let g = 0; g < options.groups; g += 1) {
    const isDepartment = g < DEPARTMENTS.length;
    const name = isDepartment ? `${DEPARTMENTS[g]} team` : `Project ${g}`;
    const group = org.createGroup({ email: `${isDepartment ? DEPARTMENTS[g]!.toLowerCase() : `project-${g}`}@${domain}`, name, description: `${name} (generated)` });
    groupIds.push(group.id);
  }
  if (groupIds.length === 0 || userIds.length === 0) return org;

  for (let i = 0; i < userIds.length; i += 1) {
    const department = chart.departments[i]!;
    if (department < groupIds.length) org.addMemberUnchecked(groupIds[department]!, { id: userIds[i]!, role: 'MEMBER', type: 'USER' });
  }
  for (let g = DEPARTMENTS.length; g < groupIds.length; g += 1) {
    const size = 3 + Math.floor(random() * 20);
    for (let k = 0; k < size; k += 1) {
      const role: MemberRole = k === 0 ? 'OWNER' : k === 1 ? 'MANAGER' : 'MEMBER';
      org.addMemberUnchecked(groupIds[g]!, { id: userIds[Math.floor(random() * userIds.length)]!, role, type: 'USER' });
    }
    // Nest only into lower-numbered groups so membership stays a DAG, as Google forbids nothing but cycles confuse tests.
    if (g > DEPARTMENTS.length && random() < 0.1) {
      const child = groupIds[DEPARTMENTS.length + Math.floor(random() * (g - DEPARTMENTS.length))]!;
      org.addMemberUnchecked(groupIds[g]!, { id: child, role: 'MEMBER', type: 'GROUP' });
    }
  }
  return org;
}
