import { z } from 'zod';

/** Schema pieces shared by route modules. Request bodies are strict objects: an unknown field is a 400. */

/**
 * Path parameter of a resource id. Any string is accepted here on purpose: an id that does not parse is
 * answered 404 `<resource>_not_found` by the route, exactly like an id that parses but does not exist.
 */
export function idParams(resource: string, example: string) {
  return z.strictObject({
    id: z.string().max(200).describe(`The ${resource} id, e.g. \`${example}\`. Ids that do not parse answer 404.`),
  });
}

// Control characters in a name are never intended and break logs and terminals (and NUL breaks PostgreSQL);
// a lone surrogate is not Unicode and would be stored as U+FFFD, not as sent.
export const nameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters')
  .regex(/^[^\p{Cs}]*$/u, 'must be well-formed Unicode');

export const timestampSchema = z.string().describe('ISO-8601 UTC timestamp.');

const MAX_JSON_OBJECT_BYTES = 64 * 1024;

/** A free-form JSON object (connection config), bounded in size. */
export const jsonObjectSchema = z
  .record(z.string(), z.unknown())
  .refine((value) => JSON.stringify(value).length <= MAX_JSON_OBJECT_BYTES, {
    message: `must serialize to at most ${MAX_JSON_OBJECT_BYTES} bytes of JSON`,
  });

/** An organization id in a query filter; one that does not parse answers 404 like an unknown one. */
export const organizationIdQuery = z.string().max(200).optional().describe('Only this organization (`org_…`).');
