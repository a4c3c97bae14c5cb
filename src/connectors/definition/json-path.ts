/**
 * Dotted paths into JSON documents. A key that itself exists (`@odata.nextLink`) is taken whole before
 * the path is split, because Graph's annotation names contain dots.
 */
export function getPath(value: unknown, path: string): unknown {
  if (path === '.') return value;
  if (!isRecord(value)) return undefined;
  if (Object.hasOwn(value, path)) return value[path];
  const dot = path.indexOf('.');
  if (dot < 0) return undefined;
  return getPath(value[path.slice(0, dot)], path.slice(dot + 1));
}

/** A deep copy without the given dotted paths (missing paths are ignored). */
export function withoutPaths<T>(value: T, paths: readonly string[]): T {
  const copy = structuredClone(value);
  for (const path of paths) deletePath(copy, path);
  return copy;
}

function deletePath(value: unknown, path: string): void {
  if (!isRecord(value)) return;
  if (Object.hasOwn(value, path)) {
    delete value[path];
    return;
  }
  const dot = path.indexOf('.');
  if (dot >= 0) deletePath(value[path.slice(0, dot)], path.slice(dot + 1));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
