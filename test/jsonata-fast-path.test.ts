import assert from 'node:assert/strict';
import { test } from 'node:test';
import jsonata from 'jsonata';
import { googleWorkspaceDefinition } from '../src/connectors/google/google.definition.ts';
import { jumpCloudDefinition } from '../src/connectors/jumpcloud/jumpcloud.definition.ts';
import { microsoftGraphDefinition } from '../src/connectors/microsoft-graph/graph.definition.ts';
import { oktaDefinition, oktaUserMapping, STAGED_STATES } from '../src/connectors/okta/okta.definition.ts';
import { compileFastPath, DECLINED } from '../src/connectors/definition/jsonata-fast-path.ts';
import { compileMapping, loadProviderDefinition } from '../src/connectors/definition/load-provider-definition.ts';
import { mapUser } from '../src/connectors/definition/mapping-engine.ts';
import { generateOrg as generateGoogleOrg } from '../src/emulators/google/index.ts';
import { generateJumpCloudOrg } from '../src/emulators/jumpcloud/index.ts';
import { generateTenant } from '../src/emulators/microsoft-graph/index.ts';
import { generateOrg as generateOktaOrg } from '../src/emulators/okta/index.ts';
import { seededRandom } from '../src/emulators/kit/seeded-random.ts';

/**
 * The fast path must give what the `jsonata` package gives. Each case runs an expression on an input
 * both ways: the fast path either declines (throws) or yields a value deep-equal to the package's,
 * and the compiled mapping (fast path with the package behind it) always yields the package's value
 * or the package's error.
 */

const asJson = (value: unknown) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

interface Outcome {
  value?: unknown;
  error?: string;
}

async function outcome(evaluate: () => unknown): Promise<Outcome> {
  try {
    return { value: asJson(await evaluate()) };
  } catch (error) {
    return { error: (error as { code?: string }).code ?? String(error) };
  }
}

const reference = (source: string, input: unknown) => outcome(() => jsonata(source).evaluate(input));

/** Runs `source` on each input both ways; answers how many inputs the fast path itself answered. */
async function agree(source: string, inputs: unknown[]): Promise<number> {
  const fast = compileFastPath(jsonata(source).ast());
  assert.ok(fast, `the fast path covers ${source}`);
  const mapping = compileMapping(source);
  let answered = 0;
  for (const input of inputs) {
    const expected = await reference(source, input);
    let fastOutcome: Outcome | undefined;
    try {
      fastOutcome = { value: asJson(fast(input)) };
      answered++;
    } catch {
      // Declined (or failed): the package takes the item; checked below through the compiled mapping.
    }
    const context = `${source}\non ${JSON.stringify(input)}`;
    if (fastOutcome !== undefined) assert.deepEqual(fastOutcome, { value: expected.value }, context);
    assert.deepEqual(await outcome(() => mapping.evaluate(input)), expected, context);
  }
  return answered;
}

/** Variants of a real item: fields dropped, nulled, emptied, given another type, wrapped in or taken out of arrays. */
function mutations(item: Record<string, unknown>, seed: number, count: number): unknown[] {
  const random = seededRandom(seed);
  const replacements = [undefined, null, '', 0, 7, true, false, [], {}, ['x'], [{ type: 'manager', value: 'a@b.c' }], 'SMTP:a@b.c'];
  const out: unknown[] = [];
  const paths = leafPaths(item);
  for (let n = 0; n < count; n++) {
    const copy = structuredClone(item);
    const edits = 1 + Math.floor(random() * 3);
    for (let e = 0; e < edits; e++) {
      const path = paths[Math.floor(random() * paths.length)]!;
      const replacement = replacements[Math.floor(random() * replacements.length)];
      setPath(copy, path, random() < 0.15 ? [getPath(item, path)] : replacement);
    }
    out.push(copy);
  }
  return out;
}

function leafPaths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  const nested = entries.flatMap(([key, v]) => leafPaths(v, [...prefix, key]));
  return prefix.length === 0 ? nested : [prefix, ...nested];
}

function getPath(value: any, path: Array<string | number>): unknown {
  return path.reduce((v, key) => v?.[key], value);
}

function setPath(value: any, path: Array<string | number>, replacement: unknown): void {
  const parent = getPath(value, path.slice(0, -1)) as Record<string | number, unknown> | undefined;
  if (parent === null || typeof parent !== 'object') return;
  const key = path[path.length - 1]!;
  if (replacement === undefined && !Array.isArray(parent)) delete parent[key];
  else parent[key] = replacement;
}

const wire = <T>(value: T): Record<string, unknown> => JSON.parse(JSON.stringify(value));

function googleItems() {
  const org = generateGoogleOrg({ users: 120, groups: 8, seed: 3 });
  const users = org.userIds().map((id) => wire(org.userById(id)));
  const groups = org.groupIds().map((id) => wire(org.findGroup(id)));
  const members = org.groupIds().flatMap((id) => org.membersOf(id).map(wire));
  return { users, groups, members };
}

function graphItems() {
  const tenant = generateTenant({ users: 120, groups: 8, seed: 3 });
  const users = tenant.userIds().map((id) => {
    const manager = tenant.managerOf(id);
    return wire({ ...tenant.findUser(id), ...(manager ? { manager: { '@odata.type': '#microsoft.graph.user', id: manager.id } } : {}) });
  });
  const groups = tenant.groupIds().map((id) => wire(tenant.findGroup(id)));
  const members = tenant.groupIds().flatMap((id) =>
    tenant.membersOf(id).map((m) => ({ '@odata.type': `#microsoft.graph.${m.type}`, id: m.id })),
  );
  return { users, groups, members };
}

function oktaItems() {
  const org = generateOktaOrg({ users: 120, groups: 8, seed: 3 });
  return { users: org.userIds().map((id) => wire(org.userById(id))) };
}

function jumpCloudItems() {
  const org = generateJumpCloudOrg({ users: 120, groups: 8, seed: 3 });
  const users = org.listUsers().map(wire);
  const groups = org.listGroups().map(wire);
  const members = org.listGroups().flatMap((g) => org.membersOf(g.id).map((id) => ({ attributes: null, to: { attributes: null, id, type: 'user' } })));
  return { users, groups, members };
}

const withMutations = (items: Array<Record<string, unknown>>, seed: number) => [
  ...items,
  ...items.slice(0, 40).flatMap((item, i) => mutations(item, seed + i, 6)),
  {},
  { id: 'only-an-id' },
];

test('every shipped mapping is covered by the fast path, so a sync never pays for the package evaluator', () => {
  const definitions = [googleWorkspaceDefinition, microsoftGraphDefinition, jumpCloudDefinition, oktaDefinition];
  for (const definition of definitions) {
    const loaded = loadProviderDefinition(definition);
    for (const [key, expression] of Object.entries(loaded.compiled)) {
      if (expression !== undefined) assert.equal(expression.fastPath, true, `${definition.id} ${key} mapping`);
    }
  }
  for (const state of STAGED_STATES) assert.ok(compileFastPath(jsonata(oktaUserMapping(state)).ast()), `Okta user mapping (${state})`);
});

test('Google mappings: the fast path agrees with the package on generated and mutated items', async () => {
  const { users, groups, members } = googleItems();
  const { user, group, member } = googleWorkspaceDefinition.mappings;
  const answered = await agree(user, withMutations(users, 1));
  assert.ok(answered >= users.length, `the fast path answered every unmutated user itself (${answered})`);
  await agree(group, withMutations(groups, 2));
  await agree(member, withMutations(members, 3));
});

test('Microsoft Graph mappings: the fast path agrees with the package on generated and mutated items', async () => {
  const { users, groups, members } = graphItems();
  const { user, group, member } = microsoftGraphDefinition.mappings;
  assert.ok((await agree(user, withMutations(users, 4))) >= users.length);
  await agree(group, withMutations(groups, 5));
  await agree(member, withMutations(members, 6));
});

test('Okta and JumpCloud mappings: the fast path agrees with the package on generated and mutated items', async () => {
  const okta = oktaItems();
  for (const state of STAGED_STATES) assert.ok((await agree(oktaUserMapping(state), withMutations(okta.users, 7))) >= okta.users.length);
  await agree(oktaDefinition.mappings.group, [{ id: 'g1', profile: { name: 'Eng', description: null } }, { id: 'g2', profile: {} }, {}]);
  const jc = jumpCloudItems();
  const { user, group, member } = jumpCloudDefinition.mappings;
  assert.ok((await agree(user, withMutations(jc.users, 8))) >= jc.users.length);
  await agree(group, withMutations(jc.groups, 9));
  await agree(member, withMutations(jc.members, 10));
});

test("the package's rules, one at a time: sequences, flattening, predicates, grouping, lambdas, built-ins", async () => {
  const doc = {
    a: [{ b: [1, 2] }, { b: [3] }, { b: 4 }, { c: 1 }],
    n: [[1, 2], [3, [4, 5]]],
    o: { x: 1, y: { z: 'q' } },
    s: ['b', 'a', 'c', 'a'],
    people: [
      { name: 'ann', dept: 'eng', primary: true },
      { name: 'bob', dept: 'ops' },
      { name: 'cy', dept: 'eng' },
    ],
    one: [{ v: 1 }],
    empty: [],
    text: 'Héllo wörld  ',
    num: 2.5,
    flag: false,
    nil: null,
    deep: { list: [[1], [2, 3]], obj: { arr: [{ v: 1 }, { v: [2, 3] }, { w: 0 }] }, none: null },
  };
  const expressions = [
    // Field names only, walked object to object until an array, a primitive or nothing is met.
    'deep.list', 'deep.obj.arr', 'deep.obj.arr.v', 'deep.none', 'deep.none.x', 'o.y.z.w', 'nil.x', 'text.x', 'num.x', 'o.y[]',
    'deep.list[]', 'o.y.z[0]', 'deep.obj', 's.x',
    'a.b', 'a.b[0]', 'a[-1]', 'a.b[-1]', 'a[0].b', 'a.b[1]', 'a[b > 1].b', 'a[c].c', 'n', 'n[1]', 'n[1][1]', 'o.y.z', 'o.*', 'one.v', 'one',
    'empty', 'empty.x', 'missing', 'missing.x', 'people[dept = "eng"].name', 'people[0]', 'people[[0, 2]].name',
    'people[primary].name', 'people[$not(primary = true)].name', 'people.{ name: dept }', 'people{ dept: name }',
    '{ "k": people.name }', '{ people[0].name: 1 }', '{}', '[]', '[1, [2, 3], people.name]', '[a.b][0]', '[s, o][1]',
    '$append(s, [1])', '$append(missing, s)', '$append("x", "y")', '$distinct(s)', '$distinct(people.dept)', '$count(s)',
    '$count(missing)', '$count(o)', '$join(s, "-")', '$join(s)', '$join("solo", ",")', '$lowercase(text)', '$uppercase(text)',
    '$trim(text)', '$substring(text, 1, 3)', '$substring(text, -3)', '$substring(text, 2)', '$substring(text, 0, 0)',
    '$type(nil)', '$type(num)', '$type(s)', '$type(o)', '$type(missing)', '$exists(missing)', '$exists(flag)', '$not(flag)',
    '$boolean(empty)', '$boolean([0, 1])', '$merge([o, { "x": 2 }])', '$merge(o)', '$merge([])', '$merge(missing)',
    '$each(o, function($v, $k) { $k })', '$each(o, function($v) { $v })', '$sift(o, function($v, $k) { $k = "x" })',
    '$sift(o, function($v) { false })', '$map(s, function($v, $i) { $v & $i })', '$map(missing, function($v) { $v })',
    '$filter(people, function($p) { $p.dept = "ops" })', '$reduce([1, 2, 3], function($a, $b) { $a + 0 = $a ? [$a, $b] : 0 })',
    '$reduce(s, function($a, $b) { $a & $b })', '$reduce(s, function($a, $b) { $a & $b }, "z")', '$sort(s)',
    '$sort(people, function($l, $r) { $l.name < $r.name })', '$sort(people, function($l, $r) { $r.primary = true })',
    's ~> $join(",")', 'people.name ~> $append(["z"])', '($x := 1; $y := s; $y[0] & $x)', '($f := function($v) { $v & "!" }; $map(s, $f))',
    '($f := function($a) { $count($a) }; $f(s))', '($rec := function($n) { $n > 2 ? $n : $rec($n & "") }; $rec(1))',
    'flag ? "y" : "n"', 'nil ? 1 : 2', 'missing ? 1', 'o ? 1 : 2', 'empty ? 1 : 2', 'text & num', 'num & flag', 'nil & 1',
    'o.x = 1 and flag', 'flag or o.x = 1', 'missing = missing', 'o = { "x": 1, "y": { "z": "q" } }', 's != s', '"a" in s',
    '"z" in s', 'num > 1', 'text > "A"', 'people[name in ["ann", "cy"]].dept', '$[0]', '$.o.x', '$$.o.x',
    '$map(one, function($o) { $o.v })[]', '$filter(people, function($p) { $p.primary })[]', '$each(o.y, function($v) { $v })[]', '(one.v)[]',
    'a.b.$string($)', '$not(a.b)', 'people.dept[$ = "eng"]', '$each(people[0], function($v, $k, $o) { $count($keys($o)) })',
  ];
  let covered = 0;
  for (const expression of expressions) {
    const fast = compileFastPath(jsonata(expression).ast());
    if (fast === undefined) {
      // Left to the package; the compiled mapping must still be its result.
      assert.deepEqual(await outcome(() => compileMapping(expression).evaluate(doc)), await reference(expression, doc), expression);
      continue;
    }
    covered++;
    await agree(expression, [doc, {}, { a: { b: [1] } }, { s: 'single', people: { name: 'solo', dept: 'eng' }, o: [{ x: 1 }, { x: 2 }] }]);
  }
  assert.ok(covered > expressions.length * 0.8, `most expressions run on the fast path (${covered} of ${expressions.length})`);
});

test('constructs outside the fast path are left to the package, at compile time or per item', async () => {
  for (const expression of ['$now()', 'a.b ~> $string()', '$uppercase()', '**.x', 'a^(b)', 'a#$i.b', '$substringBefore(a, "x")', '/x/', '$lowercase']) {
    assert.equal(compileFastPath(jsonata(expression).ast()), undefined, expression);
  }
  const fast = compileFastPath(jsonata('$lowercase(name)').ast())!;
  assert.equal(fast({ name: 'ABC' }), 'abc');
  assert.throws(() => fast({ name: 12 }), (error) => error === DECLINED);
  assert.throws(() => fast([{ name: 'ABC' }]), (error) => error === DECLINED);
});

test('a mapping the fast path declines for an item reports the package error, with its wording', async () => {
  const definition = loadProviderDefinition({
    ...googleWorkspaceDefinition,
    mappings: { ...googleWorkspaceDefinition.mappings, user: '{ "id": id, "attributes": { "email": $lowercase(primaryEmail) } }' },
  });
  assert.equal(definition.compiled.user.fastPath, true);
  const ok = await mapUser(definition, { id: 'u1', primaryEmail: 'ANN@EXAMPLE.COM' });
  assert.equal(ok.kind === 'user' && !ok.deleted ? ok.attributes.email : undefined, 'ann@example.com');
  let expected = '';
  try {
    await jsonata('$lowercase(primaryEmail)').evaluate({ primaryEmail: 42 });
  } catch (error) {
    expected = (error as { message: string }).message;
  }
  assert.ok(expected.length > 0);
  await assert.rejects(mapUser(definition, { id: 'u2', primaryEmail: 42 }), (error: Error) => {
    assert.match(error.message, /JSONata evaluation failed/);
    assert.ok(error.message.includes(expected), error.message);
    return true;
  });
});
