import { stableJson } from './content-hash.ts';
import type { JsonObject } from './model.ts';

export const CONFLICT_KINDS = ['attribute', 'identity_ambiguous'] as const;
export type ConflictKind = (typeof CONFLICT_KINDS)[number];

/**
 * How a conflict was closed: the sources came to agree, a record got linked, or an admin decided —
 * `accepted` keeps the policy's winner (the same disagreement does not reopen), `preferred` pins one
 * connection as the winner of that attribute for that person.
 */
export const CONFLICT_RESOLUTIONS = ['sources_agree', 'linked', 'accepted', 'preferred', 'subject_removed'] as const;
export type ConflictResolution = (typeof CONFLICT_RESOLUTIONS)[number];

export interface ConflictRow {
  id: string;
  organization_id: string;
  kind: string;
  subject_type: string;
  subject_id: string;
  attribute: string | null;
  fingerprint: string;
  details: string;
  status: string;
  resolution: string | null;
  resolved_by: string | null;
  opened_at: string;
  resolved_at: string | null;
}

/** The public shape of a conflict, in the API and in `conflict.*` events. */
export function conflictView(row: ConflictRow): JsonObject {
  return {
    id: row.id,
    organization_id: row.organization_id,
    kind: row.kind,
    subject_type: row.subject_type,
    subject_id: row.subject_id,
    attribute: row.attribute,
    details: JSON.parse(row.details),
    status: row.status,
    resolution: row.resolution,
    resolved_by: row.resolved_by,
    opened_at: row.opened_at,
    resolved_at: row.resolved_at,
  };
}

export function fingerprint(value: unknown): string {
  return stableJson(value);
}
