import { createHash, randomBytes } from 'node:crypto';
import type { ProviderHttpClient } from '../http/provider-http-client.ts';
import { requestToken, type ClientAuth } from './token-endpoint.ts';

/** RFC 7636 verifier: 32 random bytes → 43 base64url characters (the spec allows 43–128). */
export function createCodeVerifier(): string {
  return randomBytes(32).toString('base64url');
}

/** S256 challenge: base64url(sha256(ascii(verifier))), no padding. */
export function codeChallengeS256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** Opaque CSRF state to bind the callback to the browser session that started the flow. */
export function createState(): string {
  return randomBytes(24).toString('base64url');
}

export interface AuthorizeUrlOptions {
  authorizeUrl: string;
  clientId: string;
  redirectUri: string;
  scopes: readonly string[];
  state: string;
  codeChallenge: string;
  /** Google: ask for a refresh token. */
  accessTypeOffline?: boolean;
  /** Force the consent screen, so Google issues a refresh token again on re-connect. */
  promptConsent?: boolean;
  extraParams?: Record<string, string>;
}

export function buildAuthorizeUrl(options: AuthorizeUrlOptions): string {
  const url = new URL(options.authorizeUrl);
  const params = url.searchParams;
  params.set('response_type', 'code');
  params.set('client_id', options.clientId);
  params.set('redirect_uri', options.redirectUri);
  params.set('scope', options.scopes.join(' '));
  params.set('state', options.state);
  params.set('code_challenge', options.codeChallenge);
  params.set('code_challenge_method', 'S256');
  if (options.accessTypeOffline) params.set('access_type', 'offline');
  if (options.promptConsent) params.set('prompt', 'consent');
  for (const [name, value] of Object.entries(options.extraParams ?? {})) params.set(name, value);
  return url.toString();
}

export interface ExchangeCodeOptions {
  http: ProviderHttpClient;
  tokenUrl: string;
  client: ClientAuth;
  code: string;
  codeVerifier: string;
  redirectUri: string;
  now?: number;
}

export interface AuthorizationGrant {
  accessToken: string;
  refreshToken: string | undefined;
  /** Epoch ms, or undefined when the server did not say. */
  expiresAt: number | undefined;
  scope: string | undefined;
}

/** Exchanges the callback's code (RFC 6749 §4.1.3) with its PKCE verifier; persist the refresh token encrypted. */
export async function exchangeAuthorizationCode(options: ExchangeCodeOptions): Promise<AuthorizationGrant> {
  const now = options.now ?? Date.now();
  const response = await requestToken(
    options.http,
    options.tokenUrl,
    { grant_type: 'authorization_code', code: options.code, code_verifier: options.codeVerifier, redirect_uri: options.redirectUri },
    options.client,
  );
  return {
    accessToken: response.accessToken,
    refreshToken: response.refreshToken,
    expiresAt: response.expiresInSec === undefined ? undefined : now + response.expiresInSec * 1000,
    scope: response.scope,
  };
}
