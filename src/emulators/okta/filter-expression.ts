import { OKTA_ERRORS } from './http-kit.ts';

/**
 * Okta's `filter` (and `search`) expressions: `status eq "ACTIVE" and (lastUpdated gt "2026-01-01T00:00:00.000Z"
 * or profile.department eq "Sales")`. Parsed once into a tree, checked against what the endpoint allows
 * (fields and their operators), then evaluated per object.
 */

export type Operator = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le' | 'sw' | 'co' | 'ew' | 'pr';
export type Literal = string | number | boolean | null;

export type CompareNode = { kind: 'compare'; field: string; op: Operator; value: Literal };
export type FilterNode = { kind: 'and' | 'or'; left: FilterNode; right: FilterNode } | CompareNode;

const OPERATORS = new Set<Operator>(['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'sw', 'co', 'ew', 'pr']);

type Token = { type: 'word'; text: string } | { type: 'string'; text: string } | { type: 'paren'; text: '(' | ')' };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const char = source[i]!;
    if (/\s/.test(char)) {
      i += 1;
    } else if (char === '(' || char === ')') {
      tokens.push({ type: 'paren', text: char });
      i += 1;
    } else if (char === '"') {
      let text = '';
      i += 1;
      for (;;) {
        if (i >= source.length) throw OKTA_ERRORS.badFilter('unterminated string literal');
        const next = source[i]!;
        if (next === '\\' && i + 1 < source.length) {
          text += source[i + 1];
          i += 2;
        } else if (next === '"') {
          i += 1;
          break;
        } else {
          text += next;
          i += 1;
        }
      }
      tokens.push({ type: 'string', text });
    } else {
      const match = /^[^\s()"]+/.exec(source.slice(i))!;
      tokens.push({ type: 'word', text: match[0] });
      i += match[0].length;
    }
  }
  return tokens;
}

export function parseFilter(source: string): FilterNode {
  const tokens = tokenize(source);
  let position = 0;
  const peek = () => tokens[position];
  const isWord = (token: Token | undefined, word: string) => token?.type === 'word' && token.text.toLowerCase() === word;

  function expression(): FilterNode {
    let left = conjunction();
    while (isWord(peek(), 'or')) {
      position += 1;
      left = { kind: 'or', left, right: conjunction() };
    }
    return left;
  }
  function conjunction(): FilterNode {
    let left = term();
    while (isWord(peek(), 'and')) {
      position += 1;
      left = { kind: 'and', left, right: term() };
    }
    return left;
  }
  function term(): FilterNode {
    const token = tokens[position++];
    if (token?.type === 'paren' && token.text === '(') {
      const inner = expression();
      const close = tokens[position++];
      if (close?.type !== 'paren' || close.text !== ')') throw OKTA_ERRORS.badFilter('missing ")"');
      return inner;
    }
    if (token?.type !== 'word') throw OKTA_ERRORS.badFilter(`expected an attribute, found ${token ? `"${token.text}"` : 'the end'}`);
    const opToken = tokens[position++];
    const op = opToken?.type === 'word' ? (opToken.text.toLowerCase() as Operator) : undefined;
    if (!op || !OPERATORS.has(op)) throw OKTA_ERRORS.badFilter(`unknown operator after ${token.text}`);
    if (op === 'pr') return { kind: 'compare', field: token.text, op, value: null };
    const valueToken = tokens[position++];
    if (!valueToken || valueToken.type === 'paren') throw OKTA_ERRORS.badFilter(`missing value after ${token.text} ${op}`);
    return { kind: 'compare', field: token.text, op, value: literal(valueToken) };
  }

  const tree = expression();
  if (position < tokens.length) throw OKTA_ERRORS.badFilter(`unexpected "${tokens[position]!.text}"`);
  return tree;
}

function literal(token: Token): Literal {
  if (token.type === 'string') return token.text;
  const text = token.text.toLowerCase();
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  throw OKTA_ERRORS.badFilter(`string values must be in double quotes: ${token.text}`);
}

/** Per field, the operators an endpoint's `filter` accepts; `*` stands for any field under a prefix (`profile.*`). */
export type AllowedFilters = Readonly<Record<string, readonly Operator[]>>;

/** Refuses a tree that uses a field or an operator the endpoint does not take, as Okta does. */
export function checkFilter(node: FilterNode, allowed: AllowedFilters): void {
  if (node.kind !== 'compare') {
    checkFilter(node.left, allowed);
    checkFilter(node.right, allowed);
    return;
  }
  const prefix = node.field.includes('.') ? `${node.field.slice(0, node.field.indexOf('.'))}.*` : undefined;
  const ops = allowed[node.field] ?? (prefix ? allowed[prefix] : undefined);
  if (!ops) throw OKTA_ERRORS.badFilter(`cannot filter on ${node.field}`);
  if (!ops.includes(node.op)) throw OKTA_ERRORS.badFilter(`${node.field} does not support the ${node.op} operator`);
}

const DATE_FIELDS = /(^|\.)(lastUpdated|lastMembershipUpdated|created|published|activated|statusChanged|lastLogin|passwordChanged)$/;

/** Evaluates a tree against an object; `read` resolves a dotted field. */
export function matchesFilter(node: FilterNode, read: (field: string) => unknown): boolean {
  if (node.kind !== 'compare') {
    return node.kind === 'and' ? matchesFilter(node.left, read) && matchesFilter(node.right, read) : matchesFilter(node.left, read) || matchesFilter(node.right, read);
  }
  const actual = read(node.field);
  // A multi-valued field (a log event's targets, a list attribute) matches when any of its values does.
  if (Array.isArray(actual)) return actual.some((one) => matchesValue(node, one));
  return matchesValue(node, actual);
}

function matchesValue(node: CompareNode, actual: unknown): boolean {
  if (node.op === 'pr') return actual !== undefined && actual !== null && actual !== '';
  if (DATE_FIELDS.test(node.field) && typeof node.value === 'string') {
    const wanted = Date.parse(node.value);
    if (Number.isNaN(wanted)) throw OKTA_ERRORS.badFilter(`${node.field} needs an ISO 8601 date, got "${node.value}"`);
    if (typeof actual !== 'string') return false;
    return compare(Date.parse(actual), wanted, node.op);
  }
  if (typeof actual === 'string' && typeof node.value === 'string') {
    // Okta compares logins and emails case-insensitively.
    return compare(actual.toLowerCase(), node.value.toLowerCase(), node.op);
  }
  return compare(actual, node.value, node.op);
}

function compare(actual: unknown, wanted: Literal, op: Operator): boolean {
  switch (op) {
    case 'eq':
      return actual === wanted;
    case 'ne':
      return actual !== wanted;
    case 'sw':
      return typeof actual === 'string' && typeof wanted === 'string' && actual.startsWith(wanted);
    case 'co':
      return typeof actual === 'string' && typeof wanted === 'string' && actual.includes(wanted);
    case 'ew':
      return typeof actual === 'string' && typeof wanted === 'string' && actual.endsWith(wanted);
    default: {
      if ((typeof actual !== 'number' && typeof actual !== 'string') || wanted === null || typeof wanted === 'boolean') return false;
      const a = actual as number | string;
      const b = wanted as number | string;
      return op === 'gt' ? a > b : op === 'ge' ? a >= b : op === 'lt' ? a < b : a <= b;
    }
  }
}

/** Reads a dotted field (`profile.login`, `target.id` is handled by callers) from an object. */
export function readField(value: unknown, field: string): unknown {
  let current: unknown = value;
  for (const key of field.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
