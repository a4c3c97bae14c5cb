import { stableJson } from './content-hash.ts';
import type { FieldChanges, JsonObject, JsonValue } from './model.ts';

/** Fields that change on every write and so never count as a change of their own. */
const BOOKKEEPING = new Set(['updated_at', 'created_at', 'state_changed_at']);

/** `{field: {from, to}}` for every top-level field whose value differs; empty when nothing changed. */
export function diffObjects(before: JsonObject, after: JsonObject): FieldChanges {
  const changes: FieldChanges = {};
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const key of keys) {
    if (BOOKKEEPING.has(key)) continue;
    const from = (before[key] ?? null) as JsonValue;
    const to = (after[key] ?? null) as JsonValue;
    if (from === to) continue;
    if (typeof from === 'object' || typeof to === 'object') {
      if (stableJson(from) === stableJson(to)) continue;
    }
    changes[key] = { from, to };
  }
  return changes;
}

export function hasChanges(changes: FieldChanges): boolean {
  for (const _ in changes) return true;
  return false;
}
