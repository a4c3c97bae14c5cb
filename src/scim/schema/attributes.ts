import type { AttributePath } from '../filter/ast.ts';

/** RFC 7643 §7: the characteristics of one attribute, as `/Schemas` publishes them. */
export interface ScimAttribute {
  name: string;
  type: 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'complex' | 'binary';
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness: 'none' | 'server' | 'global';
  canonicalValues?: string[];
  referenceTypes?: string[];
  subAttributes?: ScimAttribute[];
}

export interface ScimSchema {
  id: string;
  name: string;
  description: string;
  attributes: ScimAttribute[];
}

/** A resource type with the schemas its resources are made of: the core one and its extensions. */
export interface ResourceSchema {
  name: 'User' | 'Group';
  endpoint: '/Users' | '/Groups';
  description: string;
  core: ScimSchema;
  extensions: Array<{ schema: ScimSchema; required: boolean }>;
}

/** Where an attribute lives: its definition, the schema it belongs to, and whether it sits under that schema's URN key. */
export interface ResolvedAttribute {
  /** The top-level attribute (`emails`, `name`, `manager`). */
  attribute: ScimAttribute;
  /** The sub-attribute, when the path named one (`value` of `emails`). */
  subAttribute?: ScimAttribute | undefined;
  schema: ScimSchema;
  /** True for extension attributes: they live under `resource[schema.id]`, not at the top level. */
  extension: boolean;
}

/** Attributes every resource has whatever its schema (RFC 7643 §3.1). */
export const COMMON_ATTRIBUTES: ScimAttribute[] = [
  attr('id', { mutability: 'readOnly', returned: 'always', caseExact: true, uniqueness: 'server' }),
  attr('externalId', { caseExact: true }),
  attr('meta', {
    type: 'complex',
    mutability: 'readOnly',
    subAttributes: [
      attr('resourceType', { mutability: 'readOnly', caseExact: true }),
      attr('created', { type: 'dateTime', mutability: 'readOnly' }),
      attr('lastModified', { type: 'dateTime', mutability: 'readOnly' }),
      attr('location', { type: 'reference', mutability: 'readOnly', caseExact: true, referenceTypes: ['uri'] }),
      attr('version', { mutability: 'readOnly', caseExact: true }),
    ],
  }),
];

/** An attribute definition with RFC 7643's defaults for whatever is not given. */
export function attr(name: string, overrides: Partial<ScimAttribute> = {}): ScimAttribute {
  return {
    name,
    type: 'string',
    multiValued: false,
    description: '',
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...overrides,
  };
}

const byName = (attributes: readonly ScimAttribute[] | undefined, name: string) => {
  const lower = name.toLowerCase();
  return attributes?.find((a) => a.name.toLowerCase() === lower);
};

/** Every schema URN of a resource type, core first. */
export function schemaIds(resource: ResourceSchema): string[] {
  return [resource.core.id, ...resource.extensions.map((e) => e.schema.id)];
}

/**
 * Finds the definition of an attribute path in a resource type, case-insensitively (RFC 7643 §2.1), with or
 * without a schema URN. Unqualified names are looked up in the core schema and the common attributes, then
 * in the extensions. Undefined when the resource type has no such attribute.
 */
export function resolveAttribute(resource: ResourceSchema, path: AttributePath): ResolvedAttribute | undefined {
  const candidates: Array<{ schema: ScimSchema; extension: boolean; attributes: ScimAttribute[] }> = [
    { schema: resource.core, extension: false, attributes: [...COMMON_ATTRIBUTES, ...resource.core.attributes] },
    ...resource.extensions.map((e) => ({ schema: e.schema, extension: true, attributes: e.schema.attributes })),
  ];
  const wanted = path.schema?.toLowerCase();
  for (const candidate of candidates) {
    if (wanted !== undefined && candidate.schema.id.toLowerCase() !== wanted) continue;
    const attribute = byName(candidate.attributes, path.attribute);
    if (!attribute) continue;
    if (path.subAttribute === undefined) return { attribute, schema: candidate.schema, extension: candidate.extension };
    const subAttribute = byName(attribute.subAttributes, path.subAttribute);
    if (!subAttribute) return undefined;
    return { attribute, subAttribute, schema: candidate.schema, extension: candidate.extension };
  }
  return undefined;
}

/** The sub-attribute definition of a complex attribute, case-insensitively. */
export function subAttributeOf(attribute: ScimAttribute, name: string): ScimAttribute | undefined {
  return byName(attribute.subAttributes, name);
}

/**
 * Splits a full attribute name that may carry a schema URN (`urn:…:enterprise:2.0:User:manager.value`) into
 * the URN and the rest, using the known schema ids of the resource type so URNs containing dots (`2.0`) split
 * right. Unknown `urn:` prefixes split at the last colon.
 */
export function splitSchemaUrn(resource: ResourceSchema | undefined, fullName: string): { schema?: string; rest: string } {
  if (!fullName.toLowerCase().startsWith('urn:')) return { rest: fullName };
  const lower = fullName.toLowerCase();
  for (const id of resource ? schemaIds(resource) : []) {
    if (lower.startsWith(`${id.toLowerCase()}:`)) return { schema: id, rest: fullName.slice(id.length + 1) };
    if (lower === id.toLowerCase()) return { schema: id, rest: '' };
  }
  const colon = fullName.lastIndexOf(':');
  return { schema: fullName.slice(0, colon), rest: fullName.slice(colon + 1) };
}
