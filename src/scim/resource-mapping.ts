import type { JsonObject, JsonValue, NormalizedGroup, NormalizedUser } from '../core/model.ts';
import type { ScimExtensionPolicy } from '../core/policy.ts';
import type { ScimIndexEntry } from '../store/scim-resources.repo.ts';
import { isJsonObject } from './json-values.ts';
import { attr, type ScimSchema } from './schema/attributes.ts';
import { ENTERPRISE_USER_SCHEMA_ID } from './schema/resource-schemas.ts';

/**
 * How a SCIM resource becomes Roster's normalized statement about a person or group (the connection's
 * source record), and which keys it is looked up by. Pure.
 */

const str = (value: JsonValue | undefined): string | null => (typeof value === 'string' && value !== '' ? value : null);
const obj = (value: JsonValue | undefined): JsonObject => (isJsonObject(value) ? value : {});
const list = (value: JsonValue | undefined): JsonObject[] => (Array.isArray(value) ? value.map((v) => obj(v)) : []);

/** The extension schema an organization's policy defines, as `/Schemas` serves it. */
export function extensionSchema(policy: ScimExtensionPolicy | null): ScimSchema | undefined {
  if (!policy) return undefined;
  return {
    id: policy.id,
    name: policy.name,
    description: `${policy.name} attributes of this organization`,
    attributes: policy.attributes.map((a) =>
      attr(a.name, { type: a.type, multiValued: a.multi_valued, caseExact: a.case_exact, description: a.description }),
    ),
  };
}

/** The address the IdP marks primary, else its work address, else the first. */
function primaryEmail(emails: JsonObject[]): string | null {
  const chosen = emails.find((e) => e.primary === true) ?? emails.find((e) => e.type === 'work') ?? emails[0];
  return str(chosen?.value);
}

export function normalizeUser(resource: JsonObject, extension: ScimExtensionPolicy | null): NormalizedUser {
  const name = obj(resource.name);
  const enterprise = obj(resource[ENTERPRISE_USER_SCHEMA_ID]);
  const emails = list(resource.emails);
  const managerId = str(obj(enterprise.manager).value);
  const custom: JsonObject = {};
  if (extension) {
    const values = obj(resource[extension.id]);
    for (const attribute of extension.attributes) {
      const value = values[attribute.name];
      if (value !== undefined && value !== null) custom[attribute.name] = value;
    }
  }
  return {
    username: str(resource.userName),
    email: primaryEmail(emails),
    emails: emails.map((e) => str(e.value)).filter((v): v is string => v !== null),
    first_name: str(name.givenName),
    last_name: str(name.familyName),
    display_name: str(resource.displayName) ?? str(name.formatted),
    title: str(resource.title),
    employee_id: str(enterprise.employeeNumber),
    department: str(enterprise.department),
    // The manager is named by this connection's own SCIM id; the reconciler resolves it once both are linked.
    manager: managerId ? { external_id: managerId } : null,
    // An IdP deactivates by `active: false`; a user it never said anything about is active.
    state: resource.active === false ? 'inactive' : 'active',
    ...(Object.keys(custom).length > 0 ? { custom_attributes: custom } : {}),
  };
}

export function normalizeGroup(resource: JsonObject): NormalizedGroup {
  return { name: str(resource.displayName) ?? '' };
}

/**
 * The keys a resource is found by. Values of attributes that are not caseExact are lower-cased, so an
 * equality filter is an index lookup whatever case the client sends.
 */
export function indexEntries(type: 'User' | 'Group', id: string, resource: JsonObject): ScimIndexEntry[] {
  const entries: ScimIndexEntry[] = [{ attribute: 'id', value_key: id }];
  const externalId = str(resource.externalId);
  if (externalId !== null) entries.push({ attribute: 'externalid', value_key: externalId });
  if (type === 'User') {
    const userName = str(resource.userName);
    if (userName !== null) entries.push({ attribute: 'username', value_key: userName.toLowerCase() });
    for (const email of list(resource.emails)) {
      const value = str(email.value);
      if (value !== null) entries.push({ attribute: 'emails.value', value_key: value.toLowerCase() });
    }
  } else {
    const displayName = str(resource.displayName);
    if (displayName !== null) entries.push({ attribute: 'displayname', value_key: displayName.toLowerCase() });
  }
  return entries;
}

/** Whether two lists of keys (as `indexEntries` makes them, in its order) are the same. */
export function sameEntries(a: readonly ScimIndexEntry[], b: readonly ScimIndexEntry[]): boolean {
  return a.length === b.length && a.every((entry, i) => entry.attribute === b[i]!.attribute && entry.value_key === b[i]!.value_key);
}
