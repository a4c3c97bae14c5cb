import { newId } from '../core/ids.ts';
import type { JsonObject } from '../core/model.ts';
import type { ScimExtensionPolicy } from '../core/policy.ts';
import { membershipKey, type IncomingRecord } from '../reconcile/incoming.ts';
import type { StatementBatcher } from '../reconcile/statement-batcher.ts';
import type { Tx } from '../store/database.ts';
import type { ScimResourcesRepo, ScimResourceType, StoredMember } from '../store/scim-resources.repo.ts';
import { sameState } from './json-values.ts';
import { applyPatch } from './patch/apply-patch.ts';
import { versionOf } from './resource-view.ts';
import { indexEntries, normalizeGroup, normalizeUser, sameEntries } from './resource-mapping.ts';
import { membersOf, readResourceInput } from './resource-input.ts';
import { ScimError, invalidValue, resourceNotFound, uniqueness } from './scim-error.ts';
import type { ResourceSchema } from './schema/attributes.ts';

/** Who is writing: one SCIM connection, with its organization's User schema (its extension included). */
export interface ScimScope {
  connectionId: string;
  organizationId: string;
  schema: ResourceSchema;
  extension: ScimExtensionPolicy | null;
}

/** A resource as stored after a write, with a group's members. */
export interface WrittenResource {
  stored: JsonObject;
  members?: StoredMember[] | undefined;
}

export interface ScimWritesDeps {
  /** Applies each write as one statement of a (possibly shared) reconciliation transaction. */
  statements: StatementBatcher;
  resources: ScimResourcesRepo;
  clock: () => Date;
}

/**
 * Every SCIM write, done the one way Roster writes (DESIGN law 1): inside a reconciliation of the
 * connection, the resource is read, checked and changed under the organization's lock, and what it now
 * says becomes the connection's source records — the reconciler turns them into canonical changes and
 * events in the same transaction. Two requests on one resource are therefore serialized: concurrent
 * member PATCHes lose nothing, and a retried POST finds the first one's userName taken.
 */
export class ScimWrites {
  constructor(private readonly deps: ScimWritesDeps) {}

  async create(scope: ScimScope, body: unknown): Promise<WrittenResource> {
    const type = scope.schema.name;
    const input = readResourceInput(body, scope.schema);
    return this.write(scope, async (tx, now) => {
      await this.assertUnique(tx, scope, input.resource, undefined);
      const id = newId('scimResource');
      const stored = withMeta(id, input.resource, { created: now, lastModified: now, version: versionTag(1) });
      const records: IncomingRecord[] = [];
      let members: StoredMember[] | undefined;
      if (type === 'Group') {
        members = await this.checkedMembers(tx, scope, id, input.members ?? []);
        records.push(...members.map((m) => membershipRecord(m)));
      } else {
        records.push(...(await this.groupAdds(tx, scope, id, input.groups)));
      }
      return { stored, members, records: [resourceRecord(scope, type, stored), ...records] };
    });
  }

  async replace(scope: ScimScope, id: string, body: unknown, ifMatch: string | undefined): Promise<WrittenResource> {
    const type = scope.schema.name;
    const input = readResourceInput(body, scope.schema);
    return this.write(scope, async (tx, now) => {
      const current = await this.current(tx, scope, id, ifMatch);
      await this.assertUnique(tx, scope, input.resource, id);
      const records: IncomingRecord[] = [];
      let members = current.members;
      // A PUT without `members` leaves them alone: clients replace a group's attributes and its members separately.
      if (type === 'Group' && input.members !== undefined) {
        const next = await this.checkedMembers(tx, scope, id, input.members, current.members);
        records.push(...memberChanges(current.members ?? [], next));
        members = next;
      }
      if (type === 'User') records.push(...(await this.groupAdds(tx, scope, id, input.groups)));
      const stored = nextVersion(current.stored, input.resource, now, records.length > 0);
      if (stored !== current.stored) records.unshift(resourceRecord(scope, type, stored));
      return { stored, members, records, previous: current.stored };
    });
  }

  async patch(scope: ScimScope, id: string, body: unknown, ifMatch: string | undefined): Promise<WrittenResource> {
    const type = scope.schema.name;
    return this.write(scope, async (tx, now) => {
      const current = await this.current(tx, scope, id, ifMatch);
      const before: JsonObject = type === 'Group' ? { ...current.stored, members: (current.members ?? []).map(memberObject) } : current.stored;
      const { resource: after, changed } = applyPatch(before, body, scope.schema);
      if (!changed) return { stored: current.stored, members: current.members, records: [] };
      const { members: patchedMembers, meta: _meta, id: _id, schemas: _schemas, ...attributes } = after;
      const required = type === 'User' ? 'userName' : 'displayName';
      if (typeof attributes[required] !== 'string' || attributes[required] === '') throw invalidValue(`'${required}' is required and cannot be removed.`);
      await this.assertUnique(tx, scope, attributes, id);
      const records: IncomingRecord[] = [];
      let members = current.members;
      if (type === 'Group') {
        const next = await this.checkedMembers(tx, scope, id, membersOf(patchedMembers ?? []), current.members);
        records.push(...memberChanges(current.members ?? [], next));
        members = next;
      }
      const stored = nextVersion(current.stored, attributes, now, records.length > 0);
      if (stored !== current.stored) records.unshift(resourceRecord(scope, type, stored));
      return { stored, members, records, previous: current.stored };
    });
  }

  /**
   * DELETE: the resource is gone for SCIM (404 from now on) and its record is tombstoned, so the person
   * becomes inactive (never hard-deleted); it leaves every group it was in.
   */
  async remove(scope: ScimScope, id: string, ifMatch: string | undefined): Promise<void> {
    const type = scope.schema.name;
    await this.write(scope, async (tx) => {
      const current = await this.current(tx, scope, id, ifMatch);
      const records: IncomingRecord[] = [{ kind: type === 'User' ? 'user' : 'group', external_id: id, deleted: true }];
      if (type === 'Group') {
        records.push(...(current.members ?? []).map((m) => membershipRecord(m, true)));
      }
      // A deleted user or group also leaves the groups it was a member of.
      for (const groupId of await this.deps.resources.groupIdsOfMember(tx, scope.connectionId, id)) {
        records.push(membershipRecord({ group_id: groupId, member_id: id, raw: {} }, true));
      }
      return { stored: current.stored, records };
    });
  }

  /** Runs `work` as a statement of a reconciliation of the connection and indexes what it wrote. */
  private async write(
    scope: ScimScope,
    work: (tx: Tx, now: string) => Promise<WrittenResource & { records: IncomingRecord[]; previous?: JsonObject }>,
  ): Promise<WrittenResource> {
    let result: WrittenResource | undefined;
    await this.deps.statements.submit(scope.connectionId, async (tx) => {
      const now = this.deps.clock().toISOString();
      const { records, previous, ...written } = await work(tx, now);
      const type = scope.schema.name;
      const id = written.stored.id as string;
      const resource = records.find((r) => r.kind !== 'membership');
      if (resource) {
        const entries = resource.deleted ? [] : indexEntries(type, id, written.stored);
        // Most updates change no lookup key (a title, a deactivation): then the index is left as it is.
        const unchanged = previous !== undefined && sameEntries(entries, indexEntries(type, id, previous));
        if (!unchanged) {
          await this.deps.resources.writeIndex(tx, { organizationId: scope.organizationId, connectionId: scope.connectionId }, type, id, entries);
        }
      }
      result = written;
      return records;
    });
    return result!;
  }

  private async current(tx: Tx, scope: ScimScope, id: string, ifMatch: string | undefined): Promise<WrittenResource> {
    const type = scope.schema.name;
    const stored = await this.deps.resources.get(scope.connectionId, type, id, tx);
    if (!stored) throw resourceNotFound(type, id);
    if (ifMatch !== undefined && !matchesVersion(ifMatch, stored)) {
      throw new ScimError(412, undefined, `${type} '${id}' has changed: If-Match ${ifMatch} does not match its version ${String((stored.meta as JsonObject).version)}.`);
    }
    if (type === 'User') return { stored };
    const members = (await this.deps.resources.members(scope.connectionId, [id], tx)).get(id) ?? [];
    return { stored, members };
  }

  /** userName (users) is unique within the connection, case-insensitively; the conflicting id is not revealed. */
  private async assertUnique(tx: Tx, scope: ScimScope, resource: JsonObject, self: string | undefined): Promise<void> {
    if (scope.schema.name !== 'User' || typeof resource.userName !== 'string') return;
    const ids = await this.deps.resources.findIds(scope.connectionId, 'User', 'username', resource.userName.toLowerCase(), { executor: tx });
    if (ids.some((id) => id !== self)) throw uniqueness(`A User with userName '${resource.userName}' already exists.`);
  }

  /**
   * The members as they will be stored: one per id, with the type of what each id names (looked up for ids
   * that are not members already). An id that names nothing of this connection is kept as the IdP stated
   * it (Entra's test suite adds such members and expects 204); it links no one until a resource with that
   * id exists, which for ids Roster issues is never.
   */
  private async checkedMembers(tx: Tx, scope: ScimScope, groupId: string, members: JsonObject[], current: StoredMember[] = []): Promise<StoredMember[]> {
    const byId = new Map<string, JsonObject>();
    for (const member of members) byId.set(member.value as string, member);
    const known = new Map(current.map((m) => [m.member_id, m.raw.type as ScimResourceType | undefined]));
    const found = await this.deps.resources.resourceTypesOf(tx, scope.connectionId, [...byId.keys()].filter((id) => !known.has(id)));
    const typeOf = (id: string) => (known.has(id) ? known.get(id) : found.get(id));
    return [...byId.values()]
      .map((member) => ({ group_id: groupId, member_id: member.value as string, raw: memberRaw(member, typeOf(member.value as string)) }))
      .sort((a, b) => (a.member_id < b.member_id ? -1 : a.member_id > b.member_id ? 1 : 0));
  }

  /** Okta names groups inside a User body; each becomes a membership (read-only in RFC 7643, so adds only). */
  private async groupAdds(tx: Tx, scope: ScimScope, userId: string, groups: string[] | undefined): Promise<IncomingRecord[]> {
    if (!groups || groups.length === 0) return [];
    const types = await this.deps.resources.resourceTypesOf(tx, scope.connectionId, groups);
    const missing = groups.filter((g) => types.get(g) !== 'Group');
    if (missing.length > 0) throw invalidValue(`groups: no Group with id ${missing.map((m) => `'${m}'`).join(', ')}.`);
    const present = await this.deps.resources.groupIdsOfMember(tx, scope.connectionId, userId);
    return groups
      .filter((g) => !present.includes(g))
      .map((g) => membershipRecord({ group_id: g, member_id: userId, raw: { type: 'User' } }));
  }
}

function withMeta(id: string, attributes: JsonObject, meta: JsonObject): JsonObject {
  return { id, ...attributes, meta };
}

const versionTag = (revision: number) => `W/"${revision}"`;

function revisionOf(stored: JsonObject): number {
  const match = /^W\/"(\d+)"$/.exec(String((stored.meta as JsonObject | undefined)?.version ?? ''));
  return match ? Number(match[1]) : 0;
}

/**
 * The stored resource after a write: a new revision when its attributes or its members changed, else the
 * very same object (an identical PUT or a repeated PATCH changes nothing, not even the version).
 */
function nextVersion(current: JsonObject, attributes: JsonObject, now: string, membersChanged: boolean): JsonObject {
  const { id, meta, schemas: _schemas, ...before } = current;
  const { id: _id, meta: _meta, schemas: _s, ...after } = attributes;
  if (!membersChanged && sameState(before, after)) return current;
  const created = (meta as JsonObject).created as string;
  return withMeta(id as string, after, { created, lastModified: now, version: versionTag(revisionOf(current) + 1) });
}

/** Weak comparison (RFC 7232 §2.3.2): `W/"3"`, `"3"` and `*` all match revision 3. */
function matchesVersion(header: string, stored: JsonObject): boolean {
  const wanted = versionOf(stored).replace(/^W\//, '');
  return header
    .split(',')
    .map((tag) => tag.trim())
    .some((tag) => tag === '*' || tag.replace(/^W\//, '') === wanted);
}


function resourceRecord(scope: ScimScope, type: ScimResourceType, stored: JsonObject): IncomingRecord {
  const id = stored.id as string;
  return type === 'User'
    ? { kind: 'user', external_id: id, deleted: false, attributes: normalizeUser(stored, scope.extension), raw: stored }
    : { kind: 'group', external_id: id, deleted: false, attributes: normalizeGroup(stored), raw: stored };
}

function membershipRecord(member: StoredMember, deleted = false): IncomingRecord {
  return {
    kind: 'membership',
    external_id: membershipKey(member.group_id, member.member_id),
    deleted,
    group_external_id: member.group_id,
    user_external_id: member.member_id,
    raw: member.raw,
  };
}

/** Upserts for members added or changed (display), tombstones for members gone. */
function memberChanges(before: StoredMember[], after: StoredMember[]): IncomingRecord[] {
  const old = new Map(before.map((m) => [m.member_id, m]));
  const now = new Set(after.map((m) => m.member_id));
  const records: IncomingRecord[] = [];
  for (const member of after) {
    const previous = old.get(member.member_id);
    if (!previous || !sameState(previous.raw, member.raw)) records.push(membershipRecord(member));
  }
  for (const member of before) if (!now.has(member.member_id)) records.push(membershipRecord(member, true));
  return records;
}

/** What is kept of a member besides its id: its type (when the id names a resource) and the display name the IdP sent. */
function memberRaw(member: JsonObject, type: ScimResourceType | undefined): JsonObject {
  const raw: JsonObject = {};
  if (type) raw.type = type;
  if (typeof member.display === 'string') raw.display = member.display;
  return raw;
}

/** A stored member as the PATCH engine sees it inside the group. */
function memberObject(member: StoredMember): JsonObject {
  return { value: member.member_id, ...member.raw };
}
