import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { LoggerOptions } from 'pino';
import secureJson from 'secure-json-parse';
import { invalid } from '../core/errors.ts';
import { createErrorHandler } from './errors.ts';
import { recordHttpMetrics, type Metrics } from './metrics.ts';
import { openApiDocument, openApiTransformObject } from './openapi.ts';
import type { FastifyZodInstance } from './types.ts';

export interface ServerOptions {
  bodyLimitBytes: number;
  logger: FastifyBaseLogger;
  metrics: Metrics;
  version: string;
}

/**
 * Paths that may carry secrets in a log line. Fastify's request serializer logs no headers, but anything that
 * logs a request, a config object or a key record must still not leak one.
 */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'key',
  'apiKey',
  'databaseUrl',
  'config.apiKey',
  'config.databaseUrl',
  'key_hash',
  '*.key_hash',
  'secret',
  '*.secret',
  'password',
  '*.password',
];

/** Logger options for the whole process: JSON lines, ISO times, secrets redacted. */
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
  };
}

/**
 * The HTTP server with everything that is not a route: zod validation and serialization, the OpenAPI
 * document built from the same schemas, the error contract, 404/405, the JSON body parser and metrics.
 */
export async function createServer(options: ServerOptions): Promise<FastifyZodInstance> {
  const handleError = createErrorHandler(options.bodyLimitBytes);
  const server = Fastify({
    loggerInstance: options.logger,
    // Errors raised before routing (an undecodable URL) get the same contract as the rest.
    frameworkErrors: (error, request, reply) => handleError(error, request, reply),
    bodyLimit: options.bodyLimitBytes,
    // Keep-alive sockets that are idle are closed on shutdown; busy ones finish their request first.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // SCIM clients do not agree on the case of resource paths (Microsoft's suite sends `/users`).
    // and not on a trailing slash (`/Users/?filter=…`).
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true },
  }).withTypeProvider() as unknown as FastifyZodInstance;

  server.setValidatorCompiler(validatorCompiler);
  server.setSerializerCompiler(serializerCompiler);
  server.setErrorHandler(handleError);
  server.decorateRequest('principal', null as never);

  installJsonBodyParser(server);
  installRouteNotFound(server);

  server.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  server.addHook('onResponse', recordHttpMetrics(options.metrics));

  // Awaited so its onRoute hook is in place before any route is declared: routes declared earlier are missing
  // from the document.
  await server.register(fastifySwagger, {
    openapi: openApiDocument(options.version),
    transform: jsonSchemaTransform,
    transformObject: openApiTransformObject,
  });
  return server;
}

/**
 * Only JSON bodies are accepted (anything else is 415). Parsing rejects `__proto__`/`constructor.prototype`
 * keys, and a syntax error is reported with the parser's own description of where it is.
 */
function installJsonBodyParser(server: FastifyZodInstance): void {
  server.removeAllContentTypeParsers();
  server.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    // An unknown route answers 404/405 whatever its body; its body is never looked at.
    if (request.is404) {
      done(null, undefined);
      return;
    }
    const text = body as string;
    if (text.trim() === '') {
      done(invalid('malformed_json', 'Request body is empty but Content-Type is application/json.'), undefined);
      return;
    }
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      done(invalid('malformed_json', `Request body is not valid JSON: ${reason}`), undefined);
    }
  });
}

interface KnownRoute {
  method: string;
  pattern: RegExp;
}

/**
 * Unknown paths answer 404 `route_not_found`. A known path with a method it does not have answers 405
 * `method_not_allowed` with an `Allow` header, so a client can tell a typo in the path from a wrong verb.
 */
function installRouteNotFound(server: FastifyZodInstance): void {
  const known: KnownRoute[] = [];
  server.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) known.push({ method, pattern: routePattern(route.url) });
  });
  server.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = [...new Set(known.filter((route) => route.pattern.test(path)).map((route) => route.method))];
    if (allowed.length > 0) {
      return reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send({
          error: {
            code: 'method_not_allowed',
            message: `${request.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}.`,
            details: { method: request.method, allowed },
          },
        });
    }
    return reply.code(404).send({
      error: { code: 'route_not_found', message: `No route ${request.method} ${path}.`, details: { method: request.method, path } },
    });
  });
}

/** find-my-way pattern (`/v1/organizations/:id`, `/files/*`) to a regular expression over a request path. */
function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => {
      if (segment.startsWith(':')) return '[^/]+';
      if (segment === '*') return '.*';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${source}$`);
}
