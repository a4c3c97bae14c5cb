import { createHash } from 'node:crypto';

/**
 * The stored form of a high-entropy secret that is only ever compared, never read back (API keys, channel
 * tokens, OAuth states): a database copy alone does not reveal it. Random 256-bit secrets need no salt.
 */
export function sha256Hex(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}
