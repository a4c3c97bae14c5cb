import type { JsonValue } from '../../core/model.ts';
import { invalidSyntax } from '../scim-error.ts';
import { isJsonObject } from '../json-values.ts';

/** RFC 7644 §3.5.2: the message schema a PATCH body must declare. */
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** The most operations one request may carry; a bound on work per request, as `/ServiceProviderConfig` bulk limits are. */
export const MAX_PATCH_OPERATIONS = 1000;

export type PatchOpName = 'add' | 'replace' | 'remove';

/** One operation of the body, checked for shape only; paths and values are checked against the schema when applied. */
export interface PatchOperation {
  op: PatchOpName;
  /** The path as the client wrote it; undefined for a path-less operation. */
  path?: string | undefined;
  /** The value as sent; undefined when the operation has no `value` member. */
  value?: JsonValue | undefined;
  /** Position in `Operations`, for error messages. */
  index: number;
}

const OP_NAMES: readonly PatchOpName[] = ['add', 'replace', 'remove'];

/**
 * Reads a PatchOp body into its operations, or throws `invalidSyntax` saying which member is wrong.
 * Member names are matched case-insensitively, as SCIM attribute names are (RFC 7643 §2.1), and so are op
 * names: Entra ID sends `Add`, `Replace`, `Remove`.
 */
export function readPatchRequest(body: unknown): PatchOperation[] {
  if (!isJsonObject(body)) throw invalidSyntax('The PATCH body must be a JSON object with "schemas" and "Operations".');
  checkSchemas(member(body, 'schemas'));

  const operations = member(body, 'Operations');
  if (!Array.isArray(operations)) throw invalidSyntax('"Operations" must be an array of operations.');
  if (operations.length === 0) throw invalidSyntax('"Operations" must hold at least one operation.');
  if (operations.length > MAX_PATCH_OPERATIONS) {
    throw invalidSyntax(`"Operations" holds ${operations.length} operations; at most ${MAX_PATCH_OPERATIONS} are accepted.`);
  }
  return operations.map(readOperation);
}

function checkSchemas(schemas: JsonValue | undefined): void {
  const declared = Array.isArray(schemas) && schemas.some((s) => typeof s === 'string' && s.toLowerCase() === PATCH_OP_SCHEMA.toLowerCase());
  if (!declared) throw invalidSyntax(`"schemas" must contain "${PATCH_OP_SCHEMA}".`);
}

function readOperation(raw: JsonValue, index: number): PatchOperation {
  const where = `Operations[${index}]`;
  if (!isJsonObject(raw)) throw invalidSyntax(`${where} must be an object with "op", and "path" and "value" as the op needs.`);

  const op = member(raw, 'op');
  if (op === undefined) throw invalidSyntax(`${where} has no "op".`);
  const name = typeof op === 'string' ? (op.toLowerCase() as PatchOpName) : undefined;
  if (name === undefined || !OP_NAMES.includes(name)) {
    throw invalidSyntax(`${where}.op must be "add", "replace" or "remove", got ${JSON.stringify(op)}.`);
  }

  const path = member(raw, 'path');
  if (path !== undefined && path !== null && typeof path !== 'string') {
    throw invalidSyntax(`${where}.path must be a string, got ${JSON.stringify(path)}.`);
  }
  // `"path": null` is how some serializers write "no path"; it means the same as leaving it out.
  return { op: name, path: path ?? undefined, value: member(raw, 'value'), index };
}

/** `object[name]`, with the name matched case-insensitively; an exact match wins. */
function member(object: { [key: string]: JsonValue }, name: string): JsonValue | undefined {
  if (name in object) return object[name];
  const lower = name.toLowerCase();
  const key = Object.keys(object).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : object[key];
}
