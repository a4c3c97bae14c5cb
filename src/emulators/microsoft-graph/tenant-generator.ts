import { JOB_TITLES as TITLES } from '../kit/names.ts';
import { OrgChart } from '../kit/org-chart.ts';
import { pickWith, seededRandom } from '../kit/seeded-random.ts';
import { GraphTenant } from './tenant-model.ts';

export interface GenerateTenantOptions {
  users: number;
  groups: number;
  seed?: number;
  domain?: string;
  tenantId?: string;
  now?: () => number;
}

const GIVEN = ['Adele', 'Bianca', 'Cameron', 'Diego', 'Emily', 'Finn', 'Grady', 'Henrietta', 'Isaiah', 'Johanna', 'Kai', 'Lee', 'Megan', 'Nestor', 'Olivia', 'Patti', 'Raul', 'Sofia', 'Tomas', 'Uri', 'Vance', 'Wanda', 'Xin', 'Yusuf', 'Zara'];
const FAMILY = ['Vance', 'Pisani', 'White', 'Ramos', 'Braun', 'Ito', 'Archie', 'Novak', 'Levy', 'Larsen', 'Moreno', 'Gonzales', 'Bowen', 'Sato', 'Kowal', 'Fern', 'Okoro', 'Qureshi', 'Reyes', 'Smith'];
const DEPARTMENTS = ['Engineering', 'Sales', 'Marketing', 'Finance', 'Human Resources', 'Legal', 'Support', 'Operations', 'Product', 'Research'];

/**
 * Builds a tenant deterministically: user 0 is the global admin, managers form a tree of fan-out 8, one
 * security group per department holding its people, other groups with a few members, some nested. About
 * 2 % of accounts are disabled, some have no mailbox (`mail` null), some have aliases.
 */
export function generateTenant(options: GenerateTenantOptions): GraphTenant {
  const random = seededRandom((options.seed ?? 1) * 7919);
  const pick = pickWith(random);
  const domain = options.domain ?? 'contoso.onmicrosoft.com';
  const tenant = new GraphTenant({ domain, seed: options.seed ?? 1, ...(options.tenantId ? { tenantId: options.tenantId } : {}), ...(options.now ? { now: options.now } : {}) });
  const userIds: string[] = [];
  const chart = new OrgChart(random, { givenNames: GIVEN, familyNames: FAMILY, adminFamily: 'Global', departmentCount: DEPARTMENTS.length });

  for (let i = 0; i < options.users; i += 1) {
    const { given, family, local, managerIndex, department } = chart.next();
    const mailbox = i % 17 !== 5;
    const user = tenant.createUser(
      {
        userPrincipalName: `${local}@${domain}`,
        displayName: `${given} ${family}`,
        givenName: given,
        surname: family,
        mail: mailbox ? `${local}@${domain}` : null,
        accountEnabled: i === 0 || random() >= 0.02,
        department: DEPARTMENTS[department]!,
        jobTitle: pick(TITLES),
        employeeId: `E${String(i + 1).padStart(6, '0')}`,
        employeeType: i % 11 === 0 ? 'Contractor' : 'Employee',
        companyName: 'Contoso',
        officeLocation: `${10 + (i % 30)}/${1000 + i}`,
        businessPhones: i % 3 === 0 ? [`+1 425 555 ${String(1000 + i).slice(-4)}`] : [],
        otherMails: i % 9 === 0 ? [`${local}@personal.example`] : [],
        proxyAddresses: mailbox ? [`SMTP:${local}@${domain}`, ...(i % 4 === 0 ? [`smtp:${local}@contoso.com`] : [])] : [],
        managerId: managerIndex >= 0 ? userIds[managerIndex]! : null,
      },
      true,
    );
    userIds.push(user.id);
  }

  const groupIds: string[] = [];
  for (let g = 0; g < options.groups; g += 1) {
    const isDepartment = g < DEPARTMENTS.length;
    const name = isDepartment ? `${DEPARTMENTS[g]} team` : `Project ${g}`;
    const unified = !isDepartment && g % 2 === 0;
    const nickname = name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    const group = tenant.createGroup(
      {
        displayName: name,
        description: `${name} (generated)`,
        mailNickname: nickname,
        mail: unified ? `${nickname}@${domain}` : null,
        mailEnabled: unified,
        securityEnabled: !unified,
        groupTypes: unified ? ['Unified'] : [],
      },
      true,
    );
    groupIds.push(group.id);
  }
  if (groupIds.length === 0 || userIds.length === 0) return tenant;

  // Everyone is in their department's group; with fewer groups than departments, departments share them.
  const departmentGroups = Math.min(groupIds.length, DEPARTMENTS.length);
  for (let i = 0; i < userIds.length; i += 1) tenant.addMember(groupIds[chart.departments[i]! % departmentGroups]!, userIds[i]!, true);
  for (let g = DEPARTMENTS.length; g < groupIds.length; g += 1) {
    const size = 3 + Math.floor(random() * 20);
    for (let k = 0; k < size; k += 1) {
      const member = userIds[Math.floor(random() * userIds.length)]!;
      if (!tenant.membersOf(groupIds[g]!).some((m) => m.id === member)) tenant.addMember(groupIds[g]!, member, true);
    }
    // Nested only into lower-numbered groups, so membership stays acyclic.
    if (g > DEPARTMENTS.length && random() < 0.3) tenant.addMember(groupIds[g]!, groupIds[DEPARTMENTS.length + Math.floor(random() * (g - DEPARTMENTS.length))]!, true);
  }
  // With fewer groups than departments, still nest one so nested members are always exercised.
  if (groupIds.length >= 2 && !groupIds.some((id) => tenant.membersOf(id).some((m) => m.type === 'group'))) tenant.addMember(groupIds[0]!, groupIds[1]!, true);
  return tenant;
}
