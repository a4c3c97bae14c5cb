import type { FetchJson } from '../../connectors/definition/pager.ts';
import type { ProviderHttpClient } from './provider-http-client.ts';

/** The pager's `FetchJson` over a connection's provider HTTP client (auth, pacing and retries live there). */
export function fetchJsonVia(client: ProviderHttpClient): FetchJson {
  return async (url, init) => {
    const response = await client.request({
      url,
      headers: init.headers,
      ...(init.signal ? { signal: init.signal } : {}),
      ...(init.acceptStatuses ? { acceptStatuses: init.acceptStatuses } : {}),
    });
    return { status: response.status, headers: Object.fromEntries(response.headers.entries()), body: response.text === '' ? null : response.json() };
  };
}
