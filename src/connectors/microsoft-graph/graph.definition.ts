import { type ProviderDefinitionInput } from '../definition/provider-definition.ts';

/**
 * Microsoft Entra ID through Microsoft Graph, as data; see shared/providers/microsoft-graph.md. Load it
 * with `loadProviderDefinition`. Delta queries and subscriptions are code (graph-delta.ts,
 * graph-subscriptions.ts), named here as hooks.
 */

/**
 * Everything the canonical model reads. Graph answers only a default set (no accountEnabled, department or
 * employeeId) unless `$select` names them.
 */
export const GRAPH_USER_SELECT = [
  'id',
  'accountEnabled',
  'displayName',
  'givenName',
  'surname',
  'userPrincipalName',
  'mail',
  'otherMails',
  'proxyAddresses',
  'department',
  'jobTitle',
  'employeeId',
  'employeeType',
  'companyName',
  'onPremisesSamAccountName',
  // Not mapped, but kept in the raw payload, where custom attributes (`raw.…`) and a remap can reach them:
  // the on-premises anchor of a hybrid directory and its 15 extension attributes.
  'onPremisesImmutableId',
  'onPremisesSyncEnabled',
  'onPremisesExtensionAttributes',
  'createdDateTime',
].join(',');

export const GRAPH_GROUP_SELECT = ['id', 'displayName', 'description', 'mail', 'mailEnabled', 'mailNickname', 'securityEnabled', 'groupTypes', 'membershipRule', 'onPremisesSyncEnabled'].join(',');

/** The manager is a navigation property: expanded to its id alone, the same shape on a list and a fetch. */
const MANAGER_EXPAND = 'manager($select=id)';

// `mail` may be null (no mailbox) and userPrincipalName is not always a mailbox: it is the username, and
// an address only when Entra lists it as one (mail, SMTP proxy addresses, otherMails).
// accountEnabled=false blocks sign-in: the account exists but is suspended.
const USER_MAPPING = `(
  $smtp := proxyAddresses[$lowercase($substring($, 0, 5)) = "smtp:"];
  $primary := $smtp[$substring($, 0, 5) = "SMTP:"][0];
  $email := mail ? mail : ($primary ? $substring($primary, 5) : null);
  $custom := $merge([
    employeeType ? { "employeeType": employeeType },
    companyName ? { "companyName": companyName },
    onPremisesSamAccountName ? { "onPremisesSamAccountName": onPremisesSamAccountName }
  ]);
  {
    "id": id,
    "attributes": {
      "email": $email,
      "emails": $append([], $distinct($append($append($email ? [$email] : [], $map($smtp, function($a) { $substring($a, 5) })), otherMails))),
      "username": userPrincipalName,
      "first_name": givenName,
      "last_name": surname,
      "display_name": displayName,
      "department": department,
      "title": jobTitle,
      "employee_id": employeeId,
      "manager": manager.id ? { "external_id": manager.id } : null,
      "state": accountEnabled = false ? "suspended" : "active",
      "custom_attributes": $custom
    }
  }
)`;

const GROUP_MAPPING = `{
  "id": id,
  "attributes": { "name": displayName ? displayName : (mailNickname ? mailNickname : id), "description": description, "email": mail }
}`;

// Members are directoryObjects; nested groups are kept apart, devices and service principals are not people.
const MEMBER_MAPPING = `{
  "type": \`@odata.type\` = "#microsoft.graph.user" ? "user" : \`@odata.type\` = "#microsoft.graph.group" ? "group" : "other",
  "id": id
}`;

export const microsoftGraphDefinition = {
  id: 'microsoft-graph',
  displayName: 'Microsoft Entra ID (Microsoft Graph)',
  connectionConfig: {
    tenant: { description: 'The Entra tenant: its id (a GUID) or a verified domain such as contoso.onmicrosoft.com.' },
  },
  baseUrl: 'https://graph.microsoft.com/v1.0',
  auth: [{ type: 'client_credentials', tokenUrl: 'https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token', scopes: ['https://graph.microsoft.com/.default'] }],
  // Graph throttles with 429 and Retry-After (seconds); headers tell resource-unit use, not a remaining count.
  rateLimit: { throttleStatuses: [429] },
  resources: {
    users: {
      path: '/users',
      params: { $select: GRAPH_USER_SELECT, $expand: MANAGER_EXPAND, $top: '999' },
      itemsPath: 'value',
      // A deleted user (soft or permanent) answers 404: the notification's object is gone.
      itemPath: '/users/{id}',
      itemParams: { $select: GRAPH_USER_SELECT, $expand: MANAGER_EXPAND },
      pagination: { style: 'next_link', nextLinkPath: '@odata.nextLink' },
      // Only a fetched single object carries its context; listed ones do not.
      volatileFields: ['@odata.context'],
      idPath: 'id',
    },
    groups: {
      path: '/groups',
      params: { $select: GRAPH_GROUP_SELECT, $top: '999' },
      itemsPath: 'value',
      itemPath: '/groups/{id}',
      itemParams: { $select: GRAPH_GROUP_SELECT },
      pagination: { style: 'next_link', nextLinkPath: '@odata.nextLink' },
      volatileFields: ['@odata.context'],
      idPath: 'id',
    },
    members: {
      path: '/groups/{groupId}/members',
      // `$select=id` still answers each member's @odata.type, which is all the mapping needs (and costs 1 RU less).
      params: { $select: 'id', $top: '999' },
      itemsPath: 'value',
      pagination: { style: 'next_link', nextLinkPath: '@odata.nextLink' },
      idPath: 'id',
    },
  },
  mappings: { user: USER_MAPPING, group: GROUP_MAPPING, member: MEMBER_MAPPING },
  hooks: ['graph.usersDelta', 'graph.groupsDelta', 'graph.membersDelta', 'graph.changeNotifications'],
} satisfies ProviderDefinitionInput;
