import { z } from 'zod';
import type { ConnectionCategory, JsonObject } from '../core/model.ts';
import type { CredentialStrategy } from '../sync/credentials/credential-strategy.ts';
import type { ProviderHttpClient } from '../sync/http/provider-http-client.ts';
import type { ThrottleProfile } from '../sync/http/throttle-classifiers.ts';
import type { Connector } from './connector.ts';
import type { ProviderDefinition } from './definition/load-provider-definition.ts';

/**
 * One kind of pull connection (google-workspace, later microsoft-graph, okta…): its provider definition,
 * what an operator supplies to create one, and how its credentials and connector are built.
 */
export interface PullConnectionType {
  readonly type: string;
  readonly displayName: string;
  readonly defaultCategory: ConnectionCategory;
  readonly definition: ProviderDefinition;
  readonly throttle: ThrottleProfile;
  /** Validates the write-only `credentials` of a create (or credentials replace) request. */
  readonly credentialsSchema: z.ZodType<JsonObject>;
  /** True when the credentials still lack an admin's consent (the OAuth flow completes them). */
  awaitsConsent(credentials: JsonObject): boolean;
  /** The strategy that issues access tokens from the opened credentials. */
  credentialStrategy(credentials: JsonObject, context: CredentialContext): CredentialStrategy;
  connector(context: ConnectorContext): Connector;
}

export interface CredentialContext {
  /** The token endpoint's client (its own pacing and retries, no auth header). */
  http: ProviderHttpClient;
  endpoints: ProviderEndpoints;
  /** Persists a refresh token the provider rotated, before the next refresh needs it. */
  onRefreshTokenRotated: (refreshToken: string) => Promise<void>;
}

export interface ConnectorContext {
  http: ProviderHttpClient;
  definition: ProviderDefinition;
  endpoints: ProviderEndpoints;
}

/** Where a connection reaches its provider: the definition's URLs unless its settings override them. */
export interface ProviderEndpoints {
  apiBaseUrl: string;
  tokenUrl: string | undefined;
  authorizeUrl: string | undefined;
}

const httpUrl = z.string().max(2048).regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL');
const seconds = (min: number, fallback: number) => z.number().int().min(min).max(30 * 24 * 3600).default(fallback);

/** Settings every pull connection has; stored as the connection's `config` (nothing secret). */
export const pullConfigSchema = z.strictObject({
  api_base_url: httpUrl.optional().describe("The provider's API root, when not the public one (a regional or emulated endpoint)."),
  token_url: httpUrl.optional().describe("The provider's OAuth token endpoint, when not the public one."),
  authorize_url: httpUrl.optional().describe("The provider's OAuth consent page, when not the public one."),
  push: z.boolean().default(true).describe('Open push channels where the provider has them (a latency optimization; polling continues).'),
  push_ttl_seconds: seconds(60, 6 * 3600).describe('Lifetime asked for each push channel; a new one is opened before it ends.'),
  schedule: z
    .strictObject({
      critical_seconds: seconds(1, 300).describe('Users and their state (suspensions, removals from the org) — every 5 minutes by default.'),
      profile_seconds: seconds(1, 3600).describe('Users, groups and memberships, without removals — hourly by default.'),
      full_seconds: seconds(1, 24 * 3600).describe('The full snapshot, the only run that removes what the source lost — daily by default.'),
    })
    .default({ critical_seconds: 300, profile_seconds: 3600, full_seconds: 24 * 3600 }),
});
export type PullConfig = z.infer<typeof pullConfigSchema>;

export function endpointsOf(definition: ProviderDefinition, config: PullConfig): ProviderEndpoints {
  const oauth = definition.auth.find((auth) => auth.type === 'oauth2_authorization_code');
  const tokenAuth = definition.auth.find((auth) => auth.type !== 'api_key_header');
  return {
    apiBaseUrl: (config.api_base_url ?? definition.baseUrl).replace(/\/+$/, ''),
    tokenUrl: config.token_url ?? (tokenAuth && 'tokenUrl' in tokenAuth ? tokenAuth.tokenUrl : undefined),
    authorizeUrl: config.authorize_url ?? oauth?.authorizeUrl,
  };
}
