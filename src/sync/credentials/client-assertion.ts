import { randomUUID } from 'node:crypto';
import { importPKCS8, SignJWT } from 'jose';
import { systemClock, type Clock } from '../http/clock.ts';
import { CredentialsError } from './errors.ts';

export const JWT_CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * Imports a PKCS#8 PEM once. jose's own import errors can quote key material, so they are replaced by a
 * message that cannot; a failed import is not cached, so a corrected key can be retried.
 */
export function rs256KeyLoader(key: string | CryptoKey): () => Promise<CryptoKey> {
  if (typeof key !== 'string') return () => Promise.resolve(key);
  let loading: Promise<CryptoKey> | undefined;
  return () => {
    loading ??= importPKCS8(key, 'RS256').catch(() => {
      loading = undefined;
      throw new CredentialsError('private_key_invalid', 'Private key is not a valid PKCS#8 RSA key');
    });
    return loading;
  };
}

export interface PrivateKeyJwtOptions {
  clientId: string;
  /** The assertion's `aud`: the token endpoint it is sent to. */
  tokenUrl: string;
  privateKey: string | CryptoKey;
  keyId?: string;
  /** Capped at 3600 s (Okta's maximum); default 300 s since it is used at once. */
  lifetimeSec?: number;
  clock?: Clock;
}

/**
 * `private_key_jwt` client authentication (RFC 7523 §2.2), as Okta service apps use it: a fresh signed
 * assertion with iss = sub = client_id and a unique jti per token request.
 */
export function privateKeyJwtAssertion(options: PrivateKeyJwtOptions): () => Promise<string> {
  const key = rs256KeyLoader(options.privateKey);
  const clock = options.clock ?? systemClock;
  return async () => {
    const iat = Math.floor(clock.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', ...(options.keyId ? { kid: options.keyId } : {}) })
      .setIssuer(options.clientId)
      .setSubject(options.clientId)
      .setAudience(options.tokenUrl)
      .setIssuedAt(iat)
      .setExpirationTime(iat + Math.min(options.lifetimeSec ?? 300, 3600))
      .setJti(randomUUID())
      .sign(await key());
  };
}
