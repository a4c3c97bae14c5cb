import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import type { JsonObject, JsonValue } from '../src/core/model.ts';
import { applyPatch, type PatchResult } from '../src/scim/patch/apply-patch.ts';
import { PATCH_OP_SCHEMA } from '../src/scim/patch/patch-request.ts';
import { assertThrowsScimError } from './support/scim.ts';
import type { ResourceSchema, ScimAttribute } from '../src/scim/schema/attributes.ts';
import { ENTERPRISE_USER_SCHEMA_ID, GROUP_RESOURCE, GROUP_SCHEMA, USER_RESOURCE, USER_SCHEMA } from '../src/scim/schema/resource-schemas.ts';

/**
 * The PATCH engine (RFC 7644 §3.5.2) on its own: scimmy's PatchOp fixtures, then the requests Okta and
 * Microsoft Entra ID really send, then every error a client can get.
 */

const ENTERPRISE = ENTERPRISE_USER_SCHEMA_ID;
const patchBody = (...operations: unknown[]) => ({ schemas: [PATCH_OP_SCHEMA], Operations: operations });
const patchUser = (resource: JsonObject, ...operations: unknown[]) => applyPatch(resource, patchBody(...operations), USER_RESOURCE);
const patchGroup = (resource: JsonObject, ...operations: unknown[]) => applyPatch(resource, patchBody(...operations), GROUP_RESOURCE);


const meta = { resourceType: 'User', created: '2024-01-01T00:00:00Z', lastModified: '2024-01-01T00:00:00Z', version: 'W/"1"' };

function bjensen(overrides: JsonObject = {}): JsonObject {
  return {
    id: 'u-1',
    userName: 'bjensen@example.com',
    name: { givenName: 'Barbara', familyName: 'Jensen', honorificPrefix: 'Ms.' },
    displayName: 'Babs Jensen',
    active: true,
    emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }],
    meta,
    ...overrides,
  };
}

function engineering(members: JsonObject[] = [{ value: 'u-1', type: 'User', display: 'bjensen@example.com' }]): JsonObject {
  return { id: 'g-1', displayName: 'Engineering', members, meta: { ...meta, resourceType: 'Group' } };
}

// ── scimmy fixtures ─────────────────────────────────────────────────────────────────────────────────────

const FIXTURE = resolve(import.meta.dirname, '..', '../shared/conformance/fixtures/scimmy/test_lib_messages_patchop.json');

interface FixtureCase {
  source: JsonObject;
  target: JsonObject;
  ops: unknown[];
}

/**
 * scimmy runs these against a lenient schema (a User with `members`); so do we: the core User attributes
 * plus the Group's `members` definition, as Roster serves it.
 */
const MEMBERS = GROUP_SCHEMA.attributes.find((a) => a.name === 'members') as ScimAttribute;
const FIXTURE_SCHEMA: ResourceSchema = {
  ...USER_RESOURCE,
  core: { ...USER_SCHEMA, attributes: [...USER_SCHEMA.attributes, MEMBERS] },
  extensions: [],
};

/**
 * Fixture cases whose expected result Roster deliberately does not reproduce, by `<op>[<index>]`, with what
 * Roster answers instead and why. Every entry must still differ from scimmy's target, so the table cannot
 * silently go stale.
 */
const EXPECTED_DIFFERENCES: Record<string, { reason: string; check: (run: () => PatchResult) => void }> = {
  'remove[3]': {
    // {"op":"remove","path":"members","value":[{"$ref":null,"value":"f648…"}]} on two members with that value,
    // one with a $ref: scimmy reads `"$ref": null` as "must have no $ref" and keeps the one that has one.
    // That value list is Entra ID's default member removal, where `$ref: null` only means "unknown": a member
    // is named by its `value`, so every member with that value is removed (real groups never hold one twice).
    reason: 'a member listed for removal is matched on its value; "$ref": null is not a constraint',
    check: (run) => assert.deepEqual(run().resource, { id: '1234', userName: 'asdf' }),
  },
};

function fixtureCases(): Record<string, FixtureCase[]> | undefined {
  if (!existsSync(FIXTURE)) return undefined;
  return (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { inbound: Record<string, FixtureCase[]> }).inbound;
}

describe('scimmy PatchOp fixtures', () => {
  const inbound = fixtureCases();
  if (!inbound) {
    console.warn(`scim-patch: scimmy fixtures not found at ${FIXTURE}; those cases are skipped.`);
    test('scimmy fixtures', (t) => t.skip(`fixture file absent (${FIXTURE})`));
    return;
  }

  for (const [op, cases] of Object.entries(inbound)) {
    cases.forEach((fixture, index) => {
      const key = `${op}[${index}]`;
      const difference = EXPECTED_DIFFERENCES[key];
      test(`${key}: ${JSON.stringify(fixture.ops)}`, () => {
        const source = structuredClone(fixture.source);
        const run = () => applyPatch(source, patchBody(...fixture.ops), FIXTURE_SCHEMA);
        if (difference) {
          difference.check(run);
          assert.notDeepEqual(run().resource, fixture.target, `${key} now matches scimmy: drop it from EXPECTED_DIFFERENCES`);
        } else {
          const result = run();
          assert.deepEqual(result.resource, fixture.target);
          assert.equal(result.changed, true);
        }
        assert.deepEqual(source, fixture.source, 'the input resource is never modified');
      });
    });
  }

  test('every expected difference names a fixture case', () => {
    for (const key of Object.keys(EXPECTED_DIFFERENCES)) {
      const [, op, index] = /^(\w+)\[(\d+)\]$/.exec(key) ?? [];
      assert.ok(op && inbound[op]?.[Number(index)], `${key} is no fixture case`);
    }
  });
});

// ── Okta ────────────────────────────────────────────────────────────────────────────────────────────────

describe('Okta', () => {
  test('deactivation by a path-less replace; repeating it changes nothing', () => {
    const body = { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] };
    const first = applyPatch(bjensen(), body, USER_RESOURCE);
    assert.equal(first.resource.active, false);
    assert.equal(first.changed, true);
    assert.deepEqual(first.resource, { ...bjensen(), active: false });

    const again = applyPatch(first.resource, body, USER_RESOURCE);
    assert.equal(again.changed, false);
    assert.deepEqual(again.resource, first.resource);
  });

  test('group rename echoing the group id in a path-less replace', () => {
    const group = engineering();
    const { resource, changed } = patchGroup(group, { op: 'replace', value: { id: 'g-1', displayName: 'New' } });
    assert.equal(changed, true);
    assert.deepEqual(resource, { ...group, displayName: 'New' });
    // Okta renames on every group push: the same name again is a no-op.
    assert.equal(patchGroup(resource, { op: 'replace', value: { id: 'g-1', displayName: 'New' } }).changed, false);
  });

  test('member add with display, once only', () => {
    const add = { op: 'add', path: 'members', value: [{ value: 'u-2', display: 'user@x' }] };
    const { resource, changed } = patchGroup(engineering(), add);
    assert.equal(changed, true);
    assert.deepEqual(resource.members, [
      { value: 'u-1', type: 'User', display: 'bjensen@example.com' },
      { value: 'u-2', display: 'user@x' },
    ]);
    assert.equal(patchGroup(resource, add).changed, false, 'an id already a member is not added twice');
    // Ids are caseExact: another case is another member.
    assert.equal((patchGroup(resource, { ...add, value: [{ value: 'U-2' }] }).resource.members as JsonValue[]).length, 3);
  });

  test('member remove by filter; removing the last member unassigns members; retrying is a no-op', () => {
    const group = engineering([{ value: 'u-1' }, { value: 'u-2' }]);
    const removed = patchGroup(group, { op: 'remove', path: 'members[value eq "u-2"]' });
    assert.deepEqual(removed.resource.members, [{ value: 'u-1' }]);
    const empty = patchGroup(removed.resource, { op: 'remove', path: 'members[value eq "u-1"]' });
    assert.equal('members' in empty.resource, false);
    const retried = patchGroup(empty.resource, { op: 'remove', path: 'members[value eq "u-1"]' });
    assert.equal(retried.changed, false);
  });

  test('members replaced wholesale, together with the rename Okta sends first', () => {
    const { resource } = patchGroup(
      engineering(),
      { op: 'replace', value: { id: 'g-1', displayName: 'Engineers' } },
      { op: 'replace', path: 'members', value: [{ value: 'u-3' }, { value: 'u-4', display: 'u4@x' }] },
    );
    assert.equal(resource.displayName, 'Engineers');
    assert.deepEqual(resource.members, [{ value: 'u-3' }, { value: 'u-4', display: 'u4@x' }]);
  });
});

// ── Microsoft Entra ID ──────────────────────────────────────────────────────────────────────────────────

describe('Microsoft Entra ID', () => {
  test('string booleans without aadOptscim062020, in path and path-less forms', () => {
    const off = patchUser(bjensen(), { op: 'Replace', path: 'active', value: 'False' });
    assert.equal(off.resource.active, false);
    assert.equal(patchUser(off.resource, { op: 'Replace', path: 'active', value: 'False' }).changed, false);
    assert.equal(patchUser(off.resource, { op: 'Replace', path: 'active', value: 'True' }).resource.active, true);
    assert.equal(patchUser(bjensen(), { op: 'Replace', value: { active: 'false' } }).resource.active, false);

    const primary = patchUser(bjensen({ emails: [{ value: 'a@x', type: 'work' }] }), { op: 'Replace', path: 'emails[type eq "work"].primary', value: 'True' });
    assert.deepEqual(primary.resource.emails, [{ value: 'a@x', type: 'work', primary: true }]);
  });

  test('a filtered email that does not exist is created from the filter', () => {
    const user = bjensen({ emails: [{ value: 'b@home.test', type: 'home' }] });
    const { resource } = patchUser(user, { op: 'Replace', path: 'emails[type eq "work"].value', value: 'x@y' });
    assert.deepEqual(resource.emails, [
      { value: 'b@home.test', type: 'home' },
      { type: 'work', value: 'x@y' },
    ]);
    // Next time the same path finds it and updates it in place.
    const again = patchUser(resource, { op: 'Replace', path: 'emails[type eq "work"].value', value: 'z@y' });
    assert.deepEqual(again.resource.emails, [
      { value: 'b@home.test', type: 'home' },
      { type: 'work', value: 'z@y' },
    ]);
    // Also on a user without any email, and with Add.
    const added = patchUser(bjensen({ emails: [] }), { op: 'Add', path: 'emails[type eq "work"].value', value: 'x@y' });
    assert.deepEqual(added.resource.emails, [{ type: 'work', value: 'x@y' }]);
  });

  test('enterprise attributes by URN path; manager given as a plain id', () => {
    const { resource } = patchUser(
      bjensen(),
      { op: 'Replace', path: `${ENTERPRISE}:employeeNumber`, value: '2002' },
      { op: 'Replace', path: `${ENTERPRISE}:department`, value: 'Marketing' },
      { op: 'Add', path: `${ENTERPRISE}:manager`, value: 'u-9' },
    );
    assert.deepEqual(resource[ENTERPRISE], { employeeNumber: '2002', department: 'Marketing', manager: { value: 'u-9' } });

    const cleared = patchUser(resource, { op: 'Remove', path: `${ENTERPRISE}:manager` }, { op: 'Remove', path: `${ENTERPRISE}:employeeNumber` }, { op: 'Remove', path: `${ENTERPRISE}:department` });
    assert.equal(ENTERPRISE in cleared.resource, false, 'an emptied extension goes away');
  });

  test('with aadOptscim062020: one path-less replace with plain, dotted and URN keys', () => {
    const { resource } = patchUser(bjensen({ [ENTERPRISE]: { employeeNumber: '1002', department: 'Retail' } }), {
      op: 'replace',
      value: {
        displayName: 'Adele V.',
        'name.givenName': 'Adèle',
        [`${ENTERPRISE}:employeeNumber`]: '2002',
        [`${ENTERPRISE}:manager`]: 'u-9',
      },
    });
    assert.equal(resource.displayName, 'Adele V.');
    assert.deepEqual(resource.name, { givenName: 'Adèle', familyName: 'Jensen', honorificPrefix: 'Ms.' });
    assert.deepEqual(resource[ENTERPRISE], { employeeNumber: '2002', department: 'Retail', manager: { value: 'u-9' } });
  });

  test('member add with "$ref": null; a retried add is a no-op', () => {
    const add = { op: 'Add', path: 'members', value: [{ $ref: null, value: 'u-2' }] };
    const { resource } = patchGroup(engineering(), add);
    assert.deepEqual(resource.members, [{ value: 'u-1', type: 'User', display: 'bjensen@example.com' }, { value: 'u-2' }]);
    assert.equal(patchGroup(resource, add).changed, false);
  });

  test('default member removal: a value list on the members path', () => {
    const group = engineering([{ value: 'u-1', type: 'User', display: 'b' }, { value: 'u-2', type: 'User' }, { value: 'u-3' }]);
    const { resource } = patchGroup(group, { op: 'Remove', path: 'members', value: [{ $ref: null, value: 'u-1' }, { $ref: null, value: 'u-3' }] });
    assert.deepEqual(resource.members, [{ value: 'u-2', type: 'User' }]);
    assert.equal(patchGroup(resource, { op: 'Remove', path: 'members', value: [{ $ref: null, value: 'u-1' }] }).changed, false);
  });
});

// ── RFC semantics and value handling ────────────────────────────────────────────────────────────────────

describe('semantics', () => {
  test('attribute names are written back in the schema case', () => {
    const { resource } = patchUser(bjensen(), { op: 'replace', value: { Active: false, 'name.FamilyName': 'J.', NICKNAME: 'Babs' } });
    assert.equal(resource.active, false);
    assert.equal(resource.nickName, 'Babs');
    assert.deepEqual(resource.name, { givenName: 'Barbara', familyName: 'J.', honorificPrefix: 'Ms.' });
    assert.ok(!('Active' in resource) && !('NICKNAME' in resource));

    const byPath = patchUser(bjensen(), { op: 'add', path: 'NAME.MiddleName', value: 'M' }, { op: 'add', path: 'emails', value: { Value: 'c@x', TYPE: 'other' } });
    assert.equal((byPath.resource.name as JsonObject).middleName, 'M');
    assert.deepEqual((byPath.resource.emails as JsonValue[])[1], { value: 'c@x', type: 'other' });
  });

  test('a path-less value may hold an extension as an object of its attributes', () => {
    const user = bjensen({ [ENTERPRISE]: { employeeNumber: '1002', department: 'Retail' } });
    const { resource } = patchUser(user, { op: 'replace', value: { schemas: [ENTERPRISE], [ENTERPRISE.toLowerCase()]: { Department: 'Sales', 'manager.value': 'u-9' } } });
    assert.deepEqual(resource[ENTERPRISE], { employeeNumber: '1002', department: 'Sales', manager: { value: 'u-9' } });
    assert.equal('schemas' in resource, false, '"schemas" in a path-less value is not an attribute to write');
  });

  test('complex values: path-less replace and add merge, a replace on the path replaces', () => {
    const merged = patchUser(bjensen(), { op: 'replace', value: { name: { givenName: 'B.' } } }).resource.name;
    assert.deepEqual(merged, { givenName: 'B.', familyName: 'Jensen', honorificPrefix: 'Ms.' });
    const added = patchUser(bjensen(), { op: 'add', path: 'name', value: { middleName: 'M' } }).resource.name;
    assert.deepEqual(added, { givenName: 'Barbara', familyName: 'Jensen', honorificPrefix: 'Ms.', middleName: 'M' });
    const replaced = patchUser(bjensen(), { op: 'replace', path: 'name', value: { givenName: 'B.' } }).resource.name;
    assert.deepEqual(replaced, { givenName: 'B.' });
  });

  test('multi-valued values: lone values become lists, exact duplicates are skipped, one primary', () => {
    const user = bjensen();
    const lone = patchUser(user, { op: 'add', path: 'emails', value: { value: 'b@home.test', type: 'home' } });
    assert.equal((lone.resource.emails as JsonValue[]).length, 2);
    assert.equal(patchUser(lone.resource, { op: 'add', path: 'emails', value: [{ value: 'b@home.test', type: 'home' }] }).changed, false);

    const primary = patchUser(lone.resource, { op: 'add', path: 'emails', value: [{ value: 'new@x', type: 'other', primary: true }] });
    assert.deepEqual(primary.resource.emails, [
      { value: 'bjensen@example.com', type: 'work' },
      { value: 'b@home.test', type: 'home' },
      { value: 'new@x', type: 'other', primary: true },
    ]);
    const moved = patchUser(primary.resource, { op: 'replace', path: 'emails[type eq "home"].primary', value: true });
    assert.deepEqual(
      (moved.resource.emails as JsonObject[]).map((e) => e.primary ?? false),
      [false, true, false],
      'a filtered edit that makes an element primary clears the others',
    );
  });

  test('members given as bare ids', () => {
    assert.deepEqual(patchGroup(engineering([]), { op: 'add', path: 'members', value: 'u-7' }).resource.members, [{ value: 'u-7' }]);
    assert.deepEqual(patchGroup(engineering([]), { op: 'add', path: 'members', value: ['u-7', 'u-8'] }).resource.members, [{ value: 'u-7' }, { value: 'u-8' }]);
    assert.deepEqual(patchGroup(engineering(), { op: 'replace', path: 'members', value: ['u-7'] }).resource.members, [{ value: 'u-7' }]);
  });

  test('remove: whole attribute, sub-attribute, described elements, all members', () => {
    const user = bjensen({ emails: [{ value: 'w@x', type: 'work' }, { value: 'h@x', type: 'home' }] });
    assert.deepEqual(patchUser(user, { op: 'remove', path: 'emails', value: { type: 'home' } }).resource.emails, [{ value: 'w@x', type: 'work' }]);
    assert.equal('nickName' in patchUser(bjensen({ nickName: 'B' }), { op: 'remove', path: 'nickName' }).resource, false);
    assert.deepEqual(patchUser(user, { op: 'remove', path: 'name.honorificPrefix' }).resource.name, { givenName: 'Barbara', familyName: 'Jensen' });
    assert.deepEqual(patchUser(user, { op: 'remove', path: 'emails[type eq "home"].type' }).resource.emails, [{ value: 'w@x', type: 'work' }, { value: 'h@x' }]);
    assert.equal('members' in patchGroup(engineering(), { op: 'remove', path: 'members' }).resource, false);
  });

  test('replace with null unassigns; removing what is absent changes nothing', () => {
    assert.equal('displayName' in patchUser(bjensen(), { op: 'replace', path: 'displayName', value: null }).resource, false);
    assert.equal(patchUser(bjensen(), { op: 'remove', path: 'nickName' }).changed, false);
    assert.equal(patchUser(bjensen({ nickName: null }), { op: 'replace', value: { nickName: null } }).changed, false);
  });

  test('all or nothing: a failing operation leaves the input as it was', () => {
    const user = bjensen();
    const before = structuredClone(user);
    assertThrowsScimError(() => patchUser(user, { op: 'replace', path: 'displayName', value: 'Changed' }, { op: 'replace', path: 'active', value: 'maybe' }), 'invalidValue', 'Operations[1]');
    assert.deepEqual(user, before);
  });
});

// ── errors ──────────────────────────────────────────────────────────────────────────────────────────────

describe('errors', () => {
  test('invalidSyntax: not a PatchOp body', () => {
    const op = { op: 'replace', path: 'active', value: false };
    assertThrowsScimError(() => applyPatch(bjensen(), 'nope', USER_RESOURCE), 'invalidSyntax', 'JSON object');
    assertThrowsScimError(() => applyPatch(bjensen(), { Operations: [op] }, USER_RESOURCE), 'invalidSyntax', '"schemas"', PATCH_OP_SCHEMA);
    assertThrowsScimError(() => applyPatch(bjensen(), { schemas: ['urn:x'], Operations: [op] }, USER_RESOURCE), 'invalidSyntax', '"schemas"');
    assertThrowsScimError(() => applyPatch(bjensen(), { schemas: [PATCH_OP_SCHEMA], Operations: op }, USER_RESOURCE), 'invalidSyntax', '"Operations"', 'array');
    assertThrowsScimError(() => patchUser(bjensen()), 'invalidSyntax', 'at least one');
    assertThrowsScimError(() => patchUser(bjensen(), ...Array.from({ length: 1001 }, () => op)), 'invalidSyntax', '1001', '1000');
    assertThrowsScimError(() => patchUser(bjensen(), { path: 'active', value: false }), 'invalidSyntax', 'Operations[0]', '"op"');
    assertThrowsScimError(() => patchUser(bjensen(), op, { op: 'move', path: 'active' }), 'invalidSyntax', 'Operations[1].op', '"move"');
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'remove', path: 42 }), 'invalidSyntax', 'Operations[0].path');
    assert.equal(patchUser(bjensen(), ...Array.from({ length: 1000 }, () => op)).resource.active, false, '1000 operations are accepted');
  });

  test('invalidPath: unparsable path, unknown attribute or sub-attribute, filter on a single value', () => {
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'replace', path: 'emails[type eq', value: 'x' }), 'invalidPath', 'emails[type eq');
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'replace', path: 'favouriteColour', value: 'x' }), 'invalidPath', 'favouriteColour');
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'replace', path: 'name.nope', value: 'x' }), 'invalidPath', 'name.nope', 'nope');
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'replace', path: `${ENTERPRISE}:nope`, value: 'x' }), 'invalidPath', `${ENTERPRISE}:nope`);
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'replace', path: 'name[givenName eq "B"]', value: {} }), 'invalidPath', 'not multi-valued');
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'replace', value: { favouriteColour: 'x' } }), 'invalidPath', 'favouriteColour');
  });

  test('noTarget: remove without a path, a filter that selects nothing and describes no element', () => {
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'remove' }), 'noTarget', 'remove', '"path"');
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'replace', path: 'emails[value co "nobody"].type', value: 'home' }), 'noTarget', 'emails[value co "nobody"].type');
    assertThrowsScimError(() => patchUser(bjensen({ emails: [] }), { op: 'replace', path: 'emails.type', value: 'home' }), 'noTarget', 'emails.type');
  });

  test('invalidValue: wrong types and missing values', () => {
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'replace', path: 'displayName', value: { first: 'B' } }), 'invalidValue', 'displayName');
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'replace', path: 'active', value: 'maybe' }), 'invalidValue', 'active', 'boolean');
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'replace', value: { emails: [{ value: 'a@x', primary: 'sometimes' }] } }), 'invalidValue', 'emails', 'primary');
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'add', path: 'nickName' }), 'invalidValue', 'nickName', '"value"');
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'replace', path: 'nickName' }), 'invalidValue', 'nickName', '"value"');
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'replace', value: 'x' }), 'invalidValue', 'object');
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'replace', value: { [ENTERPRISE]: 'x' } }), 'invalidValue', ENTERPRISE);
  });

  test('mutability: readOnly, immutable once set, required', () => {
    assertThrowsScimError(() => patchGroup(engineering(), { op: 'replace', value: { id: 'g-2', displayName: 'New' } }), 'mutability', "'id'", 'read-only');
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'replace', path: 'meta.version', value: 'W/"9"' }), 'mutability', 'meta.version');
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'add', path: 'groups', value: [{ value: 'g-1' }] }), 'mutability', 'groups');
    assertThrowsScimError(() => patchUser(bjensen(), { op: 'remove', path: 'userName' }), 'mutability', 'userName', 'required');
    assertThrowsScimError(() => patchGroup(engineering(), { op: 'replace', path: 'displayName', value: null }), 'mutability', 'displayName', 'required');
    // members' sub-attributes are immutable: settable once, then fixed.
    assertThrowsScimError(() => patchGroup(engineering(), { op: 'replace', path: 'members[value eq "u-1"].display', value: 'other' }), 'mutability', 'members[value eq "u-1"].display', 'immutable');
    assert.deepEqual(patchGroup(engineering([{ value: 'u-1' }]), { op: 'add', path: 'members[value eq "u-1"].display', value: 'B' }).resource.members, [{ value: 'u-1', display: 'B' }]);
    // Writing the value an attribute already has is no modification.
    assert.equal(patchUser(bjensen(), { op: 'replace', path: 'id', value: 'u-1' }).changed, false);
  });
});
