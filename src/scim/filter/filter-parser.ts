import { invalidFilter, invalidPath } from '../scim-error.ts';
import { splitSchemaUrn, type ResourceSchema } from '../schema/attributes.ts';
import { COMPARE_OPERATORS, type AttributePath, type CompareOperator, type Filter, type FilterValue, type PatchPath } from './ast.ts';
import { describeToken, tokenize, type Token } from './tokenize.ts';

/**
 * The one recursive-descent parser behind `parseFilter` and `parsePatchPath`, so a value filter means the
 * same inside `?filter=` and inside a PATCH path. Grammar (RFC 7644 §3.4.2.2, precedence not > and > or):
 *
 *   filter     = or
 *   or         = and *("or" and)
 *   and        = unary *("and" unary)
 *   unary      = "not" unary / primary
 *   primary    = "(" or ")" / attrPath comparison / attrPath "[" or "]" [tail]
 *   comparison = "pr" / compareOp value
 *   tail       = "." ATTRNAME (comparison / "[" or "]" [tail]) / comparison      ; client extensions
 *   patchPath  = attrPath ["[" or "]" ["." ATTRNAME]]                             ; §3.5.2
 *
 * Hand-rolled because the grammar is small and the leniency real clients need (unquoted values, keywords
 * as attribute names, Entra's `emails[…].value eq`) is easier to keep exact here than in a generated parser.
 */

/** Deeper nesting than this is refused: no client needs it, and it bounds recursion on hostile input. */
export const MAX_NESTING_DEPTH = 50;

type Kind = 'filter' | 'path';

const OPERATORS: ReadonlySet<string> = new Set(COMPARE_OPERATORS);
const OPERATOR_LIST = [...COMPARE_OPERATORS, 'pr'].join(', ');
/** RFC 7643 §2.1 ATTRNAME, widened to `$` (`$ref`) and a leading `-`/digit/`_`, which scimmy accepts. */
const ATTRIBUTE_NAME = /^[A-Za-z0-9_$-]+$/;
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const JSON_LITERALS: ReadonlyMap<string, FilterValue> = new Map([['true', true], ['false', false], ['null', null]]);
/** Texts up to this length are quoted whole in error messages; longer ones only by position. */
const QUOTED_TEXT_LENGTH = 200;

const wordIs = (token: Token, keyword: string) => token.kind === 'word' && token.text.toLowerCase() === keyword;
const isOperatorWord = (token: Token) =>
  token.kind === 'word' && (OPERATORS.has(token.text.toLowerCase()) || token.text.toLowerCase() === 'pr');
/** `.value` after `emails[…]`: the tokenizer keeps the dot on the word that follows a `]`. */
const isSubAttributeWord = (token: Token) => token.kind === 'word' && token.text.startsWith('.');

/** `urn:…:User:manager.value`, for messages. */
export function formatAttributePath(path: AttributePath): string {
  const name = path.subAttribute === undefined ? path.attribute : `${path.attribute}.${path.subAttribute}`;
  return path.schema === undefined ? name : `${path.schema}:${name}`;
}

/**
 * An unquoted value. RFC 7644 only allows JSON literals, but clients send `userName sw O`, `value eq 123abc`
 * and `meta.created gt 2015-10-10T14:38:21.8617979-07:00`: a word that is exactly a JSON number, `true`,
 * `false` or `null` is that value, anything else is the string as written.
 */
function bareValue(text: string): FilterValue {
  const literal = JSON_LITERALS.get(text);
  if (literal !== undefined) return literal;
  if (!JSON_NUMBER.test(text)) return text;
  const number = Number(text);
  return Number.isFinite(number) ? number : text;
}

export class FilterParser {
  private readonly tokens: Token[];
  private index = 0;
  private depth = 0;

  constructor(
    private readonly text: string,
    private readonly kind: Kind,
    private readonly resource?: ResourceSchema,
  ) {
    this.tokens = tokenize(text, this.fail);
  }

  /** A whole `?filter=` expression. */
  parseFilter(): Filter {
    if (this.peek().kind === 'end') throw this.fail(0, 'the filter is empty');
    const filter = this.parseOr();
    this.expectEnd("'and', 'or' or the end of the filter");
    return filter;
  }

  /** A whole PATCH `path` (RFC 7644 §3.5.2): `attrPath` or `valuePath` with an optional `.subAttr`. */
  parsePatchPath(): PatchPath {
    if (this.peek().kind === 'end') throw this.fail(0, 'the path is empty');
    const path = this.parseAttributePath('an attribute name');
    if (this.peek().kind !== '[') {
      this.expectEnd("'[' or the end of the path");
      return { path };
    }
    const valueFilter = this.parseBracketedFilter(path);
    if (!isSubAttributeWord(this.peek())) {
      this.expectEnd("'.' and a sub-attribute, or the end of the path");
      return { path, valueFilter };
    }
    const subAttribute = this.parseSubAttributeName();
    this.expectEnd('the end of the path');
    return { path, valueFilter, subAttribute };
  }

  // ── logical layer ─────────────────────────────────────────────────────────────────────────────────

  private parseOr(): Filter {
    let left = this.parseAnd();
    while (this.acceptKeyword('or')) left = { kind: 'or', left, right: this.parseAnd() };
    return left;
  }

  private parseAnd(): Filter {
    let left = this.parseUnary();
    while (this.acceptKeyword('and')) left = { kind: 'and', left, right: this.parseUnary() };
    return left;
  }

  private parseUnary(): Filter {
    if (!this.negationAhead()) return this.parsePrimary();
    const not = this.next();
    return this.nested(not, () => ({ kind: 'not', filter: this.parseUnary() }));
  }

  /**
   * Whether a `not` ahead is the keyword or an attribute named "not" (scimmy's fixtures have both:
   * `not eq pr`, `not not sw "A"`). It is the keyword when a filter starts after it: a `(` (RFC 7644's
   * only form), a word followed by an operator or `[` (the parenthesis-less form clients send), or another
   * such `not`. Otherwise (`not pr`, `not eq "x"`) it is the name of the attribute being compared.
   */
  private negationAhead(): boolean {
    if (!wordIs(this.peek(), 'not')) return false;
    // A loop rather than recursion over `not not not …`; it stops at the `end` token at the latest.
    for (let offset = 1; ; offset += 1) {
      const [token, after] = [this.peek(offset), this.peek(offset + 1)];
      if (token.kind === '(') return true;
      if (token.kind !== 'word') return false;
      if (after.kind === '[' || isOperatorWord(after)) return true;
      if (!wordIs(token, 'not')) return false;
    }
  }

  private parsePrimary(): Filter {
    const open = this.peek();
    if (open.kind !== '(') return this.parseAttributeExpression();
    this.next();
    const filter = this.nested(open, () => this.parseOr());
    this.expect(')', `')' closing the '(' at position ${open.position}, or 'and'/'or'`);
    return filter;
  }

  // ── attribute expressions ─────────────────────────────────────────────────────────────────────────

  private parseAttributeExpression(): Filter {
    const path = this.parseAttributePath("an attribute name, '(' or 'not'");
    if (this.peek().kind !== '[') return this.parseComparison(path);
    return this.parseValuePathTail(path, this.parseBracketedFilter(path));
  }

  /** `[filter]` after an attribute: its element filter, whose attribute names are relative to an element. */
  private parseBracketedFilter(path: AttributePath): Filter {
    const open = this.next();
    if (path.subAttribute !== undefined) {
      throw this.fail(open.position, `'[' filters the elements of a multi-valued attribute, not '${formatAttributePath(path)}'`);
    }
    const filter = this.nested(open, () => this.parseOr());
    this.expect(']', `']' closing the '[' at position ${open.position}, or 'and'/'or'`);
    return filter;
  }

  /**
   * What may follow `attr[filter]` inside a filter. RFC 7644 allows nothing, but clients send more:
   * - `emails[type eq "work"].value eq "x"` (Microsoft Entra ID) compares a sub-attribute of the matching
   *   elements: `emails[type eq "work" and value eq "x"]`. scimmy chains on: `….values[domain ew "x"]`.
   * - `emails[type eq "work"] pr` / `… co "A"` (scimmy): the filtered elements exist (the value path
   *   itself) / their `value` compares, just as `emails co "A"` compares the unfiltered ones' values.
   */
  private parseValuePathTail(path: AttributePath, elementFilter: Filter): Filter {
    const valuePath = (filter: Filter): Filter => ({ kind: 'valuePath', path, filter });
    const next = this.peek();
    if (isSubAttributeWord(next)) {
      const sub: AttributePath = { attribute: this.parseSubAttributeName() };
      const term = this.peek().kind === '[' ? this.parseValuePathTail(sub, this.parseBracketedFilter(sub)) : this.parseComparison(sub);
      return valuePath({ kind: 'and', left: elementFilter, right: term });
    }
    if (wordIs(next, 'pr')) {
      this.next();
      return valuePath(elementFilter);
    }
    if (isOperatorWord(next)) return valuePath({ kind: 'and', left: elementFilter, right: this.parseComparison({ attribute: 'value' }) });
    return valuePath(elementFilter);
  }

  private parseComparison(path: AttributePath): Filter {
    const token = this.peek();
    const subject = `'${formatAttributePath(path)}'`;
    if (token.kind !== 'word') {
      throw this.fail(token.position, `expected an operator (${OPERATOR_LIST}) after ${subject}, found ${this.describe(token)}`);
    }
    const operator = token.text.toLowerCase();
    if (operator === 'pr') {
      this.next();
      return { kind: 'present', path };
    }
    if (!OPERATORS.has(operator)) {
      throw this.fail(token.position, `unknown operator '${token.text}' after ${subject} (expected one of ${OPERATOR_LIST})`);
    }
    this.next();
    return { kind: 'compare', path, operator: operator as CompareOperator, value: this.parseValue(token.text) };
  }

  private parseValue(operator: string): FilterValue {
    const token = this.peek();
    if (token.kind === 'string') {
      this.next();
      return token.value;
    }
    if (token.kind === 'word') {
      this.next();
      return bareValue(token.text);
    }
    throw this.fail(token.position, `expected a value after '${operator}', found ${this.describe(token)}`);
  }

  /**
   * `userName`, `name.givenName`, `urn:…:enterprise:2.0:User:manager.value`. The schema URN is split off
   * with the resource type's known schema ids, because URNs contain dots (`2.0`) that are not sub-attributes.
   */
  private parseAttributePath(expected: string): AttributePath {
    const token = this.peek();
    if (token.kind !== 'word') throw this.fail(token.position, `expected ${expected}, found ${this.describe(token)}`);
    this.next();
    const { schema, rest } = splitSchemaUrn(this.resource, token.text);
    if (schema !== undefined && rest === '') {
      throw this.fail(token.position, `expected an attribute name after the schema URN '${schema}'`);
    }
    const parts = rest.split('.');
    if (!parts.every((part) => ATTRIBUTE_NAME.test(part))) {
      throw this.fail(token.position, `'${token.text}' is not an attribute path (names are letters, digits, '_', '-', '$')`);
    }
    if (parts.length > 2) {
      throw this.fail(token.position, `'${token.text}' has more than one sub-attribute level (at most 'attribute.subAttribute')`);
    }
    const [attribute = '', subAttribute] = parts;
    return {
      ...(schema !== undefined && { schema }),
      attribute,
      ...(subAttribute !== undefined && { subAttribute }),
    };
  }

  /** The name in a `.subAttribute` word (callers have checked that one is next). */
  private parseSubAttributeName(): string {
    const token = this.next();
    const name = token.kind === 'word' ? token.text.slice(1) : '';
    if (!ATTRIBUTE_NAME.test(name)) throw this.fail(token.position, `expected a sub-attribute name after '.', found ${this.describe(token)}`);
    return name;
  }

  // ── token helpers ─────────────────────────────────────────────────────────────────────────────────

  private peek(ahead = 0): Token {
    // The last token is always `end`, so looking past it keeps answering `end`.
    return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index += 1;
    return token;
  }

  private acceptKeyword(keyword: 'and' | 'or'): boolean {
    if (!wordIs(this.peek(), keyword)) return false;
    this.next();
    return true;
  }

  private expect(kind: ')' | ']', expected: string): void {
    const token = this.peek();
    if (token.kind !== kind) throw this.fail(token.position, `expected ${expected}, found ${this.describe(token)}`);
    this.next();
  }

  private expectEnd(expected: string): void {
    const token = this.peek();
    if (token.kind === 'end') return;
    if (token.kind === ')' || token.kind === ']') {
      throw this.fail(token.position, `'${token.kind}' without a matching '${token.kind === ')' ? '(' : '['}'`);
    }
    throw this.fail(token.position, `expected ${expected}, found ${this.describe(token)}`);
  }

  /** Runs one level of `(`, `[` or `not` nesting, refusing to go deeper than MAX_NESTING_DEPTH. */
  private nested(opening: Token, parse: () => Filter): Filter {
    this.depth += 1;
    if (this.depth > MAX_NESTING_DEPTH) {
      throw this.fail(opening.position, `nested more than ${MAX_NESTING_DEPTH} levels deep`);
    }
    const filter = parse();
    this.depth -= 1;
    return filter;
  }

  private describe(token: Token): string {
    return describeToken(token, this.kind);
  }

  /** The ScimError for a syntax error: `invalidFilter` in a filter, `invalidPath` in a PATCH path. */
  private readonly fail = (position: number, message: string): Error => {
    const quoted = this.text.length <= QUOTED_TEXT_LENGTH ? ` '${this.text}'` : '';
    const error = this.kind === 'filter' ? invalidFilter : invalidPath;
    return error(`Invalid ${this.kind}${quoted} at position ${position}: ${message}.`);
  };
}
