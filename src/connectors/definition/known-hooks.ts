/**
 * The code hooks a definition may name. A hook is protocol behaviour that is not data (a delta link
 * protocol, push channels); naming one the engine does not implement must stop start-up, not be ignored.
 */
export const KNOWN_HOOKS = [
  'graph.usersDelta',
  'graph.groupsDelta',
  'graph.membersDelta',
  'graph.changeNotifications',
  'google.watchChannels',
  'okta.systemLogPoll',
  'okta.eventHooks',
] as const;
export type HookId = (typeof KNOWN_HOOKS)[number];

export function isKnownHook(id: string): id is HookId {
  return (KNOWN_HOOKS as readonly string[]).includes(id);
}
