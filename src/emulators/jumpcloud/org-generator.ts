import { JOB_TITLES as TITLES } from '../kit/names.ts';
import { OrgChart } from '../kit/org-chart.ts';
import { pickWith, seededRandom } from '../kit/seeded-random.ts';
import { JumpCloudOrg, type SystemUserState } from './org-model.ts';

export interface GenerateJumpCloudOrgOptions {
  users: number;
  groups: number;
  seed?: number;
  domain?: string;
  orgId?: string;
  now?: () => number;
}

/** Shorter lists than the other emulators' (kit/names.ts): changing them would change every seeded org. */
const GIVEN = ['Ada', 'Bruno', 'Chiara', 'Dmitri', 'Elif', 'Farid', 'Greta', 'Hiro', 'Ines', 'Jonas', 'Kemi', 'Lars', 'Mei', 'Nadia', 'Omar', 'Priya', 'Quinn', 'Rosa', 'Sven', 'Tariq'];
const FAMILY = ['Abe', 'Brandt', 'Costa', 'Diaz', 'Eriksen', 'Fischer', 'Garcia', 'Haddad', 'Ito', 'Jansen', 'Kowalski', 'Lopez', 'Moreau', 'Okafor', 'Petrov', 'Rossi'];
const DEPARTMENTS = ['Engineering', 'Sales', 'Marketing', 'Finance', 'People', 'Support', 'Operations', 'Product'];

/**
 * Builds an org deterministically: user 0 is the admin, managers form a tree of fan-out 8 (a manager
 * always exists before their reports), a few users are staged or suspended, every tenth carries custom
 * attributes, one group per department holds its people and further groups a few random members.
 */
export function generateJumpCloudOrg(options: GenerateJumpCloudOrgOptions): JumpCloudOrg {
  const random = seededRandom(options.seed ?? 1);
  const pick = pickWith(random);
  const domain = options.domain ?? 'example.com';
  const org = new JumpCloudOrg({ orgId: options.orgId ?? '5f1e0d2c3b4a59687766a001', ...(options.now ? { now: options.now } : {}) });
  const userIds: string[] = [];
  const chart = new OrgChart(random, { givenNames: GIVEN, familyNames: FAMILY, adminFamily: 'Root', departmentCount: DEPARTMENTS.length });

  for (let i = 0; i < options.users; i += 1) {
    const { given, family, local: username, managerIndex, department } = chart.next();
    const roll = random();
    const state: SystemUserState = i === 0 ? 'ACTIVATED' : roll < 0.03 ? 'SUSPENDED' : roll < 0.06 ? 'STAGED' : 'ACTIVATED';
    const user = org.createUser({
      username,
      email: `${username}@${domain}`,
      firstname: given,
      lastname: family,
      displayname: `${given} ${family}`,
      state,
      department: DEPARTMENTS[department]!,
      jobTitle: pick(TITLES),
      employeeIdentifier: `E${String(i + 1).padStart(6, '0')}`,
      employeeType: 'Full-time',
      company: 'Example Corp',
      costCenter: `CC-${100 + department}`,
      location: pick(['Berlin', 'Denver', 'Lisbon', 'Remote']),
      ...(managerIndex >= 0 ? { manager: userIds[managerIndex]! } : {}),
      ...(i % 10 === 0 ? { attributes: [{ name: 'level', value: String(1 + (i % 7)) }, { name: 'remote', value: String(i % 3 === 0) }] } : {}),
    });
    userIds.push(user._id);
  }

  const groupIds: string[] = [];
  for (let g = 0; g < options.groups; g += 1) {
    const isDepartment = g < DEPARTMENTS.length;
    const name = isDepartment ? `${DEPARTMENTS[g]} team` : `Project ${g}`;
    groupIds.push(org.createGroup({ name, description: `${name} (generated)`, email: `${name.toLowerCase().replace(/\s+/g, '-')}@${domain}` }).id);
  }
  if (groupIds.length === 0) return org;
  for (let i = 0; i < userIds.length; i += 1) {
    if (chart.departments[i]! < groupIds.length) org.addMember(groupIds[chart.departments[i]!]!, userIds[i]!);
  }
  for (let g = DEPARTMENTS.length; g < groupIds.length && userIds.length > 0; g += 1) {
    const size = 3 + Math.floor(random() * 12);
    for (let k = 0; k < size; k += 1) org.addMember(groupIds[g]!, userIds[Math.floor(random() * userIds.length)]!);
  }
  return org;
}
