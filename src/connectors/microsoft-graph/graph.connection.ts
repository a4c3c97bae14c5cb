import { z } from 'zod';
import type { JsonObject } from '../../core/model.ts';
import { ClientCredentialsStrategy } from '../../sync/credentials/client-credentials.strategy.ts';
import { CredentialsError } from '../../sync/credentials/errors.ts';
import { fetchJsonVia } from '../../sync/http/fetch-json.ts';
import { graphThrottle, throttleProfileFor } from '../../sync/http/throttle-classifiers.ts';
import { definitionConnector } from '../definition/definition-connector.ts';
import { loadProviderDefinition } from '../definition/load-provider-definition.ts';
import type { PullConnectionType } from '../pull-connection-type.ts';
import { graphDelta } from './graph-delta.ts';
import { graphSubscriptions } from './graph-subscriptions.ts';
import { microsoftGraphDefinition } from './graph.definition.ts';

const definition = loadProviderDefinition(microsoftGraphDefinition);
const scope = definition.auth.flatMap((auth) => ('scopes' in auth ? auth.scopes : [])).join(' ');

/** An app registration with application permissions (User.Read.All, GroupMember.Read.All) an admin granted. */
const credentialsSchema = z.strictObject({
  method: z.literal('client_credentials'),
  client_id: z.string().min(1).max(512).describe("The app registration's Application (client) ID."),
  client_secret: z.string().min(1).max(512).describe("A client secret's value (not its id)."),
});

// Entra accepts the tenant's id or any verified domain in the token URL.
const tenant = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, 'must be a tenant id (GUID) or a domain')
  .describe('The Entra tenant: its id (a GUID) or a verified domain such as contoso.onmicrosoft.com.');

export const microsoftGraphType: PullConnectionType = {
  type: 'microsoft-graph',
  displayName: 'Microsoft Entra ID',
  description:
    'Roster pulls users, groups and memberships from Microsoft Entra ID through Microsoft Graph, with an app ' +
    "registration's client credentials (client id and secret) and the tenant it belongs to; delta queries keep it " +
    'current between full syncs and change notifications make changes arrive within seconds.',
  defaultCategory: 'idp',
  settingsSchema: z.strictObject({ tenant }),
  supportsDelta: true,
  definition,
  throttle: throttleProfileFor(definition.id, definition.rateLimit, [graphThrottle]),
  credentialsSchema: credentialsSchema as unknown as z.ZodType<JsonObject>,
  awaitsConsent: () => false,
  credentialStrategy: (credentials, { http, endpoints }) => {
    if (endpoints.tokenUrl === undefined) throw new CredentialsError('no_token_url', 'Microsoft Graph: no token URL');
    return new ClientCredentialsStrategy({
      http,
      tokenUrl: endpoints.tokenUrl,
      // Entra takes the secret in the body or by Basic; the body is what its documentation shows.
      client: { clientId: String(credentials.client_id), clientSecret: String(credentials.client_secret), method: 'body' },
      scope,
    });
  },
  connector: ({ http, definition: connectionDefinition, endpoints, settings }) => {
    const base = definitionConnector({ definition: connectionDefinition, config: settings, fetchJson: fetchJsonVia(http) });
    return {
      ...base,
      delta: graphDelta({ http, definition: connectionDefinition, baseUrl: endpoints.apiBaseUrl, fetchUser: (id, signal) => base.fetchObject('user', id, signal) }),
      push: graphSubscriptions(http, endpoints.apiBaseUrl),
    };
  },
};
