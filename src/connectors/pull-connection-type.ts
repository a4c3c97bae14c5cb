import { z } from 'zod';
import type { ConnectionCategory, JsonObject } from '../core/model.ts';
import type { CredentialStrategy } from '../sync/credentials/credential-strategy.ts';
import type { ProviderHttpClient } from '../sync/http/provider-http-client.ts';
import type { ThrottleProfile } from '../sync/http/throttle-classifiers.ts';
import type { Connector } from './connector.ts';
import type { ProviderDefinition } from './definition/load-provider-definition.ts';
import { expandTemplate } from './definition/url-template.ts';

/**
 * One kind of pull connection (google-workspace, later microsoft-graph, okta…): its provider definition,
 * what an operator supplies to create one, and how its credentials and connector are built.
 */
export interface PullConnectionType {
  readonly type: string;
  readonly displayName: string;
  /** What the API documentation says the type does and which credentials it takes. */
  readonly description: string;
  readonly defaultCategory: ConnectionCategory;
  readonly definition: ProviderDefinition;
  readonly throttle: ThrottleProfile;
  /** Its connector has a delta protocol (`connector.delta`): the critical tier runs delta rounds instead of listing. */
  readonly supportsDelta: boolean;
  /**
   * The type's own settings beside the common ones (Graph's tenant, Okta's domain): string fields named as
   * the definition's `connectionConfig` placeholders, which they fill. `z.strictObject({})` when none.
   */
  readonly settingsSchema: z.ZodObject<Record<string, z.ZodType<string | undefined>>>;
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
  /** The type's settings, as the values of the definition's placeholders. */
  settings: Readonly<Record<string, string>>;
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
  critical_groups: z
    .array(z.string().min(1).max(512))
    .max(100)
    .default([])
    .describe(
      "Groups (by the provider's id) whose memberships the critical tier reads again, e.g. the admins: someone removed from one loses it within minutes, not at the next full run. For a source with a delta protocol the critical tier is a delta round, which covers every group.",
    ),
  schedule: z
    .strictObject({
      critical_seconds: seconds(1, 300).describe('Users and their state (suspensions, removals from the org), and the memberships of `critical_groups` — every 5 minutes by default.'),
      profile_seconds: seconds(1, 3600).describe('Users, groups and memberships, without removals — hourly by default.'),
      full_seconds: seconds(1, 24 * 3600).describe('The full snapshot, the only run that removes what the source lost — daily by default.'),
    })
    .default({ critical_seconds: 300, profile_seconds: 3600, full_seconds: 24 * 3600 }),
});
export type PullConfig = z.infer<typeof pullConfigSchema>;

/** The settings of a connection of this type: the common ones and the type's own, all checked. */
export function connectionConfigSchema(type: PullConnectionType): z.ZodType<PullConfig & Readonly<Record<string, unknown>>, unknown> {
  return pullConfigSchema.extend(type.settingsSchema.shape) as unknown as z.ZodType<PullConfig & Readonly<Record<string, unknown>>, unknown>;
}

/** A connection's type settings as placeholder values (unset ones left out). */
export function settingsOf(type: PullConnectionType, config: Readonly<Record<string, unknown>>): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of Object.keys(type.settingsSchema.shape)) if (typeof config[name] === 'string') values[name] = config[name] as string;
  return values;
}

export function endpointsOf(definition: ProviderDefinition, config: PullConfig, settings: Readonly<Record<string, string>> = {}): ProviderEndpoints {
  const oauth = definition.auth.find((auth) => auth.type === 'oauth2_authorization_code');
  const tokenAuth = definition.auth.find((auth) => auth.type !== 'api_key_header');
  const expand = (template: string | undefined) => (template === undefined ? undefined : expandTemplate(template, settings));
  return {
    apiBaseUrl: (config.api_base_url ?? expand(definition.baseUrl)!).replace(/\/+$/, ''),
    tokenUrl: config.token_url ?? expand(tokenAuth && 'tokenUrl' in tokenAuth ? tokenAuth.tokenUrl : undefined),
    authorizeUrl: config.authorize_url ?? expand(oauth?.authorizeUrl),
  };
}

/** A stored connection's settings read back: the common ones, the type's own as placeholder values, and where it reaches its provider. */
export function readConnectionConfig(type: PullConnectionType, stored: unknown): { config: PullConfig; settings: Record<string, string>; endpoints: ProviderEndpoints } {
  const config = connectionConfigSchema(type).parse(stored);
  const settings = settingsOf(type, config);
  return { config, settings, endpoints: endpointsOf(type.definition, config, settings) };
}
