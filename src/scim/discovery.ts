import type { JsonObject } from '../core/model.ts';
import type { ResourceSchema, ScimAttribute, ScimSchema } from './schema/attributes.ts';

/**
 * RFC 7643 §5–7 discovery documents, describing exactly what this server does: PATCH, filter, sort and
 * ETags yes; bulk and password change no.
 */
export const MAX_RESULTS = 1000;
export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

export function serviceProviderConfig(baseUrl: string, maxPayloadSize: number): JsonObject {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: "Authentication with the connection's SCIM token, sent as `Authorization: Bearer <token>`.",
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

function attributeDocument(attribute: ScimAttribute): JsonObject {
  const doc: JsonObject = {
    name: attribute.name,
    type: attribute.type,
    multiValued: attribute.multiValued,
    description: attribute.description,
    required: attribute.required,
    caseExact: attribute.caseExact,
    mutability: attribute.mutability,
    returned: attribute.returned,
    uniqueness: attribute.uniqueness,
  };
  if (attribute.canonicalValues && attribute.canonicalValues.length > 0) doc.canonicalValues = attribute.canonicalValues;
  if (attribute.referenceTypes) doc.referenceTypes = attribute.referenceTypes;
  if (attribute.subAttributes) doc.subAttributes = attribute.subAttributes.map(attributeDocument);
  return doc;
}

export function schemaDocument(schema: ScimSchema, baseUrl: string): JsonObject {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id: schema.id,
    name: schema.name,
    description: schema.description,
    attributes: schema.attributes.map(attributeDocument),
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${schema.id}` },
  };
}

/** Every schema the resource types use, once each. */
export function schemasOf(resources: ResourceSchema[]): ScimSchema[] {
  const seen = new Map<string, ScimSchema>();
  for (const resource of resources) {
    for (const schema of [resource.core, ...resource.extensions.map((e) => e.schema)]) seen.set(schema.id, schema);
  }
  return [...seen.values()];
}

export function resourceTypeDocument(resource: ResourceSchema, baseUrl: string): JsonObject {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
    id: resource.name,
    name: resource.name,
    endpoint: resource.endpoint,
    description: resource.description,
    schema: resource.core.id,
    schemaExtensions: resource.extensions.map((e) => ({ schema: e.schema.id, required: e.required })),
    meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${resource.name}` },
  };
}

export function listResponse(resources: JsonObject[], totalResults: number, startIndex: number): JsonObject {
  return { schemas: [LIST_RESPONSE_SCHEMA], totalResults, startIndex, itemsPerPage: resources.length, Resources: resources };
}
