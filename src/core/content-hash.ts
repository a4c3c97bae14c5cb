import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';

/** JSON with sorted keys: the same statement always serializes, and hashes, the same way. */
export function stableJson(value: unknown): string {
  return stringify(value) ?? 'null';
}

export function contentHash(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('base64url');
}
