import type { Generated } from 'kysely';
import type { ConflictRow } from '../core/conflicts.ts';

/**
 * The relational schema, shared by SQLite and PostgreSQL. Timestamps are ISO-8601 UTC strings (they sort
 * as text on both engines); JSON documents are text. Every row carries its organization, so the schema can
 * be partitioned by organization later.
 */
export interface OrganizationsTable {
  id: string;
  name: string;
  policy: string;
  /** Last event sequence handed out for this organization; bumped under the organization row lock. */
  event_sequence: number;
  created_at: string;
  updated_at: string;
}

export interface ConnectionsTable {
  id: string;
  organization_id: string;
  type: string;
  category: string;
  name: string;
  state: string;
  state_reason: string | null;
  config: string;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface SourceRecordsTable {
  organization_id: string;
  connection_id: string;
  kind: string;
  external_id: string;
  /** Membership records name their group and user by the source's ids. */
  group_external_id: string | null;
  user_external_id: string | null;
  /** Nesting records name the group inside `group_external_id` here. */
  child_group_external_id: string | null;
  raw: string;
  normalized: string;
  content_hash: string;
  /** What a listing mapped the record from (migration 008); null when it was stated otherwise. */
  source_hash: string | null;
  first_seen_at: string;
  last_seen_at: string;
  tombstoned_at: string | null;
  tombstone_reason: string | null;
}

/**
 * Which records a snapshot (or a push while it ran) contained. Kept apart from the wide source records so
 * marking 100k records as seen is a narrow insert, not a rewrite of every row; dropped when the run ends.
 */
export interface SnapshotRecordsTable {
  organization_id: string;
  run_id: string;
  kind: string;
  external_id: string;
}

export interface IdentityLinksTable {
  organization_id: string;
  connection_id: string;
  kind: string;
  external_id: string;
  canonical_id: string;
  method: string;
  created_at: string;
}

export interface UserIdentifiersTable {
  organization_id: string;
  kind: string;
  value: string;
  user_id: string;
  connection_id: string;
  external_id: string;
}

/** A user whose record names someone (a manager) Roster could not resolve yet; re-derived when they appear. */
export interface UnresolvedReferencesTable {
  organization_id: string;
  ref_key: string;
  user_id: string;
}

export interface UsersTable {
  id: string;
  organization_id: string;
  state: string;
  email: string | null;
  employee_id: string | null;
  data: string;
  /** Per-attribute connection preferences set by an admin resolving a conflict. */
  pins: string;
  created_at: string;
  updated_at: string;
}

export interface GroupsTable {
  id: string;
  organization_id: string;
  connection_id: string;
  name: string;
  state: string;
  data: string;
  created_at: string;
  updated_at: string;
}

export interface MembershipsTable {
  organization_id: string;
  group_id: string;
  user_id: string;
  created_at: string;
}

/** A conflict row is the core's `ConflictRow` (details as JSON text). */
export type ConflictsTable = ConflictRow;

export interface EventsTable {
  position: Generated<number>;
  id: string;
  organization_id: string;
  sequence: number;
  type: string;
  occurred_at: string;
  data: string;
  changes: string | null;
  source: string | null;
}

export interface SyncRunsTable {
  id: string;
  organization_id: string;
  connection_id: string;
  kind: string;
  status: string;
  counters: string;
  held: string | null;
  error: string | null;
  started_at: string;
  finished_at: string | null;
  updated_at: string;
  /** `manual`, `schedule`, `push`, `api` (a pushed snapshot), `activation`. */
  trigger: string | null;
  /** JSON: where a pull resumes; written with the records it follows. */
  checkpoint: string | null;
  /** JSON: phase, pages, records, rate and ETA while running. */
  progress: string | null;
  lease_owner: string | null;
  lease_until: string | null;
  attempts: number;
  /** The kind of run to queue when this one ends, asked for by a push while it ran. */
  follow_up: string | null;
}

/** A pull connection's credentials, sealed by the secret box as one JSON document. */
export interface ConnectionSecretsTable {
  connection_id: string;
  organization_id: string;
  sealed: string;
  updated_at: string;
}

/** When each tier of a connection runs next; claimed by a conditional update, so one process wins. */
export interface SyncSchedulesTable {
  connection_id: string;
  organization_id: string;
  tier: string;
  interval_seconds: number;
  next_run_at: string;
  last_run_at: string | null;
}

/** Where a delta source's next round starts (Graph deltaLink, Okta System Log `next`). */
export interface SyncCursorsTable {
  connection_id: string;
  organization_id: string;
  cursor: string;
  updated_at: string;
}

/** A push channel a provider delivers change notifications through (Google users.watch). */
export interface PushChannelsTable {
  id: string;
  connection_id: string;
  organization_id: string;
  resource_id: string;
  token_hash: string;
  expires_at: string;
  created_at: string;
  stopped_at: string | null;
}

/** A group inside a group, both active (the canonical side of `group_nesting` records). */
export interface GroupNestingsTable {
  organization_id: string;
  group_id: string;
  child_group_id: string;
  created_at: string;
}

/** A push delivery's event id already acted on (Okta event hook uuid). */
export interface PushEventsTable {
  connection_id: string;
  event_id: string;
  received_at: string;
}

/** An OAuth consent under way: the state's hash, and the sealed PKCE verifier and redirect URI. */
export interface OauthStatesTable {
  state_hash: string;
  connection_id: string;
  organization_id: string;
  sealed: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface ApiKeysTable {
  id: string;
  /** Null for an environment-wide admin key; set for a key that reaches exactly one organization. */
  organization_id: string | null;
  name: string;
  prefix: string;
  key_hash: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface AuditLogTable {
  id: string;
  organization_id: string | null;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  details: string;
  occurred_at: string;
}

export interface WebhookEndpointsTable {
  id: string;
  /** Null: an environment-wide endpoint (events of every organization). */
  organization_id: string | null;
  url: string;
  description: string | null;
  /** JSON array of event types, or `["*"]`. */
  event_types: string;
  enabled: number;
  disabled_reason: string | null;
  batch_size: number;
  /** Sealed by the secret box. */
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: string | null;
  cursor_position: number;
  failing_since: string | null;
  failed_attempts: number;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface WebhookDeliveriesTable {
  id: string;
  endpoint_id: string;
  organization_id: string;
  event_id: string;
  event_position: number;
  /** `pending`, `delivered` or `failed`. */
  status: string;
  attempts: number;
  next_attempt_at: string;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
}

export interface WebhookQueuesTable {
  endpoint_id: string;
  organization_id: string;
  next_attempt_at: string | null;
  lease_owner: string | null;
  lease_until: string | null;
}

export interface WebhookAttemptsTable {
  id: string;
  delivery_id: string;
  endpoint_id: string;
  webhook_id: string;
  attempted_at: string;
  status_code: number | null;
  latency_ms: number;
  response_excerpt: string | null;
  error: string | null;
}

/** The SHA-256 of a SCIM connection's bearer token; the token itself is shown once. */
export interface ScimTokensTable {
  connection_id: string;
  organization_id: string;
  token_hash: string;
  created_at: string;
}

/** One lookup key of a live SCIM resource: `(attribute, value)` → resource id. */
export interface ScimIndexTable {
  organization_id: string;
  connection_id: string;
  resource_type: string;
  attribute: string;
  value_key: string;
  resource_id: string;
}

export interface Schema {
  organizations: OrganizationsTable;
  connections: ConnectionsTable;
  source_records: SourceRecordsTable;
  snapshot_records: SnapshotRecordsTable;
  identity_links: IdentityLinksTable;
  user_identifiers: UserIdentifiersTable;
  unresolved_references: UnresolvedReferencesTable;
  users: UsersTable;
  groups: GroupsTable;
  memberships: MembershipsTable;
  conflicts: ConflictsTable;
  events: EventsTable;
  sync_runs: SyncRunsTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_queues: WebhookQueuesTable;
  webhook_attempts: WebhookAttemptsTable;
  scim_tokens: ScimTokensTable;
  scim_index: ScimIndexTable;
  connection_secrets: ConnectionSecretsTable;
  sync_schedules: SyncSchedulesTable;
  sync_cursors: SyncCursorsTable;
  push_channels: PushChannelsTable;
  push_events: PushEventsTable;
  group_nestings: GroupNestingsTable;
  oauth_states: OauthStatesTable;
}
