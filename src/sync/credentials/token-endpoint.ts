import { z } from 'zod';
import { ProviderHttpError } from '../http/errors.ts';
import type { ProviderHttpClient } from '../http/provider-http-client.ts';
import { JWT_CLIENT_ASSERTION_TYPE } from './client-assertion.ts';
import { CredentialsError, CredentialsRevokedError } from './errors.ts';

export interface ClientAuth {
  clientId: string;
  clientSecret?: string;
  /** `basic`: HTTP Basic (RFC 6749 §2.3.1, preferred); `body`: client_id/client_secret form fields. */
  method?: 'basic' | 'body';
  /** `private_key_jwt` instead of a secret (see privateKeyJwtAssertion); takes precedence over clientSecret. */
  clientAssertion?: () => Promise<string>;
}

export interface TokenEndpointResponse {
  accessToken: string;
  tokenType: string;
  expiresInSec: number | undefined;
  refreshToken: string | undefined;
  scope: string | undefined;
}

const tokenResponse = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
  refresh_token: z.string().min(1).optional(),
  scope: z.string().optional(),
});

/** Reasons that mean the grant itself is dead; anything else may be transient or a config error. */
const REVOKED_REASONS: ReadonlySet<string> = new Set(['invalid_grant']);

const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');

/**
 * POSTs a token request through the connection's http client (so 5xx, 429 and network errors are
 * retried by its rules) and maps the outcome to credential errors that carry no secret.
 */
export async function requestToken(
  http: ProviderHttpClient,
  tokenUrl: string,
  params: Record<string, string>,
  client?: ClientAuth,
  signal?: AbortSignal,
): Promise<TokenEndpointResponse> {
  const form = new URLSearchParams(params);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (client?.clientAssertion) {
    form.set('client_id', client.clientId);
    form.set('client_assertion_type', JWT_CLIENT_ASSERTION_TYPE);
    form.set('client_assertion', await client.clientAssertion());
  } else if (client) {
    if (client.method === 'body' || client.clientSecret === undefined) {
      form.set('client_id', client.clientId);
      if (client.clientSecret !== undefined) form.set('client_secret', client.clientSecret);
    } else {
      const pair = `${formEncode(client.clientId)}:${formEncode(client.clientSecret)}`;
      headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
    }
  }
  const host = new URL(tokenUrl).host;
  let text: string;
  try {
    const response = await http.request({ method: 'POST', url: tokenUrl, headers, body: form, ...(signal ? { signal } : {}) });
    text = response.text;
  } catch (error) {
    if (error instanceof ProviderHttpError && error.providerReason && REVOKED_REASONS.has(error.providerReason)) {
      throw new CredentialsRevokedError(error.providerReason, `Token endpoint ${host} rejected the grant (${error.providerReason}); the connection must be re-authorized`);
    }
    const detail = error instanceof ProviderHttpError ? `${error.code}${error.status ? ` ${error.status}` : ''}${error.providerReason ? ` ${error.providerReason}` : ''}` : 'unexpected error';
    // Only an answer refusing the request says the credentials are wrong; an endpoint that was down, out
    // of reach or still throttling when the retries ran out says nothing about them.
    const refused = error instanceof ProviderHttpError && error.code === 'http_status' && !error.retryable;
    if (!refused) throw new CredentialsError('token_endpoint_unavailable', `Token request to ${host} failed: ${detail}`, { cause: error, transient: true });
    throw new CredentialsError('token_request_failed', `Token request to ${host} failed: ${detail}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = tokenResponse.safeParse(json);
  // Deliberately no body or zod issues in the message: a half-valid body can still hold a token.
  if (!parsed.success) throw new CredentialsError('token_response_invalid', `Token endpoint ${host} answered without a usable access_token`);
  return {
    accessToken: parsed.data.access_token,
    tokenType: parsed.data.token_type ?? 'Bearer',
    expiresInSec: parsed.data.expires_in,
    refreshToken: parsed.data.refresh_token,
    scope: parsed.data.scope,
  };
}

/** Bearer header from a token response; `token_type` is case-insensitive and some servers send `bearer`. */
export function bearerToken(response: TokenEndpointResponse, issuedAt: number, defaultLifetimeSec: number) {
  return {
    header: { name: 'authorization', value: `Bearer ${response.accessToken}` },
    issuedAt,
    expiresAt: issuedAt + (response.expiresInSec ?? defaultLifetimeSec) * 1000,
  };
}
