import type { JumpCloudOrg } from './org-model.ts';

/**
 * Changes to the directory while a client is paging through it, on demand. JumpCloud pages by offset
 * (`skip`), so a user removed before the page a client is at shifts everyone after it one place back and
 * the client skips a user it never sees; a user added before it shifts everyone forward and the client
 * sees one user twice and the newcomer never. A test arms a rule; the emulator applies it just before it
 * answers the chosen list request, i.e. between two page requests of one scan.
 */
export interface DriftRule {
  /** Which listing counts and drifts; default `systemusers` (users are added or removed). */
  resource?: 'systemusers' | 'usergroups';
  /** Apply before answering this list request of the resource, counted from when the rule is armed (default 2: after the first page). */
  beforeRequest?: number;
  /** Users (or groups) to add… */
  insert?: number;
  /** …with ids before every existing one (`start`, default: they land on pages already read) or after (`end`). */
  insertAt?: 'start' | 'end';
  /** Users (or groups) to remove: how many from the start of the id order, or these ids. */
  remove?: number | readonly string[];
  /** Apply this many times, every `beforeRequest` requests (default 1). */
  times?: number;
}

export interface DriftApplied {
  resource: 'systemusers' | 'usergroups';
  /** The list request (1-based since the rule was armed) it was applied before. */
  request: number;
  inserted: string[];
  removed: string[];
}

interface ArmedDrift {
  rule: DriftRule;
  seen: number;
  applied: number;
}

export class DriftSwitch {
  private armed: ArmedDrift[] = [];
  readonly history: DriftApplied[] = [];
  private serial = 0;

  constructor(private readonly org: JumpCloudOrg) {}

  arm(rule: DriftRule): void {
    if ((rule.insert ?? 0) <= 0 && (typeof rule.remove === 'number' ? rule.remove <= 0 : (rule.remove?.length ?? 0) === 0)) {
      throw new Error('a drift rule needs insert or remove');
    }
    this.armed.push({ rule, seen: 0, applied: 0 });
  }

  clear(): void {
    this.armed = [];
  }

  /** Called as a list request of `resource` arrives, before it is answered. */
  beforeList(resource: 'systemusers' | 'usergroups'): void {
    for (const drift of this.armed) {
      if ((drift.rule.resource ?? 'systemusers') !== resource) continue;
      drift.seen += 1;
      const every = Math.max(1, drift.rule.beforeRequest ?? 2);
      if (drift.seen % every !== 0) continue;
      drift.applied += 1;
      this.history.push({ resource, request: drift.seen, ...this.apply(resource, drift.rule) });
    }
    this.armed = this.armed.filter((drift) => drift.applied < (drift.rule.times ?? 1));
  }

  private apply(resource: 'systemusers' | 'usergroups', rule: DriftRule): { inserted: string[]; removed: string[] } {
    const ids = resource === 'systemusers' ? [...this.org.userIds()] : this.org.listGroups().map((group) => group.id);
    const victims = typeof rule.remove === 'number' ? ids.slice(0, rule.remove) : [...(rule.remove ?? [])];
    for (const id of victims) {
      if (resource === 'systemusers') this.org.deleteUser(id);
      else this.org.deleteGroup(id);
    }
    const inserted: string[] = [];
    for (let i = 0; i < (rule.insert ?? 0); i += 1) {
      const n = ++this.serial;
      const early = (rule.insertAt ?? 'start') === 'start';
      if (resource === 'systemusers') {
        const username = `drift.newcomer.${n}`;
        inserted.push(this.org.createUser({ username, email: `${username}@drift.example.com`, firstname: 'Drift', lastname: `Newcomer ${n}`, displayname: `Drift Newcomer ${n}` }, { early })._id);
      } else {
        inserted.push(this.org.createGroup({ name: `Drift group ${n}` }, { early }).id);
      }
    }
    return { inserted, removed: victims };
  }
}
