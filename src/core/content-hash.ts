import { hash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';

/** JSON with sorted keys: the same statement always serializes, and hashes, the same way. */
export function stableJson(value: unknown): string {
  return stringify(value) ?? 'null';
}

/** Hash of already-serialized parts (kept apart by a separator no JSON text contains). */
export function contentHash(...parts: string[]): string {
  // One-shot hashing: no Hash object per record, which matters at hundreds of thousands of records.
  return hash('sha256', parts.join('\u0000'), 'base64url');
}
