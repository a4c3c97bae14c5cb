import { z } from 'zod';
import type { JsonObject } from '../../core/model.ts';
import { privateKeyJwtAssertion } from '../../sync/credentials/client-assertion.ts';
import { ClientCredentialsStrategy } from '../../sync/credentials/client-credentials.strategy.ts';
import { CredentialsError } from '../../sync/credentials/errors.ts';
import { oktaApiToken } from '../../sync/credentials/static-header.strategy.ts';
import { fetchJsonVia } from '../../sync/http/fetch-json.ts';
import { oktaThrottle, throttleProfileFor } from '../../sync/http/throttle-classifiers.ts';
import type { Connector } from '../connector.ts';
import { definitionConnector } from '../definition/definition-connector.ts';
import { definitionSpecOf, loadProviderDefinition, type ProviderDefinition } from '../definition/load-provider-definition.ts';
import type { PullConnectionType } from '../pull-connection-type.ts';
import { DEFAULT_STAGED_STATE, OKTA_READ_SCOPES, oktaDefinition, oktaUserMapping, STAGED_STATES, type StagedState } from './okta.definition.ts';
import { oktaDeltaSource } from './okta-delta.ts';
import { oktaEventHooks } from './okta-event-hooks.ts';

const definition = loadProviderDefinition(oktaDefinition);

const scope = z.string().regex(/^okta\.[A-Za-z]+\.(read|manage)$/, 'must be an Okta API scope such as okta.users.read');

/**
 * What an operator gives to connect Okta: an API token (sent as `SSWS …`, acting with the rights of the
 * admin who made it; a read-only admin's token reads everything Roster needs, a super admin's can also
 * manage the event hook), or an OAuth service app with its private key (private_key_jwt), granted
 * okta.users.read, okta.groups.read and okta.logs.read — plus okta.eventHooks.manage, listed in `scopes`,
 * for push.
 */
const credentialsSchema = z.discriminatedUnion('method', [
  z.strictObject({
    method: z.literal('api_token'),
    token: z.string().min(20).max(200).regex(/^\S+$/, 'must be the token alone, without "SSWS "'),
  }),
  z.strictObject({
    method: z.literal('service_app'),
    client_id: z.string().min(1).max(200),
    private_key: z.string().min(100).max(10_000).regex(/-----BEGIN PRIVATE KEY-----/, 'must be a PKCS#8 PEM private key'),
    key_id: z.string().max(200).optional().describe("The key's id (kid) in the app's JWKS, when it has several."),
    scopes: z.array(scope).min(1).max(20).optional().describe(`Scopes to ask for; default ${OKTA_READ_SCOPES.join(' ')}.`),
  }),
]);

const settingsSchema = z.strictObject({
  domain: z
    .string()
    .max(253)
    .regex(/^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/, 'must be a host name such as acme.okta.com')
    .describe("The Okta org's domain, e.g. acme.okta.com."),
  staged_state: z.enum(STAGED_STATES).optional().describe(`What a STAGED or PROVISIONED user becomes (default ${DEFAULT_STAGED_STATE}).`),
});

/** The definition as a connection maps it: the same data, its STAGED/PROVISIONED state its own. */
function definitionFor(base: ProviderDefinition, stagedState: StagedState): ProviderDefinition {
  if (stagedState === DEFAULT_STAGED_STATE) return base;
  const input = definitionSpecOf(base);
  return loadProviderDefinition({ ...input, mappings: { ...input.mappings, user: oktaUserMapping(stagedState) } });
}

export const oktaType: PullConnectionType = {
  type: 'okta',
  displayName: 'Okta',
  description:
    'Roster pulls users (DEPROVISIONED ones included), groups and memberships from the Okta Management API, follows ' +
    'changes through lastUpdated and the System Log, and hears them through an event hook; with an API token, or an ' +
    'OAuth service app and its private key.',
  defaultCategory: 'idp',
  settingsSchema: settingsSchema as unknown as PullConnectionType['settingsSchema'],
  supportsDelta: true,
  definition,
  throttle: throttleProfileFor(definition.id, definition.rateLimit, [oktaThrottle]),
  credentialsSchema: credentialsSchema as unknown as z.ZodType<JsonObject>,
  awaitsConsent: () => false,
  credentialStrategy: (credentials, { http, endpoints }) => {
    if (credentials.method === 'api_token') return oktaApiToken(String(credentials.token));
    if (endpoints.tokenUrl === undefined) throw new CredentialsError('no_token_url', 'Okta: no token URL');
    const scopes = Array.isArray(credentials.scopes) ? (credentials.scopes as string[]) : OKTA_READ_SCOPES;
    return new ClientCredentialsStrategy({
      http,
      tokenUrl: endpoints.tokenUrl,
      scope: scopes.join(' '),
      client: {
        clientId: String(credentials.client_id),
        clientAssertion: privateKeyJwtAssertion({
          clientId: String(credentials.client_id),
          tokenUrl: endpoints.tokenUrl,
          privateKey: String(credentials.private_key),
          ...(typeof credentials.key_id === 'string' ? { keyId: credentials.key_id } : {}),
        }),
      },
    });
  },
  connector: ({ http, definition: connectionDefinition, endpoints, settings }): Connector => {
    const mapped = definitionFor(connectionDefinition, (settings.staged_state as StagedState | undefined) ?? DEFAULT_STAGED_STATE);
    const fetchJson = fetchJsonVia(http);
    const base = definitionConnector({ definition: mapped, config: settings, fetchJson });
    return {
      ...base,
      delta: oktaDeltaSource({ definition: mapped, config: settings, fetchJson, connector: base }),
      push: oktaEventHooks(http, endpoints.apiBaseUrl),
    };
  },
};
