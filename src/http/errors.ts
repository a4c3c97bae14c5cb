import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError } from '../core/errors.ts';

/**
 * The one error contract of the API: `{error: {code, message, details}}`. `code` is stable and meant for
 * programs; `message` is for people and names the field, header or resource at fault.
 */
export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().describe('Stable machine-readable code, e.g. `invalid_request`, `organization_not_found`.'),
      message: z.string().describe('What went wrong, naming the field or resource at fault.'),
      details: z.record(z.string(), z.unknown()).describe('Structured context; `issues` for validation errors.'),
    }),
  })
  .meta({ id: 'Error' });

export type ErrorBody = z.infer<typeof errorBodySchema>;

const STATUS_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: malformed JSON, a field that fails validation, or an unknown field.',
  401: 'Missing, invalid or revoked API key.',
  403: 'The API key may not perform this action.',
  404: 'Not found. Ids that do not parse, and resources of other organizations, answer 404 like unknown ids.',
  409: 'The resource is not in a state that allows this action.',
  413: 'Request body larger than the configured limit.',
  415: 'Request body is not application/json.',
};

/** Response entries for the error statuses a route can answer, for its OpenAPI entry: `...errorResponses(400, 404)`. */
export function errorResponses(...statuses: number[]) {
  const entry = (status: number) => ({
    description: STATUS_DESCRIPTIONS[status] ?? 'Error.',
    content: { 'application/json': { schema: errorBodySchema } },
  });
  return Object.fromEntries(statuses.map((status) => [status, entry(status)])) as Record<number, ReturnType<typeof entry>>;
}

export const unauthorized = (message: string) => new DomainError('unauthorized', message, 401);
export const forbidden = (message: string) => new DomainError('forbidden', message, 403);

interface ErrorReply {
  status: number;
  code: string;
  message: string;
  details: Record<string, unknown>;
}

/** Issues listed in `message`; all of them (up to a bound) are in `details.issues`. */
const MESSAGE_ISSUES = 5;
const DETAIL_ISSUES = 100;

export interface ValidationIssue {
  path: string;
  message: string;
}

/** Turns schema validation failures into `body.name: Required`-style issues. */
function validationIssues(error: FastifyError & { validation: Array<{ instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }> }): ValidationIssue[] {
  const part = error.validationContext === 'querystring' ? 'query' : (error.validationContext ?? 'request');
  const issues: ValidationIssue[] = [];
  for (const entry of error.validation) {
    const path = [part, ...entry.instancePath.split('/').filter((segment) => segment !== '')].join('.');
    if (entry.keyword === 'unrecognized_keys' && Array.isArray(entry.params.keys)) {
      for (const key of entry.params.keys) issues.push({ path: `${path}.${String(key)}`, message: 'Unknown field' });
    } else if (entry.keyword === 'invalid_type' && entry.message?.endsWith('received undefined')) {
      issues.push({ path, message: 'Required' });
    } else {
      issues.push({ path, message: entry.message ?? 'Invalid value' });
    }
  }
  return issues;
}

function describeIssues(issues: ValidationIssue[]): string {
  const shown = issues.slice(0, MESSAGE_ISSUES).map((issue) => `${issue.path}: ${issue.message}`);
  const more = issues.length > MESSAGE_ISSUES ? `; and ${issues.length - MESSAGE_ISSUES} more` : '';
  return `${shown.join('; ')}${more}`;
}

/**
 * A 400 `invalid_request` for a part of a body checked after the route's own schema (a pull connection's
 * settings or credentials, whose schema depends on its type): each issue named by its path, e.g.
 * `body.config.schedule.full_seconds: Too small`.
 */
export function invalidBodyPart(prefix: readonly string[], error: z.ZodError): DomainError {
  const issues = error.issues.map((issue) => ({
    path: [...prefix, ...issue.path.map(String)].join('.'),
    message: issue.code === 'invalid_type' && issue.input === undefined ? 'Required' : issue.message,
  }));
  return new DomainError('invalid_request', describeIssues(issues), 400, { issues: issues.slice(0, DETAIL_ISSUES) });
}

/** Maps anything thrown while handling a request to the error contract. Unknown errors become a bare 500. */
export function toErrorReply(error: unknown, request: FastifyRequest, bodyLimit: number): ErrorReply {
  if (error instanceof DomainError) {
    return { status: error.status, code: error.code, message: error.message, details: error.details ?? {} };
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const issues = validationIssues(error as never);
    return {
      status: 400,
      code: 'invalid_request',
      message: describeIssues(issues),
      details: { issues: issues.slice(0, DETAIL_ISSUES) },
    };
  }
  const fastifyError = error as Partial<FastifyError> | null;
  switch (fastifyError?.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const contentType = request.headers['content-type'] ?? '(none)';
      return {
        status: 415,
        code: 'unsupported_media_type',
        message: `Content-Type '${contentType}' is not supported; send the body as application/json.`,
        details: { content_type: contentType },
      };
    }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        code: 'payload_too_large',
        message: `Request body exceeds the limit of ${bodyLimit} bytes.`,
        details: { limit_bytes: bodyLimit },
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return {
        status: 400,
        code: 'malformed_json',
        message: 'Request body is not valid JSON: the body is empty but Content-Type is application/json.',
        details: {},
      };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, code: 'invalid_content_length', message: 'Request body size does not match Content-Length.', details: {} };
    case 'FST_ERR_BAD_URL':
      return { status: 400, code: 'bad_url', message: `The request URL is not valid: '${request.url}'.`, details: {} };
  }
  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // A client error from the framework that has no code of its own above; keep its status and message.
    return { status, code: 'bad_request', message: fastifyError?.message ?? 'Bad request.', details: {} };
  }
  return { status: 500, code: 'internal_error', message: 'Internal server error.', details: {} };
}

/** The error handler of the server: logs unexpected errors with their stack, never sends a stack. */
export function createErrorHandler(bodyLimit: number) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const mapped = toErrorReply(error, request, bodyLimit);
    if (mapped.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.debug({ code: mapped.code }, mapped.message);
    if (mapped.status === 401) reply.header('www-authenticate', 'Bearer realm="roster"');
    const body: ErrorBody = { error: { code: mapped.code, message: mapped.message, details: mapped.details } };
    return reply.code(mapped.status).type('application/json; charset=utf-8').send(body);
  };
}
