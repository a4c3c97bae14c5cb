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

/**
 * The value without the given dotted paths (missing paths are ignored), leaving `value` untouched. Only
 * the objects on a removed path are copied; everything else is shared with `value`, which is how a
 * parsed provider payload (plain JSON, never mutated afterwards) is stored without copying it whole.
 */
export function withoutPaths<T>(value: T, paths: readonly string[]): T {
  let out: unknown = value;
  for (const path of paths) out = withoutPath(out, path);
  return out as T;
}

function withoutPath(value: unknown, path: string): unknown {
  if (!isRecord(value)) return value;
  if (Object.hasOwn(value, path)) {
    const { [path]: _removed, ...rest } = value;
    return rest;
  }
  const dot = path.indexOf('.');
  if (dot < 0) return value;
  const key = path.slice(0, dot);
  if (!Object.hasOwn(value, key)) return value;
  const inner = withoutPath(value[key], path.slice(dot + 1));
  return inner === value[key] ? value : { ...value, [key]: inner };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
