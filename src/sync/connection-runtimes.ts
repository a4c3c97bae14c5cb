import type { Connector } from '../connectors/connector.ts';
import { definitionSpecOf, loadProviderDefinition } from '../connectors/definition/load-provider-definition.ts';
import { readConnectionConfig, type ProviderEndpoints, type PullConfig, type PullConnectionType } from '../connectors/pull-connection-type.ts';
import { pullConnectionType } from '../connectors/pull-connection-types.ts';
import { conflictError } from '../core/errors.ts';
import type { UrlGuard } from '../security/url-guard.ts';
import type { ConnectionSecretsRepo } from '../store/connection-secrets.repo.ts';
import type { ConnectionRecord, ConnectionsRepo } from '../store/connections.repo.ts';
import type { LogSink } from './http/clock.ts';
import { ProviderHttpClient, type ProviderHttpClientOptions, type ProviderHttpHooks } from './http/provider-http-client.ts';
import { CredentialsError, type CredentialsRevokedError } from './credentials/errors.ts';
import { TokenManager } from './credentials/token-manager.ts';

/** Everything a worker needs to talk to one connection's provider, built once and reused across runs. */
export interface ConnectionRuntime {
  connection: ConnectionRecord;
  type: PullConnectionType;
  config: PullConfig;
  endpoints: ProviderEndpoints;
  connector: Connector;
  tokens: TokenManager;
}

export interface ConnectionRuntimesDeps {
  connections: ConnectionsRepo;
  secrets: ConnectionSecretsRepo;
  /** Operator-supplied provider URLs may not reach private addresses unless allow-listed. */
  urlGuard: UrlGuard;
  /** Retry and timeout settings of provider clients (tests shorten them). */
  http?: Pick<ProviderHttpClientOptions, 'errorBackoff' | 'throttleBackoff' | 'attemptTimeoutMs' | 'deadlineMs' | 'maxErrorAttempts' | 'maxConcurrent'>;
  /** The grant is gone: the engine moves the connection to needs_reauth. */
  onRevoked: (connection: ConnectionRecord, error: CredentialsRevokedError) => Promise<void>;
  clock: () => Date;
  logger: LogSink;
  /** What provider calls went through, for /metrics. */
  hooks?: (connectionType: string) => ProviderHttpHooks;
}

/**
 * The provider clients of pull connections, one per connection: its HTTP client (pacing, concurrency,
 * retries apply to the connection as a whole) and its token manager (tokens reused until near expiry).
 * A connection changed since its runtime was built (new settings, new credentials, a state change) gets a
 * new one.
 */
export class ConnectionRuntimes {
  private readonly built = new Map<string, { version: string; runtime: Promise<ConnectionRuntime> }>();

  constructor(private readonly deps: ConnectionRuntimesDeps) {}

  async get(connectionId: string): Promise<ConnectionRuntime> {
    const connection = await this.deps.connections.get(connectionId);
    if (!connection) throw conflictError('connection_gone', `Connection '${connectionId}' no longer exists.`, { connection_id: connectionId });
    const cached = this.built.get(connectionId);
    if (cached && cached.version === connection.updated_at) return cached.runtime;
    const runtime = this.build(connection);
    this.built.set(connectionId, { version: connection.updated_at, runtime });
    runtime.catch(() => this.built.delete(connectionId));
    return runtime;
  }

  forget(connectionId: string): void {
    this.built.delete(connectionId);
  }

  private async build(connection: ConnectionRecord): Promise<ConnectionRuntime> {
    const type = pullConnectionType(connection.type);
    if (!type) throw conflictError('not_a_pull_connection', `Connection '${connection.id}' is a ${connection.type} connection; Roster does not pull from it.`, {});
    const { config, settings, endpoints } = readConnectionConfig(type, connection.config);
    for (const url of [endpoints.apiBaseUrl, endpoints.tokenUrl]) if (url !== undefined) await this.deps.urlGuard.check(url);
    const credentials = await this.deps.secrets.read(connection.id);
    if (!credentials) throw new CredentialsError('no_credentials', `Connection '${connection.id}' has no credentials`);

    const label = connection.id;
    const common = { label, logger: this.deps.logger, ...this.deps.http, ...(this.deps.hooks ? { hooks: this.deps.hooks(connection.type) } : {}) };
    const tokenHttp = new ProviderHttpClient({ ...common, maxConcurrent: 2 });
    const strategy = type.credentialStrategy(credentials, {
      http: tokenHttp,
      endpoints,
      onRefreshTokenRotated: (refreshToken) => this.deps.secrets.merge(connection, { refresh_token: refreshToken }, this.deps.clock().toISOString()),
    });
    const tokens = new TokenManager({
      strategy,
      label,
      logger: this.deps.logger,
      onRevoked: (error) => {
        this.forget(connection.id);
        return this.deps.onRevoked(connection, error);
      },
    });
    const http = new ProviderHttpClient({
      ...common,
      throttle: type.throttle,
      authorize: () => tokens.getAuthHeader(),
      onUnauthorized: () => tokens.invalidate(),
    });
    // The definition as this connection reaches it: the same data with its own API root.
    const definition = endpoints.apiBaseUrl === type.definition.baseUrl ? type.definition : loadProviderDefinition({ ...definitionSpecOf(type.definition), baseUrl: endpoints.apiBaseUrl });
    return { connection, type, config, endpoints, tokens, connector: type.connector({ http, definition, endpoints, settings }) };
  }
}
