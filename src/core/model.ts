/** The canonical model: what Roster stores and serves. No I/O here. */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** What kind of system a connection is; attribute ownership defaults are expressed in these terms. */
export const CONNECTION_CATEGORIES = ['idp', 'hris', 'directory', 'file'] as const;
export type ConnectionCategory = (typeof CONNECTION_CATEGORIES)[number];

export const USER_STATES = ['active', 'suspended', 'inactive', 'pending'] as const;
export type UserState = (typeof USER_STATES)[number];

export const RECORD_KINDS = ['user', 'group', 'membership', 'group_nesting'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/** A reference to a person as a source names it, e.g. a manager. */
export interface PersonRef {
  employee_id?: string | undefined;
  email?: string | undefined;
  external_id?: string | undefined;
}

/** What one source says about one person, in canonical terms (a connector's projection of its raw payload). */
export interface NormalizedUser {
  email?: string | null | undefined;
  /** Further addresses of the same person (aliases); all are used for the email identity join. */
  emails?: string[] | undefined;
  username?: string | null | undefined;
  employee_id?: string | null | undefined;
  first_name?: string | null | undefined;
  last_name?: string | null | undefined;
  display_name?: string | null | undefined;
  department?: string | null | undefined;
  title?: string | null | undefined;
  manager?: PersonRef | null | undefined;
  state?: UserState | null | undefined;
  /** ISO dates (YYYY-MM-DD). */
  start_date?: string | null | undefined;
  end_date?: string | null | undefined;
  custom_attributes?: JsonObject | undefined;
}

export interface NormalizedGroup {
  name: string;
  description?: string | null | undefined;
  email?: string | null | undefined;
}

/** The attributes of a canonical user that ownership rules decide, one source at a time. */
export const OWNED_USER_ATTRIBUTES = [
  'email',
  'username',
  'employee_id',
  'first_name',
  'last_name',
  'display_name',
  'department',
  'title',
  'manager_id',
  'state',
  'start_date',
  'end_date',
] as const;
export type OwnedUserAttribute = (typeof OWNED_USER_ATTRIBUTES)[number];

export interface CanonicalUser {
  id: string;
  organization_id: string;
  state: UserState;
  state_reason: string | null;
  /** The connection whose record decided the state. */
  state_source: string | null;
  state_changed_at: string;
  email: string | null;
  emails: string[];
  username: string | null;
  employee_id: string | null;
  first_name: string | null;
  last_name: string | null;
  display_name: string | null;
  department: string | null;
  title: string | null;
  manager_id: string | null;
  start_date: string | null;
  end_date: string | null;
  custom_attributes: JsonObject;
  roles: string[];
  created_at: string;
  updated_at: string;
}

export const GROUP_STATES = ['active', 'deleted'] as const;
export type GroupState = (typeof GROUP_STATES)[number];

export interface CanonicalGroup {
  id: string;
  organization_id: string;
  connection_id: string;
  external_id: string;
  name: string;
  description: string | null;
  email: string | null;
  state: GroupState;
  created_at: string;
  updated_at: string;
}

export interface ConnectionRef {
  id: string;
  type: string;
  category: ConnectionCategory;
  /** Orders connections of one category when several own an attribute. */
  created_at: string;
  /** A deleted connection's records count as removed (`connection_deleted`). */
  deleted_at?: string | null;
}

/** One connection's statement about one external object, as stored. */
export interface SourceRecord {
  connection_id: string;
  kind: RecordKind;
  external_id: string;
  normalized: JsonObject;
  raw: JsonValue;
  tombstoned_at: string | null;
  tombstone_reason: string | null;
  first_seen_at: string;
  last_seen_at: string;
}

export const EVENT_TYPES = [
  'user.created',
  'user.updated',
  'user.deactivated',
  'user.reactivated',
  'user.deleted',
  'group.created',
  'group.updated',
  'group.deleted',
  'group.member_added',
  'group.member_removed',
  'group.nested_group_added',
  'group.nested_group_removed',
  'role.assigned',
  'role.unassigned',
  'connection.activated',
  'connection.state_changed',
  'connection.needs_reauth',
  'connection.deleted',
  'sync.started',
  'sync.completed',
  'sync.failed',
  'sync.deprovision_held',
  'conflict.opened',
  'conflict.resolved',
  'webhook_endpoint.disabled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type FieldChanges = Record<string, { from: JsonValue; to: JsonValue }>;

export interface EventSource {
  connection_id: string | null;
  connection_type: string | null;
  sync_run_id: string | null;
}

/** An event before it has its id and per-organization sequence (assigned when appended). */
export interface EventDraft {
  type: EventType;
  data: JsonObject;
  changes: FieldChanges | null;
  /** `data` already serialized, when the writer had it (a user's row and its event share one JSON). */
  data_json?: string;
}

export interface Event extends EventDraft {
  id: string;
  organization_id: string;
  sequence: number;
  occurred_at: string;
  source: EventSource | null;
}
