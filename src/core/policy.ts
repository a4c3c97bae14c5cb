import { z } from 'zod';
import { OWNED_USER_ATTRIBUTES, type ConnectionRef, type OwnedUserAttribute } from './model.ts';

/**
 * The directory policy of an organization: how its canonical directory is built from its connections.
 * Stored as the admin wrote it; `effectivePolicy` fills the defaults.
 *
 * An owner reference names a connection id, a connection type (`workday`) or a category (`hris`).
 * `owners` are authoritative: the first with a value wins, and owners that disagree open a conflict.
 * `fallback` sources only fill an attribute no owner has a value for, and never open conflicts — that is
 * how a contractor who exists only in the IdP still gets a department without every HRIS/IdP spelling
 * difference becoming a conflict.
 */
const ownerRef = z.string().min(1).max(200);

export const ownershipRuleSchema = z.strictObject({
  owners: z.array(ownerRef).max(50),
  fallback: z.array(ownerRef).max(50).default([]),
});
export type OwnershipRule = z.infer<typeof ownershipRuleSchema>;

export const identityJoinRuleSchema = z.enum(['employee_id', 'email']);

export const roleRuleSchema = z.union([
  z.strictObject({ role: z.string().min(1).max(200), group: z.string().min(1).max(500) }),
  z.strictObject({
    role: z.string().min(1).max(200),
    attribute: z.string().min(1).max(200),
    equals: z.union([z.string(), z.number(), z.boolean()]),
  }),
]);
export type RoleRule = z.infer<typeof roleRuleSchema>;

export const customAttributeRuleSchema = z.strictObject({
  /** Dotted path into the record: `raw.profile.costCenter` or `attributes.custom_attributes.cost_center`. */
  path: z.string().regex(/^(raw|attributes)(\.[^.\s]+)+$/, 'must start with raw. or attributes. followed by field names'),
  /** Which sources are read, in order; default: every connection, HRIS first. */
  sources: z.array(ownerRef).max(50).optional(),
});
export type CustomAttributeRule = z.infer<typeof customAttributeRuleSchema>;

export const deprovisionGuardSchema = z.strictObject({
  /** A run is held when it would deactivate more than this fraction of the organization's active users… */
  max_fraction: z.number().min(0).max(1),
  /** …and more than this many users. */
  min_count: z.number().int().min(0),
});

/**
 * The organization's own SCIM schema extension for users: IdPs that push SCIM may send these attributes
 * under the extension's URN, and they become the user's custom attributes (same names).
 */
export const scimExtensionSchema = z.strictObject({
  id: z
    .string()
    .max(300)
    .regex(/^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[A-Za-z0-9()+,\-.:=@;$_!*']+$/, 'must be a URN, e.g. urn:ietf:params:scim:schemas:extension:acme:2.0:User')
    .refine((id) => !/^urn:ietf:params:scim:(schemas:core|schemas:extension:enterprise|api):/i.test(id), 'must not reuse a standard SCIM schema URN'),
  name: z.string().min(1).max(200).default('CustomUser'),
  attributes: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,99}$/, 'must be an attribute name (a letter, then letters, digits, _ or -)'),
        type: z.enum(['string', 'boolean', 'integer', 'decimal', 'dateTime', 'reference']).default('string'),
        multi_valued: z.boolean().default(false),
        case_exact: z.boolean().default(false),
        description: z.string().max(1000).default(''),
      }),
    )
    .min(1)
    .max(200)
    .refine((attributes) => new Set(attributes.map((a) => a.name.toLowerCase())).size === attributes.length, 'attribute names must be unique (case-insensitively)'),
});
export type ScimExtensionPolicy = z.infer<typeof scimExtensionSchema>;

const attributeName = z.enum(OWNED_USER_ATTRIBUTES);

export const policyInputSchema = z.strictObject({
  identity_join: z.array(identityJoinRuleSchema).max(2).optional(),
  attribute_ownership: z.partialRecord(attributeName, ownershipRuleSchema).optional(),
  /** Which connections' groups become canonical groups. */
  groups: ownershipRuleSchema.optional(),
  deprovision_guard: deprovisionGuardSchema.optional(),
  pending_until_start_date: z.boolean().optional(),
  role_rules: z.array(roleRuleSchema).max(500).optional(),
  custom_attributes: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,99}$/, 'must be an identifier'), customAttributeRuleSchema)
    .optional(),
  scim_extension: scimExtensionSchema.nullable().optional(),
});
export type PolicyInput = z.infer<typeof policyInputSchema>;

export interface Policy {
  identity_join: Array<z.infer<typeof identityJoinRuleSchema>>;
  attribute_ownership: Record<OwnedUserAttribute, OwnershipRule>;
  groups: OwnershipRule;
  deprovision_guard: z.infer<typeof deprovisionGuardSchema>;
  pending_until_start_date: boolean;
  role_rules: RoleRule[];
  custom_attributes: Record<string, CustomAttributeRule>;
  scim_extension: ScimExtensionPolicy | null;
}

const hrisFirst: OwnershipRule = { owners: ['hris'], fallback: ['idp', 'directory', 'file'] };
const idpFirst: OwnershipRule = { owners: ['idp'], fallback: ['directory', 'file', 'hris'] };

/** HRIS owns employment facts, the IdP owns login identity; everything else falls back in a sane order. */
export const DEFAULT_OWNERSHIP: Record<OwnedUserAttribute, OwnershipRule> = {
  state: { owners: ['hris', 'idp'], fallback: ['directory', 'file'] },
  start_date: hrisFirst,
  end_date: hrisFirst,
  department: hrisFirst,
  title: hrisFirst,
  manager_id: hrisFirst,
  employee_id: hrisFirst,
  first_name: hrisFirst,
  last_name: hrisFirst,
  display_name: hrisFirst,
  email: idpFirst,
  username: idpFirst,
};

export const DEFAULT_POLICY: Policy = {
  identity_join: ['employee_id', 'email'],
  attribute_ownership: DEFAULT_OWNERSHIP,
  groups: { owners: ['idp', 'directory'], fallback: ['file'] },
  deprovision_guard: { max_fraction: 0.1, min_count: 5 },
  pending_until_start_date: true,
  role_rules: [],
  custom_attributes: {},
  scim_extension: null,
};

export function effectivePolicy(input: PolicyInput | undefined): Policy {
  const p = input ?? {};
  return {
    identity_join: p.identity_join ?? DEFAULT_POLICY.identity_join,
    attribute_ownership: { ...DEFAULT_OWNERSHIP, ...(p.attribute_ownership as Partial<Policy['attribute_ownership']>) },
    groups: p.groups ?? DEFAULT_POLICY.groups,
    deprovision_guard: p.deprovision_guard ?? DEFAULT_POLICY.deprovision_guard,
    pending_until_start_date: p.pending_until_start_date ?? DEFAULT_POLICY.pending_until_start_date,
    role_rules: p.role_rules ?? [],
    custom_attributes: p.custom_attributes ?? {},
    scim_extension: p.scim_extension ?? null,
  };
}

export function refMatches(ref: string, connection: ConnectionRef): boolean {
  return ref === connection.id || ref === connection.type || ref === connection.category;
}

/** Position of a connection in an ordered owner list (lower wins), or -1 when it is not listed. */
export function rankIn(refs: readonly string[], connection: ConnectionRef): number {
  return refs.findIndex((ref) => refMatches(ref, connection));
}

/** Whether a deactivation count trips the organization's deprovision guard. */
export function tripsDeprovisionGuard(policy: Policy, deactivations: number, activeUsers: number): boolean {
  const { max_fraction, min_count } = policy.deprovision_guard;
  return deactivations > min_count && deactivations > max_fraction * activeUsers;
}
