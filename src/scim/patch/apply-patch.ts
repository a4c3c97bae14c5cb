import type { JsonObject } from '../../core/model.ts';
import { ScimError, noTarget } from '../scim-error.ts';
import type { ResourceSchema } from '../schema/attributes.ts';
import { addValue, removeValue, replaceValue, type PatchContext } from './apply-operation.ts';
import { cloneJson, sameState } from '../json-values.ts';
import { applyPathless } from './path-less.ts';
import { readPatchRequest, type PatchOperation } from './patch-request.ts';
import { targetOfPath } from './patch-target.ts';

export interface PatchResult {
  /** The resource after every operation: a new object, the input is never modified. */
  resource: JsonObject;
  /**
   * Whether the resource's state differs from before (RFC 7643 §2.5 unassigned forms compare equal), so a
   * repeated deactivation or member add is recognisably a no-op.
   */
  changed: boolean;
}

/**
 * Applies an RFC 7644 §3.5.2 PatchOp body to a resource of the given type. Pure: no I/O, the input is not
 * touched. The operations apply in order to a private copy and all of them succeed or none does (§3.5.2:
 * "if any operation fails, the whole request fails"), with a ScimError naming the failing operation:
 * - invalidSyntax: the body is not a PatchOp (schemas, `Operations` of 1..1000 objects, a known `op`);
 * - invalidPath: a path that does not parse or names no attribute of the schema;
 * - invalidValue: a value of the wrong type, or a missing one for add/replace;
 * - noTarget: remove without a path, a replace/add filter that selects nothing and describes no element;
 * - mutability: changing a readOnly attribute, or an immutable one already set, or removing a required one.
 *
 * Server-managed facts (`meta`, a version) are the caller's: the result holds exactly what the client changed.
 */
export function applyPatch(resource: JsonObject, body: unknown, schema: ResourceSchema): PatchResult {
  const operations = readPatchRequest(body);
  const context: PatchContext = { resource: cloneJson(resource), schema };
  for (const operation of operations) {
    try {
      applyOperation(context, operation);
    } catch (error) {
      throw inOperation(error, operation);
    }
  }
  return { resource: context.resource, changed: !sameState(resource, context.resource) };
}

function applyOperation(context: PatchContext, { op, path, value }: PatchOperation): void {
  if (path === undefined) {
    if (op === 'remove') throw noTarget('remove needs a "path" naming what to remove (RFC 7644 §3.5.2.2).');
    return applyPathless(context, op, value);
  }
  const target = targetOfPath(path, context.schema);
  if (op === 'add') return addValue(context, target, value);
  if (op === 'replace') return replaceValue(context, target, value, { mergeComplex: false });
  return removeValue(context, target, value);
}

/** The error, its message prefixed with the operation it comes from: `Operations[2] (replace "active"): …`. */
function inOperation(error: unknown, { op, path, index }: PatchOperation): unknown {
  if (!(error instanceof ScimError)) return error;
  const where = `Operations[${index}] (${op}${path === undefined ? ' without a path' : ` ${JSON.stringify(path)}`})`;
  return new ScimError(error.status, error.scimType, `${where}: ${error.message}`, { ...error.details, operation: index });
}
