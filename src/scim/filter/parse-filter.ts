import type { ResourceSchema } from '../schema/attributes.ts';
import type { Filter } from './ast.ts';
import { FilterParser } from './filter-parser.ts';

/**
 * Parses a `?filter=` expression (RFC 7644 §3.4.2.2), with the leniency real provisioning clients need:
 * case-insensitive keywords and operators, `not` without parentheses, unquoted values, and Microsoft Entra
 * ID's `emails[type eq "work"].value eq "x"`.
 *
 * `resource` is only used to split schema URNs off attribute names (`urn:…:enterprise:2.0:User:manager.value`
 * contains dots that are not sub-attributes); attribute names are kept as written and not checked against
 * the schema, since an unknown attribute simply matches nothing.
 *
 * @throws ScimError `invalidFilter` (400), naming the position and what was expected.
 */
export function parseFilter(text: string, resource?: ResourceSchema): Filter {
  return new FilterParser(text, 'filter', resource).parseFilter();
}
