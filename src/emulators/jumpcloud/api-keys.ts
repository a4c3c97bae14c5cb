import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { JumpCloudApiError, OBJECT_ID } from './http-kit.ts';

/**
 * JumpCloud authenticates every call by an admin's API key in `x-api-key`. An admin of a multi-tenant
 * portal also names the organization with `x-org-id`: without it the call is refused with 401 ("no
 * organization selected"); a malformed id is 400, an organization the key cannot reach 404. A key that
 * was reset (the console's only way to revoke one) is 401 "api key user not found".
 */
export type OrgIdRule = 'multi-tenant' | 'always' | 'never';

export interface KeyGrant {
  kind: 'admin' | 'multi-tenant';
  /** For logs and throttling windows; never the key. */
  label: string;
}

export class ApiKeys {
  private readonly keys = new Map<string, KeyGrant>();
  private serial = 0;
  /** When `x-org-id` is required: for multi-tenant keys only (JumpCloud's documented rule), always, or never. */
  orgIdRule: OrgIdRule = 'multi-tenant';

  constructor(private readonly orgId: string) {}

  /** A new 40-hex key, like the console issues. */
  issue(kind: KeyGrant['kind'], key: string = randomBytes(20).toString('hex')): string {
    this.serial += 1;
    this.keys.set(key, { kind, label: `${kind}-${this.serial}` });
    return key;
  }

  revoke(key: string): boolean {
    return this.keys.delete(key);
  }

  /** The grant of the request's key, or the error JumpCloud answers. */
  authenticate(headers: IncomingHttpHeaders): KeyGrant {
    const key = single(headers['x-api-key']);
    if (key === undefined || key === '') throw new JumpCloudApiError(401, 'Unauthorized: no api key provided');
    const grant = this.keys.get(key);
    if (!grant) throw new JumpCloudApiError(401, 'Unauthorized: api key user not found');
    const orgId = single(headers['x-org-id']);
    if (orgId === undefined || orgId === '') {
      const required = this.orgIdRule === 'always' || (this.orgIdRule === 'multi-tenant' && grant.kind === 'multi-tenant');
      if (required) throw new JumpCloudApiError(401, 'Unauthorized: no organization selected');
      return grant;
    }
    if (!OBJECT_ID.test(orgId)) throw new JumpCloudApiError(400, 'Bad Request: Malformed ID');
    if (orgId !== this.orgId) throw new JumpCloudApiError(404, 'Not Found: Organization ID Not Found');
    return grant;
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
