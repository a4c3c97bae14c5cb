import { conflictError } from './errors.ts';
import type { EventType } from './model.ts';

/**
 * The life cycle of a connection, as a table: which states may follow which. Every change of state goes
 * through `assertTransition`, so a state the table does not allow cannot be written anywhere.
 */
export const CONNECTION_STATES = [
  'draft',
  'validating',
  'active',
  'needs_reauth',
  'invalid_credentials',
  'paused',
  'error',
  'deleting',
] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];

export const CONNECTION_TRANSITIONS: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  // Being set up: credentials are checked before anything syncs.
  draft: ['validating', 'deleting'],
  validating: ['active', 'invalid_credentials', 'error', 'draft', 'deleting'],
  // Healthy. Credentials can break under it (refused refresh, revoked key), a sync can fail, an admin can pause.
  active: ['paused', 'needs_reauth', 'invalid_credentials', 'error', 'validating', 'deleting'],
  // Waiting for an admin to consent again; new credentials are validated before sync resumes.
  needs_reauth: ['validating', 'active', 'paused', 'deleting'],
  invalid_credentials: ['validating', 'paused', 'deleting'],
  // Sync stopped on purpose; resuming re-checks credentials (pull) or goes straight back to active (push).
  paused: ['active', 'validating', 'deleting'],
  // Sync failed; a later success brings it back, or an admin pauses it.
  error: ['active', 'validating', 'paused', 'needs_reauth', 'invalid_credentials', 'deleting'],
  // Terminal: the connection is being torn down and then marked deleted.
  deleting: [],
};

export function isConnectionState(value: string): value is ConnectionState {
  return (CONNECTION_STATES as readonly string[]).includes(value);
}

export function canTransition(from: ConnectionState, to: ConnectionState): boolean {
  return CONNECTION_TRANSITIONS[from].includes(to);
}

/** Refuses a transition the table does not allow, with 409 `invalid_state_transition`. */
export function assertTransition(connectionId: string, from: ConnectionState, to: ConnectionState): void {
  if (canTransition(from, to)) return;
  const allowed = CONNECTION_TRANSITIONS[from];
  throw conflictError(
    'invalid_state_transition',
    `Connection '${connectionId}' cannot go from '${from}' to '${to}'` +
      (allowed.length > 0 ? ` (allowed from '${from}': ${allowed.join(', ')}).` : ` ('${from}' is final).`),
    { connection_id: connectionId, from, to, allowed: [...allowed] },
  );
}

/**
 * Which events a transition emits, besides being a `connection.state_changed`: the states clients act on
 * (first activation, a needed re-consent) get their own type so a consumer can subscribe to just those.
 */
export function transitionEventTypes(from: ConnectionState | null, to: ConnectionState): EventType[] {
  if (from === null) return to === 'active' ? ['connection.activated'] : [];
  const types: EventType[] = ['connection.state_changed'];
  if (to === 'active' && (from === 'draft' || from === 'validating')) types.push('connection.activated');
  if (to === 'needs_reauth') types.push('connection.needs_reauth');
  return types;
}

/** Connection types that sources push into (the ingest API, a SCIM endpoint): Roster holds no credentials of theirs. */
const PUSHED_TYPES = new Set(['push', 'scim']);

/**
 * Where `resume` takes a paused connection: a pushed-into connection has no credentials to check and is
 * active at once; a pull connection re-validates its credentials first, since they may have changed while paused.
 */
export function stateAfterResume(type: string): ConnectionState {
  return PUSHED_TYPES.has(type) ? 'active' : 'validating';
}

/**
 * States in which a connection's records are accepted (pushed, pages of a snapshot, a pull's pages):
 * active, and `error` — a failed sync does not make what the source says next any less true, and the
 * next successful sync is what brings the connection back.
 */
export const ACCEPTS_RECORDS: readonly ConnectionState[] = ['active', 'error'];

export function assertAcceptsRecords(connection: { id: string; state: string }): void {
  if (!(ACCEPTS_RECORDS as readonly string[]).includes(connection.state)) {
    throw conflictError(
      'connection_not_active',
      `Connection '${connection.id}' is ${connection.state}; records are accepted only while it is active (or in error after a failed sync).`,
      { state: connection.state },
    );
  }
}
