import { z } from 'zod';
import type { ConnectionsRepo } from '../../store/connections.repo.ts';
import { OAUTH_CALLBACK_PATH, type OAuthConsents } from '../../sync/oauth-consent.ts';
import { visibleOr404 } from '../auth.ts';
import { errorResponses } from '../errors.ts';
import { consentPage } from '../oauth-consent-page.ts';
import { idParams, timestampSchema } from '../schemas.ts';
import type { FastifyZodInstance } from '../types.ts';

export interface OAuthAuthorizeRouteDeps {
  connections: ConnectionsRepo;
  consents: OAuthConsents;
}

const params = idParams('connection', 'conn_01j…');

/** Under /v1 (API key): where an operator's UI gets the consent URL to send the IT admin to. */
export function registerOAuthAuthorizeRoute(app: FastifyZodInstance, deps: OAuthAuthorizeRouteDeps): void {
  app.post('/v1/connections/:id/oauth/authorize', {
    schema: {
      tags: ['connections'],
      summary:
        'Start the consent of a pull connection created with an OAuth client ("Connect Google"): answers the URL to open in the ' +
        "admin's browser. The provider sends the browser back to `{ROSTER_PUBLIC_URL}/oauth/callback`, which stores the grant and " +
        'validates the connection. Allowed while draft, needs_reauth, invalid_credentials or active (to consent again).',
      params,
      body: z.strictObject({}).nullish(),
      response: {
        200: z
          .object({
            authorize_url: z.string().describe("The provider's consent page; single use, valid until `expires_at`."),
            expires_at: timestampSchema,
          })
          .meta({ id: 'OAuthAuthorization' }),
        ...errorResponses(400, 401, 404, 409),
      },
    },
    handler: async (request) => {
      const { id } = request.params;
      const connection = visibleOr404(request.principal, await deps.connections.get(id), 'connection', id);
      const started = await deps.consents.start(connection, request.principal.keyId);
      return { authorize_url: started.authorizeUrl, expires_at: started.expiresAt };
    },
  });
}

/**
 * Public (no API key): the provider redirects the admin's browser here with `code` and `state`, or
 * `error`. The state, issued once by the authorize route, is what authenticates the request. It answers
 * an HTML page for a person, never JSON.
 */
export function registerOAuthCallbackRoute(server: FastifyZodInstance, deps: { consents: OAuthConsents }): void {
  server.get(OAUTH_CALLBACK_PATH, {
    schema: { hide: true },
    // The query holds the authorization code and the state: keep it out of request logs.
    logLevel: 'warn',
    handler: async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      // A repeated parameter is no answer of a provider; only single strings are read.
      const single = (name: string) => (typeof query[name] === 'string' ? (query[name] as string) : undefined);
      const outcome = await deps.consents.complete({ state: single('state'), code: single('code'), error: single('error') });
      const page = consentPage(outcome);
      return reply
        .code(page.status)
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .header('x-content-type-options', 'nosniff')
        .header('x-frame-options', 'DENY')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
        .send(page.html);
    },
  });
}
