import type { CanonicalUser } from './model.ts';
import type { RoleRule } from './policy.ts';

export interface GroupRef {
  id: string;
  name: string;
}

/** Roles a user holds under the organization's rules: by group (id or name) or by attribute value. */
export function deriveRoles(user: CanonicalUser, groups: readonly GroupRef[], rules: readonly RoleRule[]): string[] {
  const roles = new Set<string>();
  for (const rule of rules) {
    if ('group' in rule) {
      if (groups.some((g) => g.id === rule.group || g.name === rule.group)) roles.add(rule.role);
    } else {
      const value =
        rule.attribute in user
          ? (user as unknown as Record<string, unknown>)[rule.attribute]
          : user.custom_attributes[rule.attribute];
      if (value === rule.equals) roles.add(rule.role);
    }
  }
  return [...roles].sort();
}
