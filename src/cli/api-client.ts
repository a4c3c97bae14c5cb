/**
 * A small typed client of a running Roster's REST API, for CLI commands (`users ls`, `events tail`, …).
 * Every failure becomes an `ApiError` whose message is fit to print as is.
 */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type QueryValue = string | number | boolean | undefined | null | ReadonlyArray<string>;

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  body?: unknown;
  signal?: AbortSignal;
}

export interface ApiClientOptions {
  baseUrl: string;
  apiKey?: string | undefined;
  /** Injected in tests. */
  fetch?: typeof fetch;
}

export const DEFAULT_ROSTER_URL = 'http://localhost:8080';

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export class ApiClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** `ROSTER_URL` (default http://localhost:8080) and `ROSTER_API_KEY`. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): ApiClient {
    return new ApiClient({ baseUrl: env.ROSTER_URL || DEFAULT_ROSTER_URL, apiKey: env.ROSTER_API_KEY || undefined });
  }

  get<T>(path: string, query?: Record<string, QueryValue>, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', path, { query, signal });
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, { body });
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body });
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body });
  }

  delete<T = void>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  /** Every item of a paginated list, following `next_cursor` page by page. */
  async *list<T>(path: string, query: Record<string, QueryValue> = {}): AsyncGenerator<T> {
    let cursor: string | null = null;
    do {
      const page: Page<T> = await this.get<Page<T>>(path, { ...query, ...(cursor ? { cursor } : {}) });
      yield* page.data;
      cursor = page.next_cursor;
    } while (cursor !== null);
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value === undefined || value === null) continue;
      if (Array.isArray(value)) url.searchParams.set(name, value.join(','));
      else url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    let response: Response;
    try {
      response = await this.fetchImpl(url, { method, headers, body, signal: options.signal });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      const reason = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiError(0, 'unreachable', `Cannot reach Roster at ${this.baseUrl} (${reason?.code ?? reason?.message ?? String(error)}).`, {}, { cause: error });
    }
    const text = await response.text();
    const parsed = parseJson(text);
    if (!response.ok) throw toApiError(response, parsed, method, url.pathname);
    if (text === '') return undefined as T;
    if (parsed === undefined) throw new ApiError(response.status, 'invalid_response', `${method} ${url.pathname} answered something that is not JSON.`);
    return parsed as T;
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function toApiError(response: Response, body: unknown, method: string, path: string): ApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  if (error && typeof error.code === 'string' && typeof error.message === 'string') {
    const details = error.details && typeof error.details === 'object' ? (error.details as Record<string, unknown>) : {};
    const hint = response.status === 401 ? ' Set ROSTER_API_KEY to a valid key.' : '';
    return new ApiError(response.status, error.code, `${error.message}${hint}`, details);
  }
  return new ApiError(response.status, 'http_error', `${method} ${path} failed: HTTP ${response.status} ${response.statusText}.`);
}
