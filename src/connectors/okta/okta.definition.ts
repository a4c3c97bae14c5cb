import { type ProviderDefinitionInput } from '../definition/provider-definition.ts';

/**
 * Okta's Management API as data; see shared/providers/okta.md. Load it with `loadProviderDefinition` —
 * this module only declares it. What is protocol rather than data (the System Log as a change feed, event
 * hooks, DEPROVISIONED users listed apart) lives beside it in this folder.
 */

export const OKTA_READ_SCOPES = ['okta.users.read', 'okta.groups.read', 'okta.logs.read'];

/** What a STAGED or PROVISIONED user (created, never signed in) becomes; the file says "not yet active". */
export const STAGED_STATES = ['pending', 'inactive', 'active'] as const;
export type StagedState = (typeof STAGED_STATES)[number];
export const DEFAULT_STAGED_STATE: StagedState = 'pending';

/** Okta's base user profile; any other profile key is a custom attribute the org added. */
const BASE_PROFILE = [
  'login', 'email', 'secondEmail', 'firstName', 'lastName', 'middleName', 'honorificPrefix', 'honorificSuffix', 'title', 'displayName',
  'nickName', 'profileUrl', 'primaryPhone', 'mobilePhone', 'streetAddress', 'city', 'state', 'zipCode', 'postalAddress', 'countryCode',
  'preferredLanguage', 'locale', 'timezone', 'userType', 'employeeNumber', 'costCenter', 'organization', 'division', 'department',
  'managerId', 'manager',
];

/**
 * A user: status → state (ACTIVE and the states of an active person having trouble signing in are active;
 * SUSPENDED suspended; DEPROVISIONED inactive, kept as a record, not a tombstone: Okta still holds the
 * person), `employeeNumber` → employee_id, `managerId` (the manager's Okta id) → manager.external_id, and
 * every non-base profile attribute → custom_attributes.
 */
export function oktaUserMapping(stagedState: StagedState): string {
  return `(
  $p := profile;
  $base := ${JSON.stringify(BASE_PROFILE)};
  $custom := $sift($p, function($v, $k) { $not($k in $base) and $type($v) != "null" });
  $names := [$p.firstName, $p.lastName][$type($) = "string" and $ != ""];
  {
    "id": id,
    "attributes": {
      "email": $p.email,
      "emails": $append([], $distinct([$p.email, $p.secondEmail][$type($) = "string" and $ != ""])),
      "username": $p.login,
      "employee_id": $p.employeeNumber,
      "first_name": $p.firstName,
      "last_name": $p.lastName,
      "display_name": $p.displayName ? $p.displayName : ($count($names) > 0 ? $join($names, " ") : null),
      "department": $p.department,
      "title": $p.title,
      "manager": $p.managerId ? { "external_id": $p.managerId } : null,
      "state": status in ["ACTIVE", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT"] ? "active"
        : status = "SUSPENDED" ? "suspended"
        : status = "DEPROVISIONED" ? "inactive"
        : ${JSON.stringify(stagedState)},
      "custom_attributes": $custom
    }
  }
)`;
}

const GROUP_MAPPING = `{
  "id": id,
  "attributes": { "name": profile.name, "description": profile.description }
}`;

// /groups/{id}/users lists users only: Okta groups do not nest.
const MEMBER_MAPPING = `{ "type": "user", "id": id }`;

/** Every status an Okta user can have, as a `filter`: with a filter, Okta lists DEPROVISIONED users too. */
export const EVERY_USER_STATUS = ['STAGED', 'PROVISIONED', 'ACTIVE', 'RECOVERY', 'PASSWORD_EXPIRED', 'LOCKED_OUT', 'SUSPENDED', 'DEPROVISIONED']
  .map((status) => `status eq "${status}"`)
  .join(' or ');

// Okta's own groups and those imported from directories and apps; BUILT_IN is "Everyone" (every user).
export const SYNCED_GROUP_TYPES = 'type eq "OKTA_GROUP" or type eq "APP_GROUP"';

// Neither is a change of the person: a sign-in moves lastLogin, and _links differ between list and get.
const USER_VOLATILE = ['lastLogin', 'lastUpdated', 'passwordChanged', '_links'];

export const oktaDefinition = {
  id: 'okta',
  displayName: 'Okta',
  connectionConfig: {
    domain: { description: "The Okta org's domain, e.g. acme.okta.com (or a custom domain)." },
    staged_state: { description: 'What a STAGED or PROVISIONED user becomes: pending (default), inactive or active.' },
  },
  baseUrl: 'https://{domain}/api/v1',
  auth: [
    { type: 'api_key_header', headerName: 'Authorization', prefix: 'SSWS ' },
    // A service app authenticates with private_key_jwt (RFC 7523 client assertion) to the org authorization server.
    { type: 'client_credentials', tokenUrl: 'https://{domain}/oauth2/v1/token', scopes: OKTA_READ_SCOPES },
  ],
  rateLimit: { limitHeader: 'x-rate-limit-limit', remainingHeader: 'x-rate-limit-remaining', resetHeader: 'x-rate-limit-reset', throttleStatuses: [429] },
  resources: {
    // The plain list leaves DEPROVISIONED users out. A filter naming every status lists everyone in one
    // enumeration, so a full snapshot sees the deactivated too, and nobody changing status mid-listing
    // falls between two listings.
    users: {
      path: '/users',
      params: { limit: '200', filter: EVERY_USER_STATUS },
      itemsPath: '.',
      itemPath: '/users/{id}',
      pagination: { style: 'link_header', rel: 'next' },
      volatileFields: USER_VOLATILE,
      idPath: 'id',
    },
    groups: {
      path: '/groups',
      params: { limit: '200', filter: SYNCED_GROUP_TYPES },
      itemsPath: '.',
      itemPath: '/groups/{id}',
      pagination: { style: 'link_header', rel: 'next' },
      // Membership is reported by the members listing itself.
      volatileFields: ['lastMembershipUpdated', '_links', '_embedded'],
      idPath: 'id',
    },
    members: {
      path: '/groups/{groupId}/users',
      params: { limit: '1000' },
      itemsPath: '.',
      pagination: { style: 'link_header', rel: 'next' },
      // A member is a whole user object; what the membership states is only that it exists. No idPath: the
      // object changes with every login, so a listing would rarely find one unchanged to restate.
      volatileFields: ['lastLogin', 'lastUpdated', 'passwordChanged', '_links', 'profile', 'credentials', 'statusChanged', 'status', 'activated'],
    },
  },
  mappings: { user: oktaUserMapping(DEFAULT_STAGED_STATE), group: GROUP_MAPPING, member: MEMBER_MAPPING },
  hooks: ['okta.systemLogPoll', 'okta.eventHooks'],
} satisfies ProviderDefinitionInput;
