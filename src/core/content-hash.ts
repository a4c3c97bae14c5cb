import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';

/** JSON with sorted keys: the same statement always serializes, and hashes, the same way. */
export function stableJson(value: unknown): string {
  return stringify(value) ?? 'null';
}

/** Hash of already-serialized parts (kept apart by a separator no JSON text contains). */
export function contentHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('base64url');
}
