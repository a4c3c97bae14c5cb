import { lookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { lookup as lookupCallback } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { DomainError } from '../core/errors.ts';

/** Ranges an operator-supplied URL may not reach unless allow-listed: the host's own and its networks. */
const REFUSED_RANGES = new Set([
  'unspecified',
  'loopback',
  'linkLocal',
  'private',
  'uniqueLocal',
  'carrierGradeNat',
  'broadcast',
  'multicast',
  'reserved',
  'siteLocal',
]);

export const urlNotAllowed = (message: string, details: Record<string, unknown>) =>
  new DomainError('url_not_allowed', message, 400, details);

/**
 * The SSRF guard of outbound requests to operator-supplied URLs (webhook endpoints). An address in a
 * private, loopback, link-local, unique-local, CGNAT or unspecified range is refused unless its hostname
 * or a CIDR containing it is in the allow-list.
 */
export class UrlGuard {
  private readonly hostnames: Set<string>;
  private readonly cidrs: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>;

  constructor(
    allowList: string[],
    /** The setting that holds the allow-list, named in refusals so an operator knows what to change. */
    private readonly allowListSetting = 'ROSTER_WEBHOOK_ALLOWED_HOSTS',
  ) {
    this.hostnames = new Set();
    this.cidrs = [];
    for (const entry of allowList) {
      if (entry.includes('/')) this.cidrs.push(ipaddr.parseCIDR(entry));
      else if (ipaddr.isValid(stripBrackets(entry))) {
        const address = ipaddr.process(stripBrackets(entry));
        this.cidrs.push([address, address.kind() === 'ipv4' ? 32 : 128]);
      } else this.hostnames.add(entry.toLowerCase());
    }
  }

  /** Refuses a URL that is not http(s), or whose host resolves to a refused address. */
  async check(url: string): Promise<void> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw urlNotAllowed(`url: '${url}' is not a valid URL.`, { url });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw urlNotAllowed(`url: only http and https URLs are allowed, got '${parsed.protocol}'.`, { url });
    }
    if (parsed.username !== '' || parsed.password !== '') {
      throw urlNotAllowed('url: credentials in the URL are not allowed.', { url: `${parsed.protocol}//${parsed.host}${parsed.pathname}` });
    }
    const host = stripBrackets(parsed.hostname);
    if (this.hostnames.has(host.toLowerCase())) return;
    const addresses = ipaddr.isValid(host)
      ? [host]
      : await lookup(host, { all: true, verbatim: true }).then(
          (found) => found.map((entry) => entry.address),
          (error: NodeJS.ErrnoException) => {
            throw urlNotAllowed(`url: the host '${host}' does not resolve (${error.code ?? error.message}).`, { url, host });
          },
        );
    for (const address of addresses) this.assertAddressAllowed(host, address, url);
  }

  /** A `lookup` for outbound sockets that applies the guard to the addresses actually connected to. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    lookupCallback(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as unknown as Array<{ address: string; family: number }>;
      try {
        if (!this.hostnames.has(hostname.toLowerCase())) for (const entry of list) this.assertAddressAllowed(hostname, entry.address, hostname);
      } catch (refused) {
        return callback(refused as NodeJS.ErrnoException, '', 0);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
      const first = list[0]!;
      callback(null, first.address, first.family);
    });
  };

  /** Whether `host` (name or literal) is allowed regardless of where it resolves. */
  isHostAllowListed(host: string): boolean {
    return this.hostnames.has(stripBrackets(host).toLowerCase());
  }

  assertAddressAllowed(host: string, address: string, url: string): void {
    const parsed = ipaddr.process(address);
    const range = parsed.range();
    if (!REFUSED_RANGES.has(range)) return;
    if (this.cidrs.some(([network, bits]) => network.kind() === parsed.kind() && parsed.match(network, bits))) return;
    throw urlNotAllowed(
      `url: '${host}' resolves to ${address}, a ${range} address; allow-list it in ${this.allowListSetting} to use it.`,
      { url, host, address, range },
    );
  }
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
