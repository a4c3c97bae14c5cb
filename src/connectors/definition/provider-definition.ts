import { z } from 'zod';

/**
 * The declarative format of an HTTP identity provider: everything about a provider that is data (where,
 * how to authenticate, how to page, how to map) lives here; what a protocol needs beyond data is named as
 * a code hook. A definition is validated and its mappings compiled by `loadProviderDefinition` before use.
 */

/** Names usable as `{placeholder}` in URL templates and parameter values. */
export const placeholderName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier ([A-Za-z_][A-Za-z0-9_]*)');

const nonEmpty = z.string().min(1);
const urlTemplate = z.string().regex(/^https?:\/\//, 'must be an absolute http(s) URL template');
/** A dotted path into a JSON response, e.g. `nextPageToken` or `data.items`; `@odata.nextLink` is one key. */
const jsonPath = z.string().min(1);

const scopes = z.array(nonEmpty).default([]);

export const authSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('oauth2_authorization_code'),
    authorizeUrl: urlTemplate,
    tokenUrl: urlTemplate,
    scopes,
    /** Extra authorize parameters, e.g. Google's `access_type=offline` to obtain a refresh token. */
    authorizeParams: z.record(nonEmpty, z.string()).default({}),
    pkce: z.boolean().default(true),
  }),
  z.strictObject({
    type: z.literal('jwt_bearer'),
    tokenUrl: urlTemplate,
    scopes,
    /** The JWT `aud`; the token URL when omitted. */
    audience: z.string().optional(),
    /** Whether the JWT carries `sub` (an admin to impersonate, e.g. Google domain-wide delegation). */
    impersonation: z.boolean().default(false),
  }),
  z.strictObject({ type: z.literal('client_credentials'), tokenUrl: urlTemplate, scopes }),
  z.strictObject({
    type: z.literal('api_key_header'),
    headerName: nonEmpty,
    /** Written before the key, e.g. `SSWS ` (Okta) or `Bearer `. */
    prefix: z.string().default(''),
  }),
]);
export type AuthScheme = z.infer<typeof authSchema>;

export const paginationSchema = z.discriminatedUnion('style', [
  z.strictObject({
    style: z.literal('page_token'),
    /** Request parameter carrying the token, e.g. `pageToken`. */
    tokenParam: nonEmpty,
    /** Where the next token is in the response body, e.g. `nextPageToken`. */
    tokenPath: jsonPath,
  }),
  z.strictObject({
    style: z.literal('next_link'),
    /** Where the absolute next URL is in the body; `@odata.nextLink` for Microsoft Graph. */
    nextLinkPath: jsonPath.default('@odata.nextLink'),
  }),
  z.strictObject({ style: z.literal('link_header'), rel: nonEmpty.default('next') }),
  z.strictObject({
    style: z.literal('offset'),
    offsetParam: nonEmpty,
    limitParam: nonEmpty,
    pageSize: z.number().int().min(1).max(10_000),
  }),
  z.strictObject({ style: z.literal('none') }),
]);
export type Pagination = z.infer<typeof paginationSchema>;
export type PaginationStyle = Pagination['style'];

/**
 * `deletedUsers` is for providers that list deleted accounts only on request and then ONLY those (Google
 * `showDeleted=true`): kept apart from `users` so a snapshot never reads that list as the whole directory.
 * Its items go through the user mapping.
 */
export const RESOURCE_NAMES = ['users', 'deletedUsers', 'groups', 'members'] as const;
export type ResourceName = (typeof RESOURCE_NAMES)[number];

export const resourceSchema = z.strictObject({
  /** Appended to the base URL; `members` may use `{groupId}`. */
  path: z.string().regex(/^\//, 'must start with /'),
  /** Fixed query parameters, e.g. `customer=my_customer`; values may use placeholders. */
  params: z.record(nonEmpty, z.string()).default({}),
  /** Where the item array is in the body; `.` when the body itself is the array. */
  itemsPath: jsonPath,
  /**
   * Google omits the `users` key when a page has no results. Only a provider documented to do so sets
   * this; elsewhere a missing key is a broken response and fails the page.
   */
  absentItemsMeansEmpty: z.boolean().default(false),
  pagination: paginationSchema,
  /**
   * Appended to the base URL to fetch ONE item by its id (`{id}`), e.g. `/users/{id}`: what a push
   * notification naming an object is answered with.
   */
  itemPath: z.string().regex(/^\//, 'must start with /').optional(),
  /** Fixed query parameters of the item request (list parameters such as `customer` do not apply to it). */
  itemParams: z.record(nonEmpty, z.string()).default({}),
  /** Dotted paths removed from the raw payload before it is stored, so they never count as a change. */
  volatileFields: z.array(jsonPath).default([]),
  /**
   * Where an item carries the id its mapping yields (`id`, JumpCloud's `_id`). With it, a critical or
   * profile listing finds the items unchanged since their records were stored (the same item under the
   * same mapping) and restates those records without mapping the items again.
   */
  idPath: jsonPath.optional(),
});
export type ResourceDefinition = z.infer<typeof resourceSchema>;

export const rateLimitSchema = z.strictObject({
  limitHeader: nonEmpty.optional(),
  remainingHeader: nonEmpty.optional(),
  resetHeader: nonEmpty.optional(),
  /** What the reset header counts: an epoch time in seconds (Okta), or seconds from now. */
  resetUnit: z.enum(['epoch_seconds', 'seconds_from_now']).default('epoch_seconds'),
  retryAfterHeader: nonEmpty.default('retry-after'),
  /** Non-429 statuses that can mean throttling (Google answers 403 `userRateLimitExceeded`). */
  throttleStatuses: z.array(z.number().int().min(400).max(599)).default([429]),
});

export const providerDefinitionSchema = z.strictObject({
  id: z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be kebab-case'),
  displayName: nonEmpty,
  /** The connection settings an operator supplies; the only placeholders URL templates may use. */
  connectionConfig: z.record(placeholderName, z.strictObject({ description: nonEmpty })).default({}),
  baseUrl: urlTemplate,
  /** The schemes a connection may use, preferred first (Google: service account or an admin's consent). */
  auth: z.array(authSchema).min(1),
  rateLimit: rateLimitSchema.optional(),
  resources: z.strictObject({
    users: resourceSchema,
    deletedUsers: resourceSchema.optional(),
    groups: resourceSchema.optional(), members: resourceSchema.optional(),
  }),
  /**
   * JSONata expressions over one provider item. `user` and `group` yield `{id, deleted?, attributes}`;
   * `member` yields `{type: "user"|"group"|"other", id}`.
   */
  mappings: z.strictObject({ user: nonEmpty, group: nonEmpty.optional(), member: nonEmpty.optional() }),
  /** Code hooks by id, for what a protocol needs beyond data. */
  hooks: z.array(nonEmpty).default([]),
});

/** A definition as written (JSON or a TS literal), before defaults. */
export type ProviderDefinitionInput = z.input<typeof providerDefinitionSchema>;
/** A definition after validation, with defaults applied. */
export type ProviderDefinitionSpec = z.infer<typeof providerDefinitionSchema>;
