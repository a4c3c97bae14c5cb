import type { AttributePath, Filter } from '../filter/ast.ts';
import { parsePatchPath } from '../filter/parse-path.ts';
import { ScimError, invalidPath } from '../scim-error.ts';
import { resolveAttribute, subAttributeOf, type ResourceSchema, type ScimAttribute } from '../schema/attributes.ts';

/**
 * What one PATCH operation (or one key of a path-less value) acts on, resolved against the resource type's
 * schema: the top-level attribute, where it lives, and how far into it the path reaches.
 */
export interface PatchTarget {
  /** The target as the client wrote it (`emails[type eq "work"].value`), for error messages. */
  label: string;
  /** The top-level attribute (`emails`, `name`, `manager`). */
  attribute: ScimAttribute;
  /** The extension schema URN the attribute lives under (`resource[urn][name]`); undefined for core and common attributes. */
  extension?: string | undefined;
  /** The sub-attribute the path names: `name.givenName`, `emails.value`, `emails[type eq "work"].value`. */
  subAttribute?: ScimAttribute | undefined;
  /** The value filter of `emails[type eq "work"]`, evaluated against one element of the attribute. */
  filter?: Filter | undefined;
}

/** Resolves a PATCH `path`, throwing `invalidPath` when it cannot be parsed or names nothing in the schema. */
export function targetOfPath(text: string, schema: ResourceSchema): PatchTarget {
  const parsed = parseOrInvalidPath(text, schema);
  if (parsed.path.subAttribute !== undefined && parsed.subAttribute !== undefined) {
    throw invalidPath(`Path '${text}' names two sub-attributes.`);
  }
  const target = targetOf({ ...parsed.path, subAttribute: parsed.path.subAttribute ?? parsed.subAttribute }, text, schema);
  if (parsed.valueFilter === undefined) return target;
  if (!target.attribute.multiValued) {
    throw invalidPath(`Path '${text}' filters '${target.attribute.name}', which is not multi-valued.`);
  }
  return { ...target, filter: parsed.valueFilter };
}

/**
 * Resolves an attribute name (a path without a filter): a path-less value's key such as `active`,
 * `name.givenName` or `urn:…:enterprise:2.0:User:employeeNumber`, already split into its parts.
 */
export function targetOf(path: AttributePath, label: string, schema: ResourceSchema): PatchTarget {
  const resolved = resolveAttribute(schema, { schema: path.schema, attribute: path.attribute });
  if (!resolved) throw invalidPath(`'${label}' names no attribute of a ${schema.name}.`);
  const { attribute } = resolved;
  const target: PatchTarget = { label, attribute, extension: resolved.extension ? resolved.schema.id : undefined };
  if (path.subAttribute === undefined) return target;

  if (attribute.type !== 'complex') throw invalidPath(`'${label}': '${attribute.name}' has no sub-attributes.`);
  const subAttribute = subAttributeOf(attribute, path.subAttribute);
  if (!subAttribute) {
    const known = (attribute.subAttributes ?? []).map((s) => s.name).join(', ');
    throw invalidPath(`'${label}': '${attribute.name}' has no sub-attribute '${path.subAttribute}' (it has ${known}).`);
  }
  return { ...target, subAttribute };
}

/** `emails`, `name.givenName`, `urn:…:User:manager.value`: the canonical name of a target, for messages. */
export function canonicalName(target: PatchTarget): string {
  const base = target.extension ? `${target.extension}:${target.attribute.name}` : target.attribute.name;
  return target.subAttribute ? `${base}.${target.subAttribute.name}` : base;
}

function parseOrInvalidPath(text: string, schema: ResourceSchema) {
  try {
    return parsePatchPath(text, schema);
  } catch (error) {
    // A bad filter inside a path is still a bad path for the client (RFC 7644 §3.12 `invalidPath`).
    if (error instanceof ScimError) throw invalidPath(error.message.includes(text) ? error.message : `Path '${text}': ${error.message}`);
    throw error;
  }
}
