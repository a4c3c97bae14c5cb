import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Encrypts secrets that Roster must be able to read back (webhook signing secrets, pull connections'
 * credentials), so a copy of the database alone does not reveal them.
 */
export interface SecretBox {
  /** Always under the current key. */
  seal(plaintext: string): string;
  /** Under the current key or any previous one; throws a SecretBoxError when none opens it. */
  open(sealed: string): string;
  /** Whether the current key opens `sealed`; false (never a throw) for a previous key's value or one no key opens. */
  isCurrent(sealed: string): boolean;
}

/** A value that is not a sealed secret, or that no configured key opens. The message never holds key or value. */
export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
}

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/**
 * AES-256-GCM; a sealed value is `v1.<base64url(iv ‖ tag ‖ ciphertext)>`. `previousKeys` are keys rotated
 * out: still accepted for opening until the re-seal pass has moved every value to `key`.
 *
 * The format carries no key id on purpose: processes of the previous release, still running during a
 * rolling upgrade, read only `v1`. GCM's tag tells a wrong key, so opening tries the current key, then each
 * previous one.
 */
export function createAesGcmSecretBox(key: Buffer, previousKeys: readonly Buffer[] = []): SecretBox {
  // Current first; a key listed twice (or also as previous) is tried once.
  const keys: Buffer[] = [];
  for (const candidate of [key, ...previousKeys]) {
    if (candidate.length !== KEY_BYTES) throw new Error(`A secret key must be ${KEY_BYTES} bytes, got ${candidate.length}`);
    if (!keys.some((k) => k.equals(candidate))) keys.push(candidate);
  }
  return {
    seal(plaintext) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')}`;
    },
    open(sealed) {
      const bytes = parse(sealed);
      if (bytes === undefined) throw new SecretBoxError(`Not a sealed secret (expected ${VERSION}.<base64url>)`);
      for (const candidate of keys) {
        const plaintext = decrypt(candidate, bytes);
        if (plaintext !== undefined) return plaintext;
      }
      throw new SecretBoxError(
        `No configured secret key opens this sealed secret (tried ROSTER_SECRET_KEY and ${keys.length - 1} key(s) of ROSTER_SECRET_KEY_PREVIOUS): ` +
          'it was sealed under another key, or altered',
      );
    },
    isCurrent(sealed) {
      const bytes = parse(sealed);
      return bytes !== undefined && decrypt(key, bytes) !== undefined;
    },
  };
}

function parse(sealed: string): Buffer | undefined {
  const [version, payload, extra] = sealed.split('.');
  if (version !== VERSION || payload === undefined || extra !== undefined) return undefined;
  const bytes = Buffer.from(payload, 'base64url');
  return bytes.length < IV_BYTES + TAG_BYTES ? undefined : bytes;
}

/** The plaintext, or undefined when the tag does not authenticate under `key`. */
function decrypt(key: Buffer, bytes: Buffer): string | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/** The key kept in `<dataDir>/secret-key`, if that file exists. */
export function readSecretKeyFile(dataDir: string): Buffer | undefined {
  const file = join(dataDir, 'secret-key');
  if (!existsSync(file)) return undefined;
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== KEY_BYTES) throw new Error(`${file} must hold a base64 key of ${KEY_BYTES} bytes`);
  return key;
}

/**
 * The configured key, or the one kept in `<dataDir>/secret-key` (created on first start, readable only by
 * this user). `onCreated` is told the file's path, never the key.
 */
export function loadOrCreateSecretKey(configured: Buffer | undefined, dataDir: string, onCreated: (file: string) => void): Buffer {
  if (configured !== undefined) return configured;
  const existing = readSecretKeyFile(dataDir);
  if (existing !== undefined) return existing;
  const file = join(dataDir, 'secret-key');
  const key = randomBytes(KEY_BYTES);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  onCreated(file);
  return key;
}
