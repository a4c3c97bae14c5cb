import type { SwaggerTransformObject } from '@fastify/swagger';
import { jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/**
 * The OpenAPI 3.1 document is generated from the zod schemas the routes validate with, so it cannot drift
 * from what the server accepts. Schemas given an id with `.meta({ id: 'Name' })` become components.
 */
export function openApiDocument(version: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Roster API',
      version,
      description:
        'One reconciled directory per organization from every identity source. Errors are ' +
        '`{"error": {"code", "message", "details"}}`. Lists take `limit` and `cursor` and answer ' +
        '`{"data": [...], "next_cursor"}`. Ids that do not parse answer 404 `<resource>_not_found`, like unknown ' +
        'ids; so do resources of organizations outside an API key\'s scope.',
    },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http' as const, scheme: 'bearer', description: 'An API key: `rk_…`.' },
      },
    },
    security: [{ bearerAuth: [] }],
  };
}

/**
 * Adds the registered component schemas, then drops the ones no operation references: the zod registry
 * is process-wide and also yields an `…Input` variant of every schema, most of which no route uses.
 */
export const openApiTransformObject: SwaggerTransformObject = (document) => {
  const full = replaceDanglingRefs(jsonSchemaTransformObject(document)) as { components?: { schemas?: Record<string, unknown> } };
  const schemas = full.components?.schemas;
  if (!schemas) return full as ReturnType<SwaggerTransformObject>;
  const used = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        if (key === '$ref' && typeof child === 'string' && child.startsWith('#/components/schemas/')) {
          const name = child.slice('#/components/schemas/'.length);
          if (!used.has(name)) {
            used.add(name);
            visit(schemas[name]);
          }
        } else visit(child);
      }
    }
  };
  visit({ ...full, components: { ...full.components, schemas: {} } });
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)));
  return { ...full, components: { ...full.components, schemas: kept } } as ReturnType<SwaggerTransformObject>;
};

const SCHEMA_REF = /^#\/components\/schemas\/([^#/]+)$/;

/**
 * A recursive schema without an id of its own (`z.json()`) converts to a `$ref` into zod's private `$defs`,
 * which does not exist in the document. Such a ref becomes an unconstrained schema, as zod does for anything
 * it cannot represent, so the document stays valid. Give recursive schemas an id to get them documented.
 */
function replaceDanglingRefs<T>(value: T): T {
  if (Array.isArray(value)) return value.map(replaceDanglingRefs) as T;
  if (value === null || typeof value !== 'object') return value;
  const result: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (key === '$ref' && typeof child === 'string' && child.startsWith('#/components/schemas/') && !SCHEMA_REF.test(child)) continue;
    result[key] = replaceDanglingRefs(child);
  }
  return result as T;
}
