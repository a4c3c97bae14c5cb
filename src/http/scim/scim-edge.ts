import type { FastifyReply, FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { DomainError } from '../../core/errors.ts';
import { effectivePolicy, type PolicyInput } from '../../core/policy.ts';
import { extensionSchema } from '../../scim/resource-mapping.ts';
import { ScimError, invalidSyntax } from '../../scim/scim-error.ts';
import type { ScimScope } from '../../scim/scim-writes.ts';
import { GROUP_RESOURCE, userResource } from '../../scim/schema/resource-schemas.ts';
import type { ScimConnection, ScimTokensRepo } from '../../store/scim-tokens.repo.ts';
import { toErrorReply } from '../errors.ts';
import type { FastifyZodInstance } from '../types.ts';

/**
 * What makes the SCIM routes speak SCIM rather than Roster's REST contract: `application/scim+json` in and
 * out, RFC 7644 error bodies with `scimType`, and authentication by the connection's own bearer token.
 */
export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const MAX_TOKEN_LENGTH = 512;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the SCIM authentication hook: the connection the bearer token opens. */
    scimConnection: ScimConnection | null;
  }
}

/** Both content types SCIM clients send; JSON bodies are parsed with prototype-poisoning keys refused. */
export function installScimBodyParser(scope: FastifyZodInstance): void {
  // The API's own JSON parser answers in Roster's error contract; SCIM has a parser of its own.
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser(['application/scim+json', 'application/json'], { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch (error) {
      done(invalidSyntax(`The request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`), undefined);
    }
  });
}

/** Renders anything thrown under /scim as an RFC 7644 §3.12 error (never a stack, never a 500 for bad input). */
export function createScimErrorHandler(bodyLimit: number) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const mapped = toErrorReply(error, request, bodyLimit);
    if (mapped.status >= 500) request.log.error({ err: error }, 'SCIM request failed');
    const body: Record<string, unknown> = { schemas: [ERROR_SCHEMA], status: String(mapped.status), detail: mapped.message };
    const scimType = error instanceof ScimError ? error.scimType : scimTypeOf(mapped.code);
    if (scimType) body.scimType = scimType;
    if (mapped.status === 401) reply.header('www-authenticate', 'Bearer realm="roster-scim"');
    return reply.code(mapped.status).type(SCIM_CONTENT_TYPE).send(body);
  };
}

/** Roster's own codes that have a SCIM counterpart. */
function scimTypeOf(code: string): string | undefined {
  if (code === 'malformed_json' || code === 'invalid_request') return 'invalidSyntax';
  return undefined;
}

const unauthorized = (message: string) => new DomainError('unauthorized', message, 401);

/**
 * The onRequest hook: the bearer token must be the token of the connection named in the URL. Another
 * connection's valid token is refused exactly like a wrong one (401), so tokens never cross tenants.
 */
export function createScimAuthenticator(tokens: ScimTokensRepo) {
  return async (request: FastifyRequest): Promise<void> => {
    const connectionId = (request.params as { connectionId?: string }).connectionId ?? '';
    const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '');
    if (!match?.[1]) throw unauthorized('Send the connection\'s SCIM token as `Authorization: Bearer <token>`.');
    const connection = match[1].length <= MAX_TOKEN_LENGTH ? await tokens.authenticate(connectionId, match[1]) : undefined;
    if (!connection || connection.type !== 'scim') throw unauthorized('Invalid SCIM token for this connection.');
    request.scimConnection = connection;
  };
}

/**
 * The scope a SCIM request acts in, built from its authenticated connection. The User schema depends on the
 * organization's policy (its extension); it is kept by policy text, so requests do not parse it again.
 */
export class ScimScopes {
  private readonly userSchemas = new Map<string, Pick<ScimScope, 'schema' | 'extension'>>();

  constructor(private readonly kept = 1000) {}

  of(request: FastifyRequest, type: 'User' | 'Group'): ScimScope {
    const connection = request.scimConnection!;
    const user = this.userSchemaOf(connection.policy);
    return {
      connectionId: connection.id,
      organizationId: connection.organization_id,
      schema: type === 'User' ? user.schema : GROUP_RESOURCE,
      extension: user.extension,
    };
  }

  private userSchemaOf(policyText: string): Pick<ScimScope, 'schema' | 'extension'> {
    let entry = this.userSchemas.get(policyText);
    if (!entry) {
      const extension = effectivePolicy(JSON.parse(policyText) as PolicyInput).scim_extension;
      entry = { schema: userResource(extensionSchema(extension)), extension };
      if (this.userSchemas.size >= this.kept) this.userSchemas.delete(this.userSchemas.keys().next().value!);
      this.userSchemas.set(policyText, entry);
    }
    return entry;
  }
}
