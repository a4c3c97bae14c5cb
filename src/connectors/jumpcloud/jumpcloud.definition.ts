import { type ProviderDefinitionInput } from '../definition/provider-definition.ts';

/**
 * JumpCloud (v1 system users, v2 user groups) as data; see shared/providers/jumpcloud.md. One base serves
 * both versions: v1 under `/api/…`, v2 under `/api/v2/…`. An EU organization sets `api_base_url` to
 * `https://console.eu.jumpcloud.com/api`. Load it with `loadProviderDefinition` — this module only declares it.
 */

// JumpCloud renders unset text fields as "" (and the manager as null): neither is a value.
// `state` decides: ACTIVATED is active, SUSPENDED (or `suspended: true`) suspended, and STAGED — created,
// but not yet activated by the user or an admin, so unable to sign in — is `pending` (state_reason
// pending_in_source), neither active nor deactivated. A record without `state` (older accounts) is read
// from `activated`. `account_locked` (too many bad passwords) is temporary and leaves the state alone.
const USER_MAPPING = `
(
  $text := function($v) { $type($v) = "string" and $v != "" ? $v : null };
  $state := suspended = true or state = "SUSPENDED" ? "suspended"
    : state = "ACTIVATED" ? "active"
    : state = "STAGED" ? "pending"
    : activated = false ? "pending" : "active";
  $custom := $merge($append([{}], attributes[$type(name) = "string" and name != ""].{ name: value }));
  {
    "id": _id,
    "attributes": {
      "email": $text(email),
      "emails": $append([], $distinct([email, alternateEmail][$type($) = "string" and $ != ""])),
      "username": $text(username),
      "employee_id": $text(employeeIdentifier),
      "first_name": $text(firstname),
      "last_name": $text(lastname),
      "display_name": $text(displayname) ? $text(displayname) : $text($join([firstname, lastname][$type($) = "string" and $ != ""], " ")),
      "department": $text(department),
      "title": $text(jobTitle),
      "manager": $text(manager) ? { "external_id": manager } : null,
      "state": $state,
      "custom_attributes": $custom
    }
  }
)`;

const GROUP_MAPPING = `{
  "id": id,
  "attributes": {
    "name": name,
    "description": $type(description) = "string" and description != "" ? description : null,
    "email": $type(email) = "string" and email != "" ? email : null
  }
}`;

// v2 graph connections: members of a user group are users; any other kind of object is not a person here.
const MEMBER_MAPPING = `{
  "type": to.type = "user" ? "user" : to.type = "user_group" ? "group" : "other",
  "id": to.id
}`;

/** Every list endpoint pages by `skip`/`limit`, at most 100 a page. */
const OFFSET = { style: 'offset', offsetParam: 'skip', limitParam: 'limit', pageSize: 100 } as const;

export const jumpCloudDefinition = {
  id: 'jumpcloud',
  displayName: 'JumpCloud',
  connectionConfig: {},
  baseUrl: 'https://console.jumpcloud.com/api',
  auth: [{ type: 'api_key_header', headerName: 'x-api-key' }],
  // JumpCloud publishes no rate limits or quota headers [unverified]: a 429 is the only signal.
  rateLimit: { throttleStatuses: [429] },
  resources: {
    users: {
      path: '/systemusers',
      // Sorted by the immutable `_id`, so a page boundary names a fixed place in the listing; the
      // connector checks it is still there (offset paging drifts when users come and go mid-scan).
      params: { sort: '_id' },
      itemsPath: 'results',
      itemPath: '/systemusers/{id}',
      pagination: OFFSET,
      // Both change with no profile change (a mistyped password, a password reset).
      volatileFields: ['badLoginAttempts', 'password_expiration_date'],
      idPath: '_id',
    },
    groups: {
      // No sort: which v2 fields sort is not published [unverified]; the default order is stable, and the
      // connector's page-boundary check holds for any stable order.
      path: '/v2/usergroups',
      itemsPath: '.',
      itemPath: '/v2/usergroups/{id}',
      pagination: OFFSET,
      idPath: 'id',
    },
    members: {
      // Direct members; the list takes no sort, it answers in the order members were added.
      path: '/v2/usergroups/{groupId}/members',
      itemsPath: '.',
      pagination: OFFSET,
      idPath: 'to.id',
    },
  },
  mappings: { user: USER_MAPPING, group: GROUP_MAPPING, member: MEMBER_MAPPING },
} satisfies ProviderDefinitionInput;
