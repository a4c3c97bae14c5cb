import { attr, type ResourceSchema, type ScimAttribute, type ScimSchema } from './attributes.ts';

/** RFC 7643 §4 and §4.3: the core User and Group schemas and the enterprise User extension, as Roster serves them. */

export const USER_SCHEMA_ID = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA_ID = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_SCHEMA_ID = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** A `type`/`primary`/`display`/`value` multi-valued attribute (emails, phoneNumbers, …). */
function plural(name: string, description: string, types: string[], valueOverrides: Partial<ScimAttribute> = {}): ScimAttribute {
  return attr(name, {
    type: 'complex',
    multiValued: true,
    description,
    subAttributes: [
      attr('value', { description: `The ${name} value.`, ...valueOverrides }),
      attr('display', { description: 'A human-readable name, primarily used for display purposes.' }),
      attr('type', { description: 'A label indicating the function of the value.', canonicalValues: types }),
      attr('primary', { type: 'boolean', description: 'Whether this is the primary value of the attribute.' }),
    ],
  });
}

const reference = (name: string, referenceTypes: string[], overrides: Partial<ScimAttribute> = {}) =>
  attr(name, { type: 'reference', referenceTypes, caseExact: true, ...overrides });

export const USER_SCHEMA: ScimSchema = {
  id: USER_SCHEMA_ID,
  name: 'User',
  description: 'User Account',
  attributes: [
    attr('userName', {
      required: true,
      uniqueness: 'server',
      description: 'Unique identifier for the User, typically used to authenticate to the service provider.',
    }),
    attr('name', {
      type: 'complex',
      description: "The components of the user's real name.",
      subAttributes: ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'].map((n) => attr(n)),
    }),
    attr('displayName', { description: 'The name of the User, suitable for display to end-users.' }),
    attr('nickName', { description: 'The casual way to address the user.' }),
    reference('profileUrl', ['external'], { description: "A URI that is a uniform resource locator and that points to a location representing the user's online profile." }),
    attr('title', { description: "The user's title, such as 'Vice President'." }),
    attr('userType', { description: 'Used to identify the relationship between the organization and the user.' }),
    attr('preferredLanguage', { description: "The User's preferred written or spoken language." }),
    attr('locale', { description: "The User's default location for localizing items." }),
    attr('timezone', { description: "The User's time zone in the 'Olson' time zone database format." }),
    attr('active', { type: 'boolean', description: "A Boolean value indicating the User's administrative status." }),
    attr('password', { mutability: 'writeOnly', returned: 'never', description: "The User's cleartext password; never stored nor returned." }),
    plural('emails', 'Email addresses for the user.', ['work', 'home', 'other']),
    plural('phoneNumbers', 'Phone numbers for the User.', ['work', 'home', 'mobile', 'fax', 'pager', 'other']),
    plural('ims', 'Instant messaging addresses for the User.', ['aim', 'gtalk', 'icq', 'xmpp', 'msn', 'skype', 'qq', 'yahoo']),
    plural('photos', 'URLs of photos of the User.', ['photo', 'thumbnail'], { type: 'reference', referenceTypes: ['external'], caseExact: true }),
    attr('addresses', {
      type: 'complex',
      multiValued: true,
      description: 'A physical mailing address for this User.',
      subAttributes: [
        ...['formatted', 'streetAddress', 'locality', 'region', 'postalCode', 'country'].map((n) => attr(n)),
        attr('type', { canonicalValues: ['work', 'home', 'other'] }),
        attr('primary', { type: 'boolean' }),
      ],
    }),
    attr('groups', {
      type: 'complex',
      multiValued: true,
      mutability: 'readOnly',
      description: 'A list of groups to which the user belongs, through direct membership.',
      subAttributes: [
        attr('value', { mutability: 'readOnly', caseExact: true, description: 'The identifier of the User\'s group.' }),
        reference('$ref', ['Group'], { mutability: 'readOnly', description: 'The URI of the corresponding Group resource.' }),
        attr('display', { mutability: 'readOnly', description: 'The display name of the group.' }),
        attr('type', { mutability: 'readOnly', canonicalValues: ['direct', 'indirect'] }),
      ],
    }),
    plural('entitlements', 'A list of entitlements for the User.', []),
    plural('roles', 'A list of roles for the User.', []),
    plural('x509Certificates', 'A list of certificates issued to the User.', [], { type: 'binary', caseExact: true }),
  ],
};

export const ENTERPRISE_USER_SCHEMA: ScimSchema = {
  id: ENTERPRISE_USER_SCHEMA_ID,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    attr('employeeNumber', { description: 'Numeric or alphanumeric identifier assigned to a person by the organization.' }),
    attr('costCenter', { description: 'Identifies the name of a cost center.' }),
    attr('organization', { description: 'Identifies the name of an organization.' }),
    attr('division', { description: 'Identifies the name of a division.' }),
    attr('department', { description: 'Identifies the name of a department.' }),
    attr('manager', {
      type: 'complex',
      description: "The User's manager.",
      subAttributes: [
        attr('value', { caseExact: true, description: 'The id of the SCIM resource representing the User\'s manager.' }),
        reference('$ref', ['User'], { description: 'The URI of the SCIM resource representing the User\'s manager.' }),
        attr('displayName', { mutability: 'readOnly', description: 'The displayName of the User\'s manager.' }),
      ],
    }),
  ],
};

export const GROUP_SCHEMA: ScimSchema = {
  id: GROUP_SCHEMA_ID,
  name: 'Group',
  description: 'Group',
  attributes: [
    attr('displayName', { required: true, description: 'A human-readable name for the Group.' }),
    attr('members', {
      type: 'complex',
      multiValued: true,
      description: 'A list of members of the Group.',
      subAttributes: [
        attr('value', { mutability: 'immutable', caseExact: true, description: 'Identifier of the member of this Group.' }),
        reference('$ref', ['User', 'Group'], { mutability: 'immutable', description: 'The URI of the member resource.' }),
        attr('type', { mutability: 'immutable', canonicalValues: ['User', 'Group'], description: 'The type of the member.' }),
        attr('display', { mutability: 'immutable', description: 'A human-readable name of the member.' }),
      ],
    }),
  ],
};

/** The User resource type; an organization's own extension schema, when it defines one, joins the enterprise one. */
export function userResource(customExtension?: ScimSchema): ResourceSchema {
  return {
    name: 'User',
    endpoint: '/Users',
    description: 'User Account',
    core: USER_SCHEMA,
    extensions: [
      { schema: ENTERPRISE_USER_SCHEMA, required: false },
      ...(customExtension ? [{ schema: customExtension, required: false }] : []),
    ],
  };
}

export const USER_RESOURCE: ResourceSchema = userResource();

export const GROUP_RESOURCE: ResourceSchema = {
  name: 'Group',
  endpoint: '/Groups',
  description: 'Group',
  core: GROUP_SCHEMA,
  extensions: [],
};
