export type PathParams = Record<string, string>;

/**
 * Matches `/a/:b/c` style patterns; the decoded params, or undefined. Graph compares fixed segments
 * without regard to case, as its routes do.
 */
export function matchPath(pattern: string, path: string, options: { ignoreCase?: boolean } = {}): PathParams | undefined {
  const wanted = pattern.split('/');
  const actual = path.split('/');
  if (wanted.length !== actual.length) return undefined;
  const same = options.ignoreCase ? (a: string, b: string) => a.toLowerCase() === b.toLowerCase() : (a: string, b: string) => a === b;
  const params: PathParams = {};
  for (let i = 0; i < wanted.length; i += 1) {
    const part = wanted[i]!;
    if (part.startsWith(':')) params[part.slice(1)] = decodeURIComponent(actual[i]!);
    else if (!same(part, actual[i]!)) return undefined;
  }
  return params;
}
