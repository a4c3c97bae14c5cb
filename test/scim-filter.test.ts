import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import type { JsonObject } from '../src/core/model.ts';
import type { AttributePath, CompareOperator, Filter, FilterValue, PatchPath } from '../src/scim/filter/ast.ts';
import { matchesElement, matchesFilter, matchingElementIndexes } from '../src/scim/filter/evaluate-filter.ts';
import { MAX_NESTING_DEPTH } from '../src/scim/filter/filter-parser.ts';
import { parseFilter } from '../src/scim/filter/parse-filter.ts';
import { parsePatchPath } from '../src/scim/filter/parse-path.ts';
import { MAX_TEXT_LENGTH } from '../src/scim/filter/tokenize.ts';
import { assertThrowsScimError } from './support/scim.ts';
import { attr, type ResourceSchema, type ScimAttribute } from '../src/scim/schema/attributes.ts';
import { ENTERPRISE_USER_SCHEMA_ID, GROUP_RESOURCE, GROUP_SCHEMA, USER_RESOURCE, USER_SCHEMA } from '../src/scim/schema/resource-schemas.ts';

/**
 * The SCIM filter module on its own (RFC 7644 §3.4.2.2 filters, §3.5.2 PATCH paths): scimmy's filter
 * fixtures first, then the syntax and matching rules real provisioning clients rely on, then every error.
 */

const ENTERPRISE = ENTERPRISE_USER_SCHEMA_ID;
const CORE = USER_SCHEMA.id;

// ── scimmy's object notation ────────────────────────────────────────────────────────────────────────

/**
 * scimmy writes filters as a list of alternatives (joined by `or`), each an object of conditions (joined by
 * `and`) keyed by attribute name. A condition is `[op, value?]` or `["not", op, value?]`, a list of those on
 * one attribute, an object of sub-attribute conditions (scimmy writes `emails[type eq "work"]` and
 * `emails.type eq "work"` alike), or `[{sub-attribute conditions}, [op, value?]…]` for both at once. It cannot
 * say "no element matches" (`not emails[…]`): for that we write `["not", {…}]`. It lower-cases the first letter
 * of names; names are case-insensitive (RFC 7643 §2.1), so converting ours the same way loses nothing.
 */
type Conditions = Record<string, unknown>;

type Literal =
  | { kind: 'comparison'; path: string[]; comparison: unknown[] }
  | { kind: 'noElement'; path: string[]; element: Literal[] };

const lowerFirst = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);
const segments = (path: AttributePath) =>
  [path.schema, path.attribute, path.subAttribute].filter((s): s is string => s !== undefined).map(lowerFirst);

/** Our AST in disjunctive normal form, negations pushed down to comparisons (De Morgan). */
function alternatives(filter: Filter, prefix: string[] = [], negated = false): Literal[][] {
  switch (filter.kind) {
    case 'compare':
    case 'present': {
      const comparison = filter.kind === 'present' ? ['pr'] : [filter.operator, filter.value];
      return [[{ kind: 'comparison', path: [...prefix, ...segments(filter.path)], comparison: negated ? ['not', ...comparison] : comparison }]];
    }
    case 'not':
      return alternatives(filter.filter, prefix, !negated);
    case 'and':
    case 'or': {
      const [left, right] = [alternatives(filter.left, prefix, negated), alternatives(filter.right, prefix, negated)];
      return (filter.kind === 'and') !== negated ? left.flatMap((l) => right.map((r) => [...l, ...r])) : [...left, ...right];
    }
    case 'valuePath': {
      const path = [...prefix, ...segments(filter.path)];
      if (!negated) return alternatives(filter.filter, path);
      // "No element matches A or B" is "none matches A and none matches B".
      return [alternatives(filter.filter).map((element): Literal => ({ kind: 'noElement', path, element }))];
    }
  }
}

interface Node {
  comparisons: unknown[];
  children: Map<string, Node>;
}

const newNode = (): Node => ({ comparisons: [], children: new Map() });

function conditionsOf(literals: Literal[]): Conditions {
  const root = newNode();
  for (const literal of literals) {
    let node = root;
    for (const segment of literal.path) {
      if (!node.children.has(segment)) node.children.set(segment, newNode());
      node = node.children.get(segment) as Node;
    }
    node.comparisons.push(literal.kind === 'comparison' ? literal.comparison : ['not', conditionsOf(literal.element)]);
  }
  return render(root.children);
}

function render(children: Map<string, Node>): Conditions {
  const conditions: Conditions = {};
  for (const [name, node] of children) {
    const nested = node.children.size > 0 ? [render(node.children)] : [];
    const parts = [...nested, ...node.comparisons];
    conditions[name] = parts.length === 1 ? parts[0] : parts;
  }
  return conditions;
}

const toScimmy = (filter: Filter): Conditions[] => alternatives(filter).map(conditionsOf);

/** The reverse, for the `match` fixtures: scimmy's notation as filter text, which our parser then reads. */
function scimmyToFilter(expression: Conditions | Conditions[]): string {
  if (Array.isArray(expression)) return expression.map((alternative) => `(${conditionsToFilter(alternative)})`).join(' or ');
  return conditionsToFilter(expression);
}

function conditionsToFilter(conditions: Conditions): string {
  return Object.entries(conditions)
    .map(([name, condition]) => conditionToFilter(name, condition))
    .join(' and ');
}

function conditionToFilter(name: string, condition: unknown): string {
  if (Array.isArray(condition) && typeof condition[0] === 'string') {
    const [first, ...rest] = condition as [string, ...FilterValue[]];
    // As written (`nOt`), which also exercises case-insensitive keywords.
    if (first.toLowerCase() === 'not') return `${first} (${conditionToFilter(name, rest)})`;
    return [name, first, ...rest.map((value) => JSON.stringify(value))].join(' ');
  }
  if (Array.isArray(condition)) {
    const [head, ...tail] = condition as unknown[];
    // `[{sub-attribute conditions}, [op, value?]]`: scimmy's `emails[type eq "work"] pr`.
    if (typeof head === 'object' && head !== null && !Array.isArray(head)) {
      return tail.map((c) => `${name}[${conditionsToFilter(head as Conditions)}] ${(c as unknown[]).map((v, i) => (i === 0 ? v : JSON.stringify(v))).join(' ')}`).join(' and ');
    }
    return condition.map((c) => conditionToFilter(name, c)).join(' and ');
  }
  const entries = Object.entries(condition as Conditions);
  if (entries.length === 1) {
    const [[sub, subCondition]] = entries as [[string, unknown]];
    if (Array.isArray(subCondition)) return conditionToFilter(`${name}.${sub}`, subCondition);
  }
  // Several sub-attribute conditions together: scimmy means one element satisfying all of them.
  return `${name}[${conditionsToFilter(condition as Conditions)}]`;
}

// ── scimmy fixtures ─────────────────────────────────────────────────────────────────────────────────

const FIXTURE = resolve(import.meta.dirname, '..', '../shared/conformance/fixtures/scimmy/test_lib_types_filter.json');

interface FilterFixtures {
  parse: Record<string, Array<{ source: string; target: Conditions[] }>>;
  expression: Record<string, Array<{ source: Conditions[]; target: string }>>;
  match: { source: JsonObject[]; targets: Record<string, Array<{ expression: Conditions | Conditions[]; expected: number[] }>> };
}

const FIXTURES: FilterFixtures | undefined = existsSync(FIXTURE) ? (JSON.parse(readFileSync(FIXTURE, 'utf8')) as FilterFixtures) : undefined;

const EMPLOYEE_TYPE = { userType: ['eq', 'Employee'] };
const BY_VALUE_PATH = 'Roster reads `attr[filter] pr` (scimmy syntax, not RFC 7644) as "a filtered element exists", which is the value path itself; scimmy keeps the `pr` as a separate condition on the attribute. The same users match (see the `nesting` match fixture).';
const BY_ELEMENT_VALUE = 'Roster reads `attr[filter] op "x"` (scimmy syntax, not RFC 7644) as the filtered elements\' `value` compared, as `emails co "x"` compares the values of all emails; it is written as that sub-attribute condition.';
const NOT_WHOLE_TERM = '`not` negates the whole attribute expression after it: "no such email", which scimmy\'s notation cannot say (our `["not", {…}]`); scimmy negates only the trailing comparison ("a work email without a value").';
const DE_MORGAN = 'not (A or B) is (not A) and (not B); scimmy distributes the `not` without De Morgan, i.e. reads (not A) or (not B), which is not what the filter says.';

/**
 * Parse/expression fixture cases whose scimmy notation Roster deliberately does not reproduce, by filter
 * text, with Roster's notation instead. Each entry must still differ from scimmy's, and all must be used.
 */
const NOTATION_DIFFERENCES: Record<string, { reason: string; ours: Conditions[] }> = {
  'emails[type eq "work"] pr': { reason: BY_VALUE_PATH, ours: [{ emails: { type: ['eq', 'work'] } }] },
  'emails[not type eq "work"] pr': { reason: BY_VALUE_PATH, ours: [{ emails: { type: ['not', 'eq', 'work'] } }] },
  'userType eq "Employee" and emails[type eq "work" or primary eq true] pr': {
    reason: BY_VALUE_PATH,
    ours: [{ ...EMPLOYEE_TYPE, emails: { type: ['eq', 'work'] } }, { ...EMPLOYEE_TYPE, emails: { primary: ['eq', true] } }],
  },
  'userType eq "Employee" and emails[type eq "work"] pr or userType eq "Employee" and emails[primary eq true] pr': {
    reason: BY_VALUE_PATH,
    ours: [{ ...EMPLOYEE_TYPE, emails: { type: ['eq', 'work'] } }, { ...EMPLOYEE_TYPE, emails: { primary: ['eq', true] } }],
  },
  'emails[type eq "work"] co "A"': { reason: BY_ELEMENT_VALUE, ours: [{ emails: { type: ['eq', 'work'], value: ['co', 'A'] } }] },
  'emails[not type eq "work"] co "A"': { reason: BY_ELEMENT_VALUE, ours: [{ emails: { type: ['not', 'eq', 'work'], value: ['co', 'A'] } }] },
  'not emails[type eq "work"].value pr': { reason: NOT_WHOLE_TERM, ours: [{ emails: ['not', { type: ['eq', 'work'], value: ['pr'] }] }] },
  'not emails[not type eq "work"] co "A"': {
    reason: `${NOT_WHOLE_TERM} ${BY_ELEMENT_VALUE}`,
    ours: [{ emails: ['not', { type: ['not', 'eq', 'work'], value: ['co', 'A'] }] }],
  },
  'userName sw "A" and not (userName ew "Z" or displayName co "Bob")': {
    reason: DE_MORGAN,
    ours: [{ userName: [['sw', 'A'], ['not', 'ew', 'Z']], displayName: ['not', 'co', 'Bob'] }],
  },
  'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")': {
    reason: DE_MORGAN,
    ours: [{ userType: ['ne', 'Employee'], emails: [{ value: ['not', 'co', 'example.org'] }, ['not', 'co', 'example.com']] }],
  },
};

const CASE_INSENSITIVE = 'userName is not caseExact (RFC 7643 §4.1.1), so `co "A"` also matches "MeganB"; scimmy, without a schema, compares case-sensitively.';
const NOT_RFC_OPERATOR = 'not an RFC 7644 §3.4.2.2 operator: Roster answers 400 invalidFilter, as the RFC requires for unknown operators (`np` is scimmy\'s "not present", which RFC filters write `not (attr pr)`).';

/** `match` fixture cases Roster answers differently, by `<group>[<index>]`: other ids, or a rejected filter. */
const MATCH_DIFFERENCES: Record<string, { reason: string } & ({ ours: number[] } | { rejected: true; rfcEquivalent?: string })> = {
  'comparators[2]': { reason: CASE_INSENSITIVE, ours: [1, 2, 4] },
  'comparators[11]': { reason: NOT_RFC_OPERATOR, rejected: true, rfcEquivalent: 'not (userName pr)' },
  'comparators[12]': { reason: NOT_RFC_OPERATOR, rejected: true, rfcEquivalent: 'not (exists pr)' },
  'nesting[2]': { reason: CASE_INSENSITIVE, ours: [1, 2, 4] },
  'logicalOr[1]': { reason: `${CASE_INSENSITIVE} Here "AdeleV" matches \`co "a"\`.`, ours: [1, 2, 4] },
  'unknown[0]': { reason: NOT_RFC_OPERATOR, rejected: true },
};

/** The match fixtures' resources carry `date`, `number` and `exists`: once typed, once unknown to the schema. */
const TYPED_SCHEMA: ResourceSchema = {
  ...USER_RESOURCE,
  core: {
    ...USER_SCHEMA,
    attributes: [...USER_SCHEMA.attributes, attr('date', { type: 'dateTime' }), attr('number', { type: 'integer' }), attr('exists', { type: 'boolean' })],
  },
};
const UNTYPED_SCHEMA: ResourceSchema = { ...USER_RESOURCE, core: { ...USER_SCHEMA, attributes: [] }, extensions: [] };

const usedDifferences = new Set<string>();

function checkNotation(text: string, scimmy: Conditions[]): void {
  const ours = toScimmy(parseFilter(text, USER_RESOURCE));
  const difference = NOTATION_DIFFERENCES[text];
  if (!difference) return assert.deepEqual(ours, scimmy);
  usedDifferences.add(text);
  assert.deepEqual(ours, difference.ours, difference.reason);
  assert.notDeepEqual(ours, scimmy, `'${text}' now matches scimmy: drop it from NOTATION_DIFFERENCES`);
}

function matchingIds(text: string, resources: JsonObject[], schema: ResourceSchema): number[] {
  const filter = parseFilter(text, schema);
  return resources.filter((resource) => matchesFilter(filter, resource, schema)).map((resource) => resource.id as number);
}

describe('scimmy filter fixtures', () => {
  if (!FIXTURES) {
    console.warn(`scim-filter: scimmy fixtures not found at ${FIXTURE}; those cases are skipped.`);
    test('scimmy fixtures', (t) => t.skip(`fixture file absent (${FIXTURE})`));
    return;
  }
  const { parse, expression, match } = FIXTURES;

  for (const [group, cases] of Object.entries(parse)) {
    cases.forEach(({ source, target }, index) => {
      test(`parse ${group}[${index}]: ${source}`, () => checkNotation(source, target));
    });
  }

  // scimmy's `expression` cases turn its notation into text; we read that text back into the notation.
  for (const [group, cases] of Object.entries(expression)) {
    cases.forEach(({ source, target }, index) => {
      test(`expression ${group}[${index}]: ${target}`, () => checkNotation(target, source));
    });
  }

  for (const [group, cases] of Object.entries(match.targets)) {
    cases.forEach(({ expression: scimmy, expected }, index) => {
      const key = `${group}[${index}]`;
      const text = scimmyToFilter(scimmy);
      test(`match ${key}: ${text}`, () => {
        const difference = MATCH_DIFFERENCES[key];
        if (difference) usedDifferences.add(key);
        for (const schema of [TYPED_SCHEMA, UNTYPED_SCHEMA]) {
          if (difference && 'rejected' in difference) {
            assertThrowsScimError(() => parseFilter(text, schema), 'invalidFilter', 'unknown operator');
            if (difference.rfcEquivalent) assert.deepEqual(matchingIds(difference.rfcEquivalent, match.source, schema), expected);
            continue;
          }
          const ids = matchingIds(text, match.source, schema);
          if (!difference) {
            assert.deepEqual(ids, expected);
            continue;
          }
          assert.deepEqual(ids, difference.ours, difference.reason);
          assert.notDeepEqual(ids, expected, `${key} now matches scimmy: drop it from MATCH_DIFFERENCES`);
        }
      });
    });
  }

  test('every expected difference is exercised by a fixture case', () => {
    const listed = [...Object.keys(NOTATION_DIFFERENCES), ...Object.keys(MATCH_DIFFERENCES)];
    assert.deepEqual(listed.filter((key) => !usedDifferences.has(key)), []);
  });
});

// ── parsing ─────────────────────────────────────────────────────────────────────────────────────────

/** `name.givenName` → its AttributePath (no URN). */
function pathOf(text: string): AttributePath {
  const [attribute = '', subAttribute] = text.split('.');
  return subAttribute === undefined ? { attribute } : { attribute, subAttribute };
}
const cmp = (path: string, operator: CompareOperator, value: FilterValue): Filter => ({ kind: 'compare', path: pathOf(path), operator, value });
const pr = (path: string): Filter => ({ kind: 'present', path: pathOf(path) });
const and = (left: Filter, right: Filter): Filter => ({ kind: 'and', left, right });
const or = (left: Filter, right: Filter): Filter => ({ kind: 'or', left, right });
const not = (filter: Filter): Filter => ({ kind: 'not', filter });
const valuePath = (path: string, filter: Filter): Filter => ({ kind: 'valuePath', path: pathOf(path), filter });

describe('parseFilter', () => {
  test('precedence: not binds tighter than and, and tighter than or; both associate left', () => {
    assert.deepEqual(parseFilter('a pr or b pr and c pr'), or(pr('a'), and(pr('b'), pr('c'))));
    assert.deepEqual(parseFilter('a pr and b pr or c pr'), or(and(pr('a'), pr('b')), pr('c')));
    assert.deepEqual(parseFilter('not a pr and b pr'), and(not(pr('a')), pr('b')));
    assert.deepEqual(parseFilter('a pr and b pr and c pr'), and(and(pr('a'), pr('b')), pr('c')));
    assert.deepEqual(parseFilter('a pr or b pr or c pr'), or(or(pr('a'), pr('b')), pr('c')));
  });

  test('grouping overrides precedence, at any depth', () => {
    assert.deepEqual(parseFilter('(a pr or b pr) and c pr'), and(or(pr('a'), pr('b')), pr('c')));
    assert.deepEqual(parseFilter('not (a pr or b pr)'), not(or(pr('a'), pr('b'))));
    assert.deepEqual(parseFilter('((a pr)) and (not (b pr) or ((c pr)))'), and(pr('a'), or(not(pr('b')), pr('c'))));
  });

  test('keywords and operators are case-insensitive; whitespace is any blank', () => {
    assert.deepEqual(
      parseFilter('userName Eq "x" AND NOT (title PR) oR active eq true'),
      or(and(cmp('userName', 'eq', 'x'), not(pr('title'))), cmp('active', 'eq', true)),
    );
    assert.deepEqual(parseFilter('userName\teq "x"\n and  title pr'), and(cmp('userName', 'eq', 'x'), pr('title')));
  });

  test('values: JSON strings with escapes, numbers, true/false/null', () => {
    assert.deepEqual(parseFilter('a eq "say \\"hi\\" \\u00e9\\\\"'), cmp('a', 'eq', 'say "hi" é\\'));
    assert.deepEqual(parseFilter('a gt 1.5'), cmp('a', 'gt', 1.5));
    assert.deepEqual(parseFilter('a gt 2e2'), cmp('a', 'gt', 200));
    assert.deepEqual(parseFilter('a gt -3'), cmp('a', 'gt', -3));
    assert.deepEqual(parseFilter('a eq true or a eq false or a eq null'), or(or(cmp('a', 'eq', true), cmp('a', 'eq', false)), cmp('a', 'eq', null)));
  });

  test('unquoted values are strings unless they are exactly a JSON number, boolean or null', () => {
    assert.deepEqual(parseFilter('userName sw O'), cmp('userName', 'sw', 'O'));
    assert.deepEqual(parseFilter('value eq 123abc'), cmp('value', 'eq', '123abc'));
    assert.deepEqual(parseFilter('value eq 123'), cmp('value', 'eq', 123));
    assert.deepEqual(
      parseFilter('meta.Created gt 2015-10-10T14:38:21.8617979-07:00'),
      cmp('meta.Created', 'gt', '2015-10-10T14:38:21.8617979-07:00'),
    );
    assert.deepEqual(parseFilter('(value eq abc)'), cmp('value', 'eq', 'abc'));
    assert.deepEqual(parseFilter('active eq True'), cmp('active', 'eq', 'True'));
  });

  test('attribute names may hold $ and -, and keywords may be attribute names', () => {
    assert.deepEqual(parseFilter('$ref eq null'), cmp('$ref', 'eq', null));
    assert.deepEqual(parseFilter('valid$Name pr and x-custom-id eq "1"'), and(pr('valid$Name'), cmp('x-custom-id', 'eq', '1')));
    assert.deepEqual(parseFilter('not pr'), pr('not'));
    assert.deepEqual(parseFilter('not eq "x"'), cmp('not', 'eq', 'x'));
    assert.deepEqual(parseFilter('not eq pr'), not(pr('eq')));
    assert.deepEqual(parseFilter('and pr and or pr'), and(pr('and'), pr('or')));
  });

  test('value paths, alone or inside and/or, and Entra ID\'s `emails[type eq "work"].value eq "x"`', () => {
    const work = cmp('type', 'eq', 'work');
    assert.deepEqual(parseFilter('emails[type eq "work" and value co "@x"]'), valuePath('emails', and(work, cmp('value', 'co', '@x'))));
    assert.deepEqual(
      parseFilter('userType eq "Employee" and (emails[type eq "work"] or ims[type eq "xmpp"])'),
      and(cmp('userType', 'eq', 'Employee'), or(valuePath('emails', work), valuePath('ims', cmp('type', 'eq', 'xmpp')))),
    );
    assert.deepEqual(parseFilter('emails[type eq "work"].value eq "x"'), valuePath('emails', and(work, cmp('value', 'eq', 'x'))));
    assert.deepEqual(parseFilter('not emails[type eq "work"]'), not(valuePath('emails', work)));
  });

  test('schema URNs are split off with the resource type\'s schema ids, dots and all', () => {
    const employeeNumber = parseFilter(`${ENTERPRISE}:employeeNumber eq "701984"`, USER_RESOURCE);
    assert.deepEqual(employeeNumber, { kind: 'compare', path: { schema: ENTERPRISE, attribute: 'employeeNumber' }, operator: 'eq', value: '701984' });
    const manager: Filter = { kind: 'compare', path: { schema: ENTERPRISE, attribute: 'manager', subAttribute: 'value' }, operator: 'eq', value: 'm-1' };
    assert.deepEqual(parseFilter(`${ENTERPRISE}:manager.value eq "m-1"`, USER_RESOURCE), manager);
    assert.deepEqual(parseFilter(`${ENTERPRISE}:manager.value eq "m-1"`), manager, 'without a schema, the last colon splits');
    assert.deepEqual(parseFilter(`${CORE}:name.givenName pr`, USER_RESOURCE), { kind: 'present', path: { schema: CORE, attribute: 'name', subAttribute: 'givenName' } });
    assert.deepEqual(parseFilter(`${CORE}:emails[type eq "work"]`, USER_RESOURCE), { kind: 'valuePath', path: { schema: CORE, attribute: 'emails' }, filter: cmp('type', 'eq', 'work') });
  });
});

// ── matching ────────────────────────────────────────────────────────────────────────────────────────

const barbara: JsonObject = {
  schemas: [CORE, ENTERPRISE],
  id: '2819c223-7f76-453a-919d-413861904646',
  externalId: 'bjensen-EXT',
  userName: 'bjensen@example.com',
  name: { givenName: 'Barbara', familyName: 'Jensen' },
  title: 'Tour Guide',
  nickName: '',
  active: true,
  loginCount: 12,
  emails: [
    { value: 'bjensen@example.com', type: 'work', primary: true },
    { value: 'babs@jensen.org', type: 'home' },
  ],
  phoneNumbers: [],
  [ENTERPRISE]: { employeeNumber: '701984', department: 'Tour Operations', manager: { value: 'MGR-26118915', displayName: 'John Smith' } },
  meta: { resourceType: 'User', created: '2010-01-23T04:56:22Z', lastModified: '2011-05-13T04:42:34Z' },
};

const engineering: JsonObject = {
  id: 'g-1',
  displayName: 'Engineering',
  members: [
    { value: 'u-ABC', display: 'Babs Jensen', type: 'User' },
    { value: 'u-def', display: 'Mandy Pepperidge', type: 'User' },
  ],
};

/** `[filter, whether barbara matches]`, grouped by the rule each pair shows. */
const USER_CASES: Record<string, Array<[string, boolean]>> = {
  'caseExact: id and externalId are, userName and emails are not (RFC 7643 §4.1)': [
    ['userName eq "BJensen@Example.com"', true],
    ['externalId eq "bjensen-EXT"', true],
    ['externalId eq "BJENSEN-ext"', false],
    ['id eq "2819C223-7F76-453A-919D-413861904646"', false],
    ['emails.value eq "BABS@jensen.org"', true],
    [`${ENTERPRISE}:manager.value eq "mgr-26118915"`, false],
  ],
  'attribute names match case-insensitively, URNs included': [
    ['USERNAME sw "bjensen" and Name.GivenName eq "barbara" and EMAILS[TYPE eq "home"]', true],
    [`${ENTERPRISE.toUpperCase()}:Department sw "tour"`, true],
  ],
  'multi-valued: any value matches; a complex one compares its `value`': [
    ['emails.type eq "home"', true],
    ['emails eq "babs@jensen.org"', true],
    ['emails.type ne "work"', true],
    [`${ENTERPRISE}:manager eq "MGR-26118915"`, true],
  ],
  'value paths: one element satisfies the whole filter': [
    ['emails[type eq "home" and value ew "jensen.org"]', true],
    ['emails[type eq "work" and value ew "jensen.org"]', false],
    ['emails.type eq "work" and emails.value ew "jensen.org"', true],
    ['emails[type eq "work"].value eq "babs@jensen.org"', false],
    ['emails[type eq "work"].value eq "BJENSEN@example.com"', true],
    ['emails[not (type eq "work")].primary eq true', false],
    ['emails[type eq "work" or primary eq true] and not phoneNumbers[type pr]', true],
  ],
  'extension attributes: URN-qualified or not, under the URN key': [
    [`${ENTERPRISE}:employeeNumber eq "701984"`, true],
    ['employeeNumber eq "701984"', true],
    ['employeeNumber eq 701984', true],
    [`${CORE}:name.givenName eq "Barbara"`, true],
    ['urn:example:unknown:1.0:User:employeeNumber pr', false],
  ],
  'pr, eq null, ne null: null, "", [] and {} are unassigned': [
    ['title pr', true],
    ['nickName pr', false],
    ['phoneNumbers pr', false],
    ['displayName pr', false],
    ['displayName eq null', true],
    ['nickName eq null', true],
    ['title ne null', true],
    ['title eq null', false],
    ['displayName ne "x"', true],
  ],
  'strings: co, sw, ew, ordering': [
    ['title co "GUIDE"', true],
    ['title sw "tour"', true],
    ['title ew "de"', true],
    ['title gt "TOUR"', true],
    ['title lt "tour guide"', false],
    ['title le "tour guide"', true],
  ],
  'booleans, also as Entra ID\'s strings "True"/"False"; never ordered': [
    ['active eq true', true],
    ['active eq "True"', true],
    ['active eq "FALSE"', false],
    ['active ne "false"', true],
    ['active eq "yes"', false],
    ['active gt false', false],
    ['active co "t"', false],
  ],
  'numbers compare numerically, never as strings': [
    ['loginCount gt 1e1', true],
    ['loginCount le 11.5', false],
    ['loginCount eq "12"', false],
    ['loginCount co 1', false],
  ],
  'dateTimes compare as instants': [
    ['meta.lastModified gt 2011-05-13T04:42:34Z', false],
    ['meta.lastModified eq "2011-05-13T06:42:34+02:00"', true],
    ['meta.LastModified ge "2011-05-13"', true],
    ['meta.Created lt 2015-10-10T14:38:21.8617979-07:00', true],
    ['meta.created sw "2010-01"', true],
    ['meta.created gt "not a date"', false],
  ],
  'precedence and negation': [
    ['title pr or active eq false and nickName pr', true],
    ['not title pr and nickName pr', false],
    ['not (title pr and nickName pr)', true],
    ['not not title pr', true],
  ],
};

describe('matchesFilter', () => {
  for (const [rule, cases] of Object.entries(USER_CASES)) {
    test(rule, () => {
      for (const [text, expected] of cases) {
        assert.equal(matchesFilter(parseFilter(text, USER_RESOURCE), barbara, USER_RESOURCE), expected, text);
      }
    });
  }

  test('groups: members.value is caseExact, display is not', () => {
    const matches = (text: string) => matchesFilter(parseFilter(text, GROUP_RESOURCE), engineering, GROUP_RESOURCE);
    assert.equal(matches('members[value eq "u-ABC"]'), true);
    assert.equal(matches('members[value eq "u-abc"]'), false);
    assert.equal(matches('members.display co "babs"'), true);
    assert.equal(matches('displayName eq "engineering" and members[type eq "User" and value eq "u-def"]'), true);
  });
});

describe('element helpers for PATCH', () => {
  const emails = USER_SCHEMA.attributes.find((a) => a.name === 'emails') as ScimAttribute;
  const members = GROUP_SCHEMA.attributes.find((a) => a.name === 'members') as ScimAttribute;
  const elementFilter = (path: string) => parsePatchPath(path, USER_RESOURCE).valueFilter as Filter;

  test('matchingElementIndexes: the positions of the elements a value filter selects', () => {
    const list = barbara.emails as JsonObject[];
    assert.deepEqual(matchingElementIndexes(list, elementFilter('emails[type eq "home" or primary eq true]'), emails), [0, 1]);
    assert.deepEqual(matchingElementIndexes(list, elementFilter('emails[Type eq "HOME"]'), emails), [1]);
    assert.deepEqual(matchingElementIndexes(list, elementFilter('emails[type eq "other"]'), emails), []);
    const group = engineering.members as JsonObject[];
    assert.deepEqual(matchingElementIndexes(group, elementFilter('members[value eq "u-abc"]'), members), [], 'members.value is caseExact');
    assert.deepEqual(matchingElementIndexes(group, elementFilter('members[value eq "u-abc"]')), [0], 'without a definition: case-insensitive');
  });

  test('matchesElement: non-object elements match nothing', () => {
    assert.equal(matchesElement('bjensen@example.com', elementFilter('emails[value pr]'), emails), false);
    assert.equal(matchesElement({ value: 'x' }, elementFilter('emails[value pr]'), emails), true);
  });
});

// ── errors ──────────────────────────────────────────────────────────────────────────────────────────


describe('malformed filters: 400 invalidFilter naming the position and what was expected', () => {
  const cases: Array<[string, ...string[]]> = [
    ['', 'empty'],
    ['   ', 'empty'],
    ['userName eq "bjensen', 'position 12', 'unterminated string'],
    ['userName eq "a\\qb"', 'position 12', 'invalid string'],
    ['userName "bjensen"', 'position 9', 'expected an operator'],
    ['userName', 'position 8', 'expected an operator', 'end of the filter'],
    ['userName eq', 'position 11', 'expected a value'],
    ['userName eq "x" and', 'position 19', 'expected an attribute name'],
    ['and userName eq "x"', 'position 4', "unknown operator 'userName'"],
    ['userName eq "x" or or', 'position 21', 'expected an operator'],
    ['userName eq "x" title pr', 'position 16', "expected 'and', 'or'"],
    ['(userName eq "x"', 'position 16', "expected ')'", 'position 0'],
    ['userName eq "x")', 'position 15', "')' without a matching '('"],
    ['((a pr) or b pr', "expected ')'"],
    ['emails[type eq "work"', 'position 21', "expected ']'"],
    ['emails[type eq "work"]]', 'position 22', "']' without a matching '['"],
    ['emails type eq "work"]', "unknown operator 'type'"],
    ['emails[]', 'position 7', 'expected an attribute name'],
    ['emails[type eq "work"].value', 'expected an operator'],
    ['emails.value[type eq "work"]', 'position 12', 'multi-valued'],
    ['userName un "x"', 'position 9', "unknown operator 'un'"],
    ['userName np', "unknown operator 'np'"],
    ['name.givenName.x pr', 'more than one sub-attribute'],
    ['usér pr', 'not an attribute path'],
    [`${ENTERPRISE}: eq "x"`, 'after the schema URN'],
    ['userName eq (x)', 'expected a value'],
  ];
  for (const [text, ...mentions] of cases) {
    test(JSON.stringify(text), () => assertThrowsScimError(() => parseFilter(text, USER_RESOURCE), 'invalidFilter', ...mentions));
  }

  test(`nesting deeper than ${MAX_NESTING_DEPTH} levels is refused; ${MAX_NESTING_DEPTH} is fine`, () => {
    const parens = (depth: number) => `${'('.repeat(depth)}a pr${')'.repeat(depth)}`;
    assert.deepEqual(parseFilter(parens(MAX_NESTING_DEPTH)), pr('a'));
    assertThrowsScimError(() => parseFilter(parens(MAX_NESTING_DEPTH + 1)), 'invalidFilter', `more than ${MAX_NESTING_DEPTH} levels`);
    assertThrowsScimError(() => parseFilter(`${'not '.repeat(MAX_NESTING_DEPTH + 1)}a pr`), 'invalidFilter', 'levels');
    assertThrowsScimError(() => parseFilter(`${'a['.repeat(MAX_NESTING_DEPTH + 1)}b pr${']'.repeat(MAX_NESTING_DEPTH + 1)}`), 'invalidFilter', 'levels');
    assertThrowsScimError(() => parseFilter('('.repeat(100_000)), 'invalidFilter', `longer than ${MAX_TEXT_LENGTH}`);
  });

  test(`filters longer than ${MAX_TEXT_LENGTH} characters are refused`, () => {
    assertThrowsScimError(() => parseFilter(`userName eq "${'x'.repeat(MAX_TEXT_LENGTH)}"`), 'invalidFilter', `longer than ${MAX_TEXT_LENGTH}`);
  });
});

// ── PATCH paths ─────────────────────────────────────────────────────────────────────────────────────

describe('parsePatchPath', () => {
  const work = cmp('type', 'eq', 'work');
  const cases: Array<[string, PatchPath]> = [
    ['members', { path: { attribute: 'members' } }],
    ['name.givenName', { path: { attribute: 'name', subAttribute: 'givenName' } }],
    ['emails[type eq "work"]', { path: { attribute: 'emails' }, valueFilter: work }],
    ['emails[type eq "work"].value', { path: { attribute: 'emails' }, valueFilter: work, subAttribute: 'value' }],
    ['Emails[Type EQ "work"].Value', { path: { attribute: 'Emails' }, valueFilter: cmp('Type', 'eq', 'work'), subAttribute: 'Value' }],
    ['members[value eq "ID"]', { path: { attribute: 'members' }, valueFilter: cmp('value', 'eq', 'ID') }],
    ['members[value eq 123abc].$ref', { path: { attribute: 'members' }, valueFilter: cmp('value', 'eq', '123abc'), subAttribute: '$ref' }],
    ['emails[type eq "work" and not (primary eq true)]', { path: { attribute: 'emails' }, valueFilter: and(work, not(cmp('primary', 'eq', true))) }],
    [`${ENTERPRISE}:manager`, { path: { schema: ENTERPRISE, attribute: 'manager' } }],
    [`${ENTERPRISE}:manager.value`, { path: { schema: ENTERPRISE, attribute: 'manager', subAttribute: 'value' } }],
    [`${CORE}:name.givenName`, { path: { schema: CORE, attribute: 'name', subAttribute: 'givenName' } }],
  ];
  for (const [text, expected] of cases) {
    test(text, () => assert.deepEqual(parsePatchPath(text, USER_RESOURCE), expected));
  }

  const malformed: Array<[string, ...string[]]> = [
    ['', 'empty'],
    ['emails[type eq "work"', "expected ']'"],
    ['emails[]', 'expected an attribute name'],
    ['emails[type eq]', 'expected a value'],
    ['emails[type zz "work"]', "unknown operator 'zz'"],
    ['emails[type eq "work"] value', "expected '.' and a sub-attribute"],
    ['emails[type eq "work"].value.display', 'expected a sub-attribute name'],
    ['emails[type eq "work"].', 'expected a sub-attribute name'],
    ['members[value eq "x"]]', "']' without a matching '['"],
    ['name..givenName', 'not an attribute path'],
    ['name.givenName.x', 'more than one sub-attribute'],
    ['emails.value[type eq "work"]', 'multi-valued'],
    ['userName eq "x"', "expected '[' or the end of the path"],
    [`${ENTERPRISE}:`, 'after the schema URN'],
    ['"members"', 'expected an attribute name'],
  ];
  for (const [text, ...mentions] of malformed) {
    test(`invalidPath: ${JSON.stringify(text)}`, () => assertThrowsScimError(() => parsePatchPath(text, USER_RESOURCE), 'invalidPath', 'position', ...mentions));
  }
});
