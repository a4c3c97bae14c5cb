import type { ResourceSchema } from '../schema/attributes.ts';
import type { PatchPath } from './ast.ts';
import { FilterParser } from './filter-parser.ts';

/**
 * Parses a PATCH operation's `path` (RFC 7644 §3.5.2): `members`, `name.givenName`,
 * `emails[type eq "work"]`, `emails[type eq "work"].value`, `urn:…:enterprise:2.0:User:manager.value`.
 * The value filter inside `[…]` is parsed by the same parser as `?filter=`, so it has the same syntax and
 * leniency (`members[value eq 123abc].$ref`).
 *
 * `resource` splits schema URNs off attribute names, as for filters; whether the attribute exists is for the
 * caller to decide against its schema.
 *
 * @throws ScimError `invalidPath` (400), naming the position and what was expected.
 */
export function parsePatchPath(text: string, resource?: ResourceSchema): PatchPath {
  return new FilterParser(text, 'path', resource).parsePatchPath();
}
