import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';

/** The Fastify instance every route module receives: zod schemas validate requests and type handlers. */
export type FastifyZodInstance = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

/** Who is calling: the API key, and the one organization it is limited to (null: an admin key, all organizations). */
export interface Principal {
  keyId: string;
  organizationId: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set by the authentication hook on every route registered in the authenticated scope (all of `/v1`).
     * Public routes (`/health`, `/metrics`, `/openapi.json`) must not read it: there it is null.
     */
    principal: Principal;
  }
}
