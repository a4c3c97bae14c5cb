import { sql } from 'kysely';
import { z } from 'zod';
import { DomainError } from '../../core/errors.ts';
import type { Database } from '../../store/database.ts';
import { errorResponses } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { FastifyZodInstance } from '../types.ts';

export interface SystemRoutesDeps {
  database: Database;
  metrics: Metrics;
}

/** Which engine answers, for operators; derived from the description the store gives of itself. */
function engineName(database: Database): 'sqlite' | 'postgres' {
  return database.description.startsWith('sqlite') ? 'sqlite' : 'postgres';
}

/** Routes without authentication: health, metrics and the OpenAPI document. */
export function registerSystemRoutes(app: FastifyZodInstance, deps: SystemRoutesDeps): void {
  const { database, metrics } = deps;
  const engine = engineName(database);

  app.get('/health', {
    schema: {
      tags: ['system'],
      summary: 'Liveness and database reachability',
      security: [],
      response: {
        200: z.object({ status: z.literal('ok'), database: z.enum(['sqlite', 'postgres']) }).meta({ id: 'Health' }),
        ...errorResponses(503),
      },
    },
    handler: async () => {
      try {
        await sql`select 1`.execute(database.db);
      } catch (error) {
        throw new DomainError('database_unavailable', 'The database did not answer.', 503, { database: engine }, { cause: error });
      }
      return { status: 'ok' as const, database: engine };
    },
  });

  app.get('/metrics', {
    schema: { tags: ['system'], summary: 'Prometheus metrics (text exposition format)', security: [] },
    handler: async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  });

  app.get('/openapi.json', {
    schema: { hide: true },
    handler: async () => app.swagger(),
  });
}
