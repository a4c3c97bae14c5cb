import type { JsonValue } from '../../core/model.ts';
import type { ScimAttribute } from '../schema/attributes.ts';
import type { CompareOperator, FilterValue } from './ast.ts';

/**
 * How one stored value compares with a filter's value (RFC 7644 §3.4.2.2). The stored value's JSON type
 * decides: it was coerced to the attribute's type on write, whereas the filter's type is partly an accident
 * of syntax (`employeeNumber eq 123` is a number only because the client left out the quotes).
 */

type Ordering = 'eq' | 'gt' | 'ge' | 'lt' | 'le';
const ORDERINGS: Record<Ordering, (difference: number) => boolean> = {
  eq: (d) => d === 0,
  gt: (d) => d > 0,
  ge: (d) => d >= 0,
  lt: (d) => d < 0,
  le: (d) => d <= 0,
};
const isOrdering = (operator: CompareOperator): operator is Ordering => operator in ORDERINGS;

/** RFC 7643 §2.5: null and an empty array are "unassigned"; so, for a filter, are "" and {}. */
export function isPresent(value: JsonValue | undefined): boolean {
  if (value === undefined || value === null || value === '') return false;
  if (Array.isArray(value)) return value.some(isPresent);
  if (typeof value === 'object') return Object.values(value).some(isPresent);
  return true;
}

/**
 * `actual op expected` for one stored value that is not null. `definition` is the attribute's, when the
 * schema knows it (it decides `caseExact` and whether strings are dateTimes). `ne` is exactly "not eq".
 */
export function compareValue(actual: JsonValue, operator: CompareOperator, expected: FilterValue, definition?: ScimAttribute): boolean {
  if (operator === 'ne') return !compareValue(actual, 'eq', expected, definition);
  if (expected === null) return false;
  if (typeof actual === 'string') return compareStrings(actual, operator, expected, definition);
  if (typeof actual === 'number') return typeof expected === 'number' && isOrdering(operator) && ORDERINGS[operator](actual - expected);
  if (typeof actual === 'boolean') return operator === 'eq' && asBoolean(expected) === actual;
  return false;
}

/**
 * Strings: case-insensitively unless the attribute is caseExact (RFC 7643 §2.2; attributes the schema does
 * not know count as not caseExact), dateTimes as instants when both sides parse as one. A number or boolean
 * compared to a string attribute is compared as written (`employeeNumber eq 123`).
 */
function compareStrings(actual: string, operator: Exclude<CompareOperator, 'ne'>, expected: string | number | boolean, definition?: ScimAttribute): boolean {
  const wanted = String(expected);
  if (definition?.type === 'dateTime' && isOrdering(operator)) {
    const [left, right] = [instant(actual), instant(wanted)];
    if (left !== undefined && right !== undefined) return ORDERINGS[operator](left - right);
  }
  const fold = (text: string) => (definition?.caseExact ? text : text.toLowerCase());
  const [left, right] = [fold(actual), fold(wanted)];
  switch (operator) {
    case 'co':
      return left.includes(right);
    case 'sw':
      return left.startsWith(right);
    case 'ew':
      return left.endsWith(right);
    default:
      return ORDERINGS[operator](left < right ? -1 : left > right ? 1 : 0);
  }
}

/**
 * A filter value as a boolean: `true`/`false`, or the strings "True"/"False" in any case, which Microsoft
 * Entra ID sends for boolean attributes. Anything else is no boolean, so it equals neither.
 */
function asBoolean(value: FilterValue): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') return undefined;
  const lower = value.toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : undefined;
}

/** RFC 3339 / ISO 8601 shapes only: `Date.parse` also reads things like "5" as a date, which must stay text. */
const ISO_8601 = /^\d{4}-\d{2}(?:-\d{2})?(?<time>[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?<zone>[Zz]|[+-]\d{2}:\d{2})?)?$/;

/**
 * A dateTime as milliseconds since the epoch, or undefined when it is not one. A time without a zone is read
 * as UTC rather than the server's local time, so results do not depend on where Roster runs. Precision stops
 * at the millisecond (`.8617979` compares as `.861`).
 */
function instant(text: string): number | undefined {
  const groups = ISO_8601.exec(text)?.groups;
  if (!groups) return undefined;
  const milliseconds = Date.parse(groups.time !== undefined && groups.zone === undefined ? `${text}Z` : text);
  return Number.isNaN(milliseconds) ? undefined : milliseconds;
}
