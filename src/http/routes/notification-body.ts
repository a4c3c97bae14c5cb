import type { FastifyInstance } from 'fastify';

/**
 * In a receiver's scope, a JSON body that is empty or does not parse reaches the handler as `undefined`
 * instead of failing the request: providers send handshakes with empty JSON-typed bodies (Google's
 * `sync`), and an unreadable body is no notification, answered as such rather than as a server error.
 */
export function acceptUnreadableJson(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(body as string));
    } catch {
      done(null, undefined);
    }
  });
}
