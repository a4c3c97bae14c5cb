import { z } from 'zod';
import type { JsonObject } from '../../core/model.ts';
import { JwtBearerStrategy } from '../../sync/credentials/jwt-bearer.strategy.ts';
import { RefreshTokenStrategy } from '../../sync/credentials/refresh-token.strategy.ts';
import { CredentialsError } from '../../sync/credentials/errors.ts';
import { googleThrottle, throttleProfileFor } from '../../sync/http/throttle-classifiers.ts';
import { definitionConnector } from '../definition/definition-connector.ts';
import { loadProviderDefinition } from '../definition/load-provider-definition.ts';
import { fetchJsonVia } from '../../sync/http/fetch-json.ts';
import type { PullConnectionType } from '../pull-connection-type.ts';
import { googleWorkspaceDefinition } from './google.definition.ts';
import { googleWatchChannels } from './google-watch-channels.ts';

const definition = loadProviderDefinition(googleWorkspaceDefinition);
const scopesOf = (type: 'jwt_bearer' | 'oauth2_authorization_code'): string[] => {
  const auth = definition.auth.find((candidate) => candidate.type === type);
  return auth && 'scopes' in auth ? auth.scopes : [];
};

const email = z.string().min(3).max(320).regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address');

/**
 * What an operator gives to connect Google Workspace: a service account with domain-wide delegation
 * (its JSON key and the admin it acts as), or an OAuth client whose consent an IT admin grants through
 * Roster's "Connect Google" flow.
 */
const credentialsSchema = z.discriminatedUnion('method', [
  z.strictObject({
    method: z.literal('service_account'),
    // The key file as Google issues it; fields beyond these are ignored.
    service_account_key: z.object({
      client_email: email,
      private_key: z.string().min(100).max(10_000).regex(/-----BEGIN PRIVATE KEY-----/, 'must be a PKCS#8 PEM private key'),
      private_key_id: z.string().max(200).optional(),
    }),
    subject: email.describe('The Workspace admin the service account acts for (domain-wide delegation).'),
  }),
  z.strictObject({
    method: z.literal('oauth'),
    client_id: z.string().min(1).max(512),
    client_secret: z.string().min(1).max(512),
  }),
]);

export const googleWorkspaceType: PullConnectionType = {
  type: 'google-workspace',
  displayName: 'Google Workspace',
  description:
    'Roster pulls users, groups and memberships from the Google Workspace Directory API, with a service account ' +
    'key and the admin it acts for, or an OAuth client an admin consents to.',
  defaultCategory: 'directory',
  settingsSchema: z.strictObject({}),
  // The Directory API has no delta for users or groups: the critical and profile tiers list again.
  supportsDelta: false,
  definition,
  throttle: throttleProfileFor(definition.id, definition.rateLimit, [googleThrottle]),
  credentialsSchema: credentialsSchema as unknown as z.ZodType<JsonObject>,
  awaitsConsent: (credentials) => credentials.method === 'oauth' && typeof credentials.refresh_token !== 'string',
  credentialStrategy: (credentials, { http, endpoints, onRefreshTokenRotated }) => {
    if (endpoints.tokenUrl === undefined) throw new CredentialsError('no_token_url', 'Google Workspace: no token URL');
    if (credentials.method === 'service_account') {
      const key = credentials.service_account_key as { client_email: string; private_key: string; private_key_id?: string };
      return new JwtBearerStrategy({
        http,
        tokenUrl: endpoints.tokenUrl,
        issuer: key.client_email,
        subject: String(credentials.subject),
        scope: scopesOf('jwt_bearer').join(' '),
        privateKey: key.private_key,
        ...(key.private_key_id ? { keyId: key.private_key_id } : {}),
      });
    }
    if (typeof credentials.refresh_token !== 'string') {
      throw new CredentialsError('consent_required', 'Google Workspace: an admin has not granted consent yet (start the OAuth flow)');
    }
    return new RefreshTokenStrategy({
      http,
      tokenUrl: endpoints.tokenUrl,
      client: { clientId: String(credentials.client_id), clientSecret: String(credentials.client_secret), method: 'body' },
      refreshToken: credentials.refresh_token,
      onRefreshTokenRotated,
    });
  },
  // Its definition declares deletedUsers (showDeleted=true), so the connector lists them too.
  connector: ({ http, definition: connectionDefinition, endpoints, settings }) => ({
    ...definitionConnector({ definition: connectionDefinition, config: settings, fetchJson: fetchJsonVia(http) }),
    push: googleWatchChannels(http, endpoints.apiBaseUrl),
  }),
};

/** OAuth scopes an admin consents to for a Google connection. */
export const googleConsentScopes = scopesOf('oauth2_authorization_code');
