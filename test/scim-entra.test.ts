import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { createOrganization, eventsOf, expectStatus } from './support/api.ts';
import { forEachEngine, useTestRoster } from './support/roster.ts';
import { assertScimError, createScimConnection, ENTERPRISE, GROUP_SCHEMA, patchOp, USER_SCHEMA, type ScimClient } from './support/scim.ts';

/**
 * Microsoft Entra ID's provisioning sequence, with and without its `aadOptscim062020` flag: test
 * connection probes, filters by userName / externalId / work email, create with core and enterprise
 * schemas, PATCH-only updates (capitalised ops, string booleans, one op per attribute; or with the flag
 * one path-less replace with dotted and URN keys), group members by value list or by filter, soft delete
 * by `active`, hard delete by DELETE.
 */
const MS_GROUP_SCHEMA = 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group';

function entraUser(userName: string, employeeNumber: string) {
  return {
    schemas: [USER_SCHEMA, ENTERPRISE],
    externalId: userName.split('@')[0],
    userName,
    active: true,
    emails: [{ primary: true, type: 'work', value: userName }],
    name: { formatted: 'Adele Vance', familyName: 'Vance', givenName: 'Adele' },
    roles: [],
    [ENTERPRISE]: { employeeNumber, department: 'Retail' },
  };
}

const q = (filter: string) => `filter=${encodeURIComponent(filter)}`;

for (const flag of [false, true]) {
  forEachEngine(`SCIM: Entra ID ${flag ? 'with' : 'without'} aadOptscim062020`, (engine) => {
    const roster = useTestRoster(engine);
    let entra: ScimClient;
    let adele: any;
    let manager: any;

    const person = async (id: string) => {
      const page = expectStatus(await roster().request('GET', `/v1/users?organization_id=${entra.organizationId}`), 200);
      const found = page.data.filter((u: any) => u.username === id);
      assert.equal(found.length, 1);
      return found[0];
    };

    test('"Test connection" probes random ids: 404 with a SCIM error body; filters on an empty directory are empty', async () => {
      const organization = await createOrganization(roster(), 'Contoso');
      entra = await createScimConnection(roster(), organization.id, 'Entra ID');
      assertScimError(await entra.request('GET', `/Users/${randomUUID()}`), 404, undefined);
      assertScimError(await entra.request('GET', `/Groups/${randomUUID()}`), 404, undefined);
      const empty = expectStatus(await entra.request('GET', `/Users?${q(`userName eq "${randomUUID()}@contoso.test"`)}`), 200);
      assert.equal(empty.totalResults, 0);
    });

    test('create with core and enterprise schemas; found by userName, externalId and work email', async () => {
      manager = expectStatus(await entra.request('POST', '/Users', entraUser('megan@contoso.test', '1001')), 201);
      adele = expectStatus(await entra.request('POST', '/Users', entraUser('adele@contoso.test', '1002')), 201);
      assert.deepEqual(adele.schemas, [USER_SCHEMA, ENTERPRISE]);
      assert.equal(adele[ENTERPRISE].employeeNumber, '1002');
      for (const filter of ['userName eq "ADELE@contoso.test"', 'externalId eq "adele"', 'emails[type eq "work"].value eq "adele@contoso.test"']) {
        const found = expectStatus(await entra.request('GET', `/Users?${q(filter)}`), 200);
        assert.deepEqual(found.Resources.map((u: any) => u.id), [adele.id], filter);
      }
      // externalId is caseExact.
      assert.equal(expectStatus(await entra.request('GET', `/Users?${q('externalId eq "ADELE"')}`), 200).totalResults, 0);
      const canonical = await person('adele@contoso.test');
      assert.equal(canonical.employee_id, '1002');
      assert.equal(canonical.department, 'Retail');
    });

    test('attribute updates by PATCH: capitalised ops, string or real booleans, filtered email created, enterprise URN paths, manager by id', async () => {
      const operations = flag
        ? [
            {
              op: 'replace',
              value: {
                displayName: 'Adele V.',
                'name.givenName': 'Adèle',
                [`${ENTERPRISE}:employeeNumber`]: '2002',
                [`${ENTERPRISE}:department`]: 'Marketing',
                title: 'Director',
              },
            },
            { op: 'Add', path: `${ENTERPRISE}:manager`, value: manager.id },
          ]
        : [
            { op: 'Replace', path: 'displayName', value: 'Adele V.' },
            { op: 'Replace', path: 'name.givenName', value: 'Adèle' },
            { op: 'Replace', path: `${ENTERPRISE}:employeeNumber`, value: '2002' },
            { op: 'Replace', path: `${ENTERPRISE}:department`, value: 'Marketing' },
            { op: 'Add', path: 'title', value: 'Director' },
            { op: 'Add', path: `${ENTERPRISE}:manager`, value: manager.id },
          ];
      const patch = await entra.request('PATCH', `/Users/${adele.id}`, patchOp(...operations));
      assert.equal(patch.status, 204, patch.text);
      const patched = await entra.request('GET', `/Users/${adele.id}`);
      assert.equal(patched.body.displayName, 'Adele V.');
      assert.equal(patched.body.name.givenName, 'Adèle');
      assert.equal(patched.body.name.familyName, 'Vance', 'untouched sub-attributes stay');
      assert.equal(patched.body[ENTERPRISE].employeeNumber, '2002');
      assert.equal(patched.body[ENTERPRISE].manager.value, manager.id);

      const canonical = await person('adele@contoso.test');
      assert.equal(canonical.first_name, 'Adèle');
      assert.equal(canonical.department, 'Marketing');
      assert.equal(canonical.title, 'Director');
      assert.equal(canonical.manager_id, (await person('megan@contoso.test')).id, 'manager named by SCIM id is resolved to the person');

      // Multi-valued update through a filter whose element does not exist yet: it is created.
      expectStatus(
        await entra.request('PATCH', `/Users/${manager.id}`, patchOp({ op: 'Replace', path: 'emails[type eq "home"].value', value: 'megan@home.test' })),
        204,
      );
      const home = expectStatus(await entra.request('GET', `/Users/${manager.id}`), 200);
      assert.deepEqual(
        home.emails.map((e: any) => [e.type, e.value]),
        [
          ['work', 'megan@contoso.test'],
          ['home', 'megan@home.test'],
        ],
      );
      const byHome = expectStatus(await entra.request('GET', `/Users?${q('emails.value eq "MEGAN@home.test"')}`), 200);
      assert.deepEqual(byHome.Resources.map((u: any) => u.id), [manager.id]);
    });

    test('soft delete by active (string "False" without the flag), reactivation, then hard delete keeps the person', async () => {
      const active = (value: boolean) => (flag ? value : value ? 'True' : 'False');
      const off = await entra.request('PATCH', `/Users/${adele.id}`, patchOp({ op: 'Replace', path: 'active', value: active(false) }));
      assert.equal(off.status, 204, off.text);
      assert.equal(expectStatus(await entra.request('GET', `/Users/${adele.id}`), 200).active, false);
      assert.equal((await person('adele@contoso.test')).state, 'inactive');
      // Entra repeats the deactivation on its next cycle: no second event.
      expectStatus(await entra.request('PATCH', `/Users/${adele.id}`, patchOp({ op: 'Replace', path: 'active', value: active(false) })), 204);
      const deactivations = (await eventsOf(roster(), entra.organizationId)).filter((e) => e.type === 'user.deactivated');
      assert.equal(deactivations.length, 1);

      expectStatus(await entra.request('PATCH', `/Users/${adele.id}`, patchOp({ op: 'Replace', path: 'active', value: active(true) })), 204);
      assert.equal((await person('adele@contoso.test')).state, 'active');

      const deleted = await entra.request('DELETE', `/Users/${adele.id}`);
      assert.equal(deleted.status, 204);
      assertScimError(await entra.request('GET', `/Users/${adele.id}`), 404, undefined);
      assert.equal(expectStatus(await entra.request('GET', `/Users?${q('userName eq "adele@contoso.test"')}`), 200).totalResults, 0);
      const kept = await person('adele@contoso.test');
      assert.equal(kept.state, 'inactive', 'a hard delete in the IdP never hard-deletes the person');
      assert.equal(kept.state_reason, 'removed_from_source');
      // The userName is free again: Entra may provision the person anew.
      expectStatus(await entra.request('POST', '/Users', entraUser('adele@contoso.test', '1002')), 201);
    });

    test('groups: Microsoft group schema, lookup without members, member add and remove in both forms (204)', async () => {
      const group = await entra.request('POST', '/Groups', { schemas: [GROUP_SCHEMA, MS_GROUP_SCHEMA], displayName: 'Marketing', externalId: randomUUID(), members: [] });
      assert.equal(group.status, 201, group.text);
      const groupId = group.body.id;
      const lookup = expectStatus(await entra.request('GET', `/Groups?excludedAttributes=members&${q('displayName eq "marketing"')}`), 200);
      assert.equal(lookup.totalResults, 1);
      assert.ok(!('members' in lookup.Resources[0]), 'members excluded');
      assert.equal(lookup.Resources[0].id, groupId);

      const add = await entra.request('PATCH', `/Groups/${groupId}`, patchOp({ op: 'Add', path: 'members', value: [{ $ref: null, value: manager.id }] }));
      assert.equal(add.status, 204, add.text);
      assert.equal(add.text, '');
      const remove = flag
        ? patchOp({ op: 'remove', path: `members[value eq "${manager.id}"]` })
        : patchOp({ op: 'Remove', path: 'members', value: [{ $ref: null, value: manager.id }] });
      // Entra retries: the add twice changes nothing the second time.
      expectStatus(await entra.request('PATCH', `/Groups/${groupId}`, patchOp({ op: 'Add', path: 'members', value: [{ $ref: null, value: manager.id }] })), 204);
      assert.equal(expectStatus(await entra.request('GET', `/Groups/${groupId}`), 200).members.length, 1);
      assert.equal((await entra.request('PATCH', `/Groups/${groupId}`, remove)).status, 204);
      assert.deepEqual(expectStatus(await entra.request('GET', `/Groups/${groupId}`), 200).members, []);
      const events = (await eventsOf(roster(), entra.organizationId)).map((e) => e.type);
      assert.equal(events.filter((t) => t === 'group.member_added').length, 1);
      assert.equal(events.filter((t) => t === 'group.member_removed').length, 1);
    });
  });
}
