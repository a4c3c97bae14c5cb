import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createOrganization, eventsOf, expectStatus } from '../api.ts';
import { eventually, fastSyncConfig, getConnection, runEnded, userByEmail, usersOf } from '../pull-sync.ts';
import { forEachEngine, useTestRoster, type TestRoster } from '../roster.ts';

/**
 * A pull source as the connector contract drives it: an emulator of the provider, and the handful of
 * changes every directory can undergo. Each connector supplies one (see ./google-source.ts).
 */
export interface ContractSource {
  /** The connection type, e.g. `google-workspace`. */
  readonly type: string;
  /** Settings and credentials of a connection to this source (push off: the contract is about pulling). */
  connection(): { config: Record<string, unknown>; credentials: Record<string, unknown> };
  /** Emails of the people the source holds (not deleted): what Roster must end up holding. */
  userEmails(): string[];
  groupCount(): number;
  /** Memberships of people (not of nested groups) in all groups. */
  membershipCount(): number;
  setTitle(email: string, title: string): void;
  removeUser(email: string): void;
  setThrottling(on: boolean): void;
  /** Calls the provider throttled so far. */
  throttled(): number;
  /** Every API call answers a server error while on. */
  setFailing(on: boolean): void;
  /** The credentials Roster holds stop working (revoked key, token, secret), access tokens already issued included. */
  revokeCredentials(): void;
  close(): Promise<void>;
}

export interface ContractCase {
  name: string;
  start(): Promise<ContractSource>;
}

/**
 * The contract every pull connector passes against its emulator, through a real Roster on each engine:
 * what a first full sync holds, that an unchanged re-sync changes nothing, that a change arrives within one
 * critical cycle (a delta round or a re-listing), that only a complete enumeration removes anybody, that
 * throttling slows and does not fail, and that refused credentials stop the connection visibly.
 */
export function connectorContract(contract: ContractCase): void {
  forEachEngine(`connector contract: ${contract.name}`, (engine) => {
    const roster = useTestRoster(engine, { config: fastSyncConfig() });
    let source: ContractSource;
    let organizationId: string;
    let connectionId: string;

    before(async () => {
      source = await contract.start();
    });
    after(async () => {
      await source?.close();
    });

    const sync = async (r: TestRoster, kind: string) => {
      const answer = expectStatus(await r.request('POST', `/v1/connections/${connectionId}/sync`, { kind }), 202) as any;
      return runEnded(r, answer.run.id);
    };
    const counts = async () => {
      const db = roster().database.db;
      const count = async (table: 'groups' | 'memberships') =>
        Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('organization_id', '=', organizationId).executeTakeFirstOrThrow()).n);
      return { groups: await count('groups'), memberships: await count('memberships') };
    };

    test('a first full sync holds every person, group and membership of the source', async () => {
      organizationId = (await createOrganization(roster(), `${contract.name} contract`)).id;
      const { config, credentials } = source.connection();
      const created = expectStatus(await roster().request('POST', `/v1/organizations/${organizationId}/connections`, { type: source.type, name: contract.name, config, credentials }), 201) as any;
      connectionId = created.id;
      const first = await eventually('the activation run', async () => expectStatus(await roster().request('GET', `/v1/sync-runs?connection_id=${connectionId}`), 200).data[0], 30_000);
      const run = await runEnded(roster(), first.id);
      assert.equal(run.status, 'completed', JSON.stringify(run));
      const emails = (await usersOf(roster(), organizationId)).map((u) => u.email);
      assert.deepEqual(emails.sort(), source.userEmails().sort());
      assert.deepEqual(await counts(), { groups: source.groupCount(), memberships: source.membershipCount() });
    });

    test('an unchanged full re-sync writes no change event', async () => {
      const before = (await eventsOf(roster(), organizationId)).length;
      assert.equal((await sync(roster(), 'full')).status, 'completed');
      const written = (await eventsOf(roster(), organizationId)).slice(before).map((e) => e.type);
      assert.deepEqual(written.filter((type) => !type.startsWith('sync.')), []);
    });

    test('a change in the source arrives within one critical cycle', async () => {
      const email = source.userEmails().sort()[1]!;
      source.setTitle(email, 'Contract Tester');
      assert.equal((await sync(roster(), 'critical')).status, 'completed');
      assert.equal((await userByEmail(roster(), organizationId, email)).title, 'Contract Tester');
    });

    test('a run whose requests fail removes nobody; a complete full run deactivates the removed person', async () => {
      const email = source.userEmails().sort()[2]!;
      source.removeUser(email);
      source.setFailing(true);
      const failed = await sync(roster(), 'full');
      source.setFailing(false);
      assert.equal(failed.status, 'failed');
      assert.equal((await userByEmail(roster(), organizationId, email)).state, 'active', 'a partial pull removes nobody');
      // The connection is in error until a sync succeeds; it keeps syncing meanwhile.
      await eventually('the connection in error', async () => ((await getConnection(roster(), connectionId)).state === 'error' ? true : undefined));
      assert.equal((await sync(roster(), 'full')).status, 'completed');
      const person = await userByEmail(roster(), organizationId, email);
      assert.equal(person.state, 'inactive');
      assert.equal(person.state_reason, 'removed_from_source');
    });

    test('throttling slows a full run down; it does not fail it', async () => {
      const before = source.throttled();
      source.setThrottling(true);
      const run = await sync(roster(), 'full');
      source.setThrottling(false);
      assert.equal(run.status, 'completed', JSON.stringify(run));
      assert.ok(source.throttled() > before, 'the source throttled some calls');
    });

    test('refused credentials stop the connection where an admin sees it, with an event', async () => {
      source.revokeCredentials();
      const run = await sync(roster(), 'full');
      assert.equal(run.status, 'failed');
      const stopped = await eventually('the connection to stop', async () => {
        const connection = await getConnection(roster(), connectionId);
        return ['needs_reauth', 'invalid_credentials'].includes(connection.state) ? connection : undefined;
      });
      assert.ok(stopped.state_reason, 'with its reason');
      const types = (await eventsOf(roster(), organizationId)).map((e) => e.type);
      assert.ok(types.includes('connection.state_changed'));
    });
  });
}
