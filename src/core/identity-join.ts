import type { Policy } from './policy.ts';

/** The identity-join keys of one user record. */
export interface JoinKeys {
  connection_id: string;
  employee_id: string | null;
  emails: string[];
}

export type JoinDecision =
  | { kind: 'link'; user_id: string; method: 'employee_id' | 'email' }
  | { kind: 'new' }
  | { kind: 'ambiguous'; rule: 'employee_id' | 'email'; candidates: string[] };

export interface IdentityIndex {
  /** Users whose linked records carry this identifier. */
  usersWith(kind: 'employee_id' | 'email', value: string): readonly string[];
  /** Whether the user already has a record from this connection (then this record is someone else). */
  hasRecordFrom(userId: string, connectionId: string): boolean;
}

/**
 * Which canonical user an unlinked record belongs to, by the organization's ordered join rules.
 * The first rule that finds exactly one candidate links; two or more candidates stop the join
 * (an identity_ambiguous conflict, never a guess); no candidate under any rule makes a new user.
 */
export function decideIdentity(keys: JoinKeys, policy: Policy, index: IdentityIndex): JoinDecision {
  for (const rule of policy.identity_join) {
    const values = rule === 'employee_id' ? (keys.employee_id ? [keys.employee_id] : []) : keys.emails;
    const candidates = new Set<string>();
    for (const value of values) {
      for (const userId of index.usersWith(rule, value)) {
        if (!index.hasRecordFrom(userId, keys.connection_id)) candidates.add(userId);
      }
    }
    if (candidates.size === 1) return { kind: 'link', user_id: [...candidates][0]!, method: rule };
    if (candidates.size > 1) return { kind: 'ambiguous', rule, candidates: [...candidates].sort() };
  }
  return { kind: 'new' };
}
