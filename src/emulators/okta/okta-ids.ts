import { randomBytes } from 'node:crypto';

/** Digits, then upper, then lower case: ASCII order, so fixed-width serials in it sort as strings. */
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function serial(value: number, width: number): string {
  let out = '';
  let rest = value;
  for (let i = 0; i < width; i += 1) {
    out = ALPHABET[rest % 62]! + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

function noise(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte % 62];
  return out;
}

/**
 * Okta ids: a three-character kind (`00u` users, `00g` groups, `who` event hooks, `0oa` apps) and 17 more
 * characters, 20 in all. Issued increasing, so an id sort is the order objects were created in and `after`
 * cursors (the last id of a page) can be found by binary search.
 */
export class OktaIds {
  private next = 1;

  issue(kind: '00u' | '00g' | 'who' | '0oa' | 'oty'): string {
    const id = `${kind}${serial(this.next, 7)}${noise(10)}`;
    this.next += 1;
    return id;
  }
}
