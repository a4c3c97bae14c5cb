import { type ProviderDefinitionInput } from '../definition/provider-definition.ts';

/**
 * Google Workspace (Admin SDK Directory API) as data; see shared/providers/google-workspace.md.
 * Load it with `loadProviderDefinition` — this module only declares it.
 */

const SCOPES = [
  'https://www.googleapis.com/auth/admin.directory.user.readonly',
  'https://www.googleapis.com/auth/admin.directory.group.readonly',
  'https://www.googleapis.com/auth/admin.directory.group.member.readonly',
];

// A user with `deletionTime` is gone (listed only because of showDeleted): a tombstone, not a record.
// Department and title live in `organizations`, the primary one first; the manager is an EMAIL.
const USER_MAPPING = `
deletionTime ? { "id": id, "deleted": true } : (
  $org := ($sort(organizations, function($l, $r) { $r.primary = true and $not($l.primary = true) }))[0];
  $manager := relations[type = "manager"][0].value;
  $custom := $merge(
    $each(customSchemas, function($fields, $schema) {
      $each($fields, function($value, $field) { { $schema & "." & $field: $value } })
    }) ~> $reduce(function($all, $next) { $append($all, $next) })
  );
  {
    "id": id,
    "attributes": {
      "email": primaryEmail,
      "emails": $append([], $distinct($append($append($append(primaryEmail, emails.address), aliases), nonEditableAliases))),
      "first_name": name.givenName,
      "last_name": name.familyName,
      "display_name": name.displayName ? name.displayName : name.fullName,
      "department": $org.department,
      "title": $org.title,
      "employee_id": externalIds[type = "organization"][0].value,
      "manager": $manager ? { "email": $manager } : null,
      "state": suspended = true ? "suspended" : archived = true ? "inactive" : "active",
      "custom_attributes": $custom
    }
  }
)`;

const GROUP_MAPPING = `{
  "id": id,
  "attributes": { "name": name ? name : email, "email": email, "description": description }
}`;

// Nested groups arrive as type GROUP; CUSTOMER ("everyone in the domain") and EXTERNAL are not users here.
const MEMBER_MAPPING = `{
  "type": type = "USER" ? "user" : type = "GROUP" ? "group" : "other",
  "id": id
}`;

export const googleWorkspaceDefinition = {
  id: 'google-workspace',
  displayName: 'Google Workspace',
  connectionConfig: {},
  baseUrl: 'https://admin.googleapis.com/admin/directory/v1',
  auth: [
    {
      type: 'jwt_bearer',
      tokenUrl: 'https://oauth2.googleapis.com/token',
      scopes: SCOPES,
      // Domain-wide delegation: the JWT names the admin it acts for in `sub`.
      impersonation: true,
    },
    {
      type: 'oauth2_authorization_code',
      authorizeUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
      tokenUrl: 'https://oauth2.googleapis.com/token',
      scopes: SCOPES,
      // Without offline access Google issues no refresh token and the connection dies within the hour.
      authorizeParams: { access_type: 'offline', prompt: 'consent' },
    },
  ],
  // Google throttles with 403 userRateLimitExceeded and sends no quota headers.
  rateLimit: { throttleStatuses: [403, 429] },
  resources: {
    users: {
      path: '/users',
      params: { customer: 'my_customer', maxResults: '500', projection: 'full' },
      itemsPath: 'users',
      // users.get answers 404 for a deleted user: the notification's object is gone.
      itemPath: '/users/{id}',
      itemParams: { projection: 'full' },
      // Google omits `users` when there are none; completeness checks elsewhere decide what that means.
      absentItemsMeansEmpty: true,
      pagination: { style: 'page_token', tokenParam: 'pageToken', tokenPath: 'nextPageToken' },
      // Both change with no profile change (a login, any re-serialization).
      volatileFields: ['etag', 'lastLoginTime'],
      idPath: 'id',
    },
    // showDeleted=true lists ONLY deleted users (recoverable ~20 days); each maps to a tombstone.
    deletedUsers: {
      path: '/users',
      params: { customer: 'my_customer', showDeleted: 'true', maxResults: '500' },
      itemsPath: 'users',
      absentItemsMeansEmpty: true,
      pagination: { style: 'page_token', tokenParam: 'pageToken', tokenPath: 'nextPageToken' },
      volatileFields: ['etag', 'lastLoginTime'],
    },
    groups: {
      path: '/groups',
      params: { customer: 'my_customer', maxResults: '200' },
      itemsPath: 'groups',
      itemPath: '/groups/{id}',
      absentItemsMeansEmpty: true,
      pagination: { style: 'page_token', tokenParam: 'pageToken', tokenPath: 'nextPageToken' },
      // The member count changes with membership, which memberships themselves already report.
      volatileFields: ['etag', 'directMembersCount'],
      idPath: 'id',
    },
    members: {
      path: '/groups/{groupId}/members',
      params: { maxResults: '200' },
      itemsPath: 'members',
      absentItemsMeansEmpty: true,
      pagination: { style: 'page_token', tokenParam: 'pageToken', tokenPath: 'nextPageToken' },
      volatileFields: ['etag'],
      idPath: 'id',
    },
  },
  mappings: { user: USER_MAPPING, group: GROUP_MAPPING, member: MEMBER_MAPPING },
  hooks: ['google.watchChannels'],
} satisfies ProviderDefinitionInput;
