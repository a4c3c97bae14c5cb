import { monotonicFactory } from 'ulidx';

/** Roster ids are a type prefix and a ULID: sortable by creation, unique across processes, readable in logs. */
export const ID_PREFIXES = {
  organization: 'org',
  connection: 'conn',
  user: 'user',
  group: 'grp',
  conflict: 'cfl',
  event: 'evt',
  syncRun: 'run',
  apiKey: 'key',
  audit: 'aud',
  webhookEndpoint: 'whep',
  webhookDelivery: 'whd',
  webhookAttempt: 'wha',
  webhookMessage: 'msg',
  scimResource: 'scim',
  pushChannel: 'chan',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

const ulid = monotonicFactory();

export function newId(kind: IdKind): string {
  return `${ID_PREFIXES[kind]}_${ulid().toLowerCase()}`;
}

const ID_PATTERN = /^[a-z]{3,4}_[0-9a-hjkmnp-tv-z]{26}$/;

export function isId(kind: IdKind, value: string): boolean {
  return ID_PATTERN.test(value) && value.startsWith(`${ID_PREFIXES[kind]}_`);
}
