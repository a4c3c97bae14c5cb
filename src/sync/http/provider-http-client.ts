import { fullJitterDelay, parseRetryAfter, type BackoffPolicy } from './backoff.ts';
import { silentLog, systemClock, type Clock, type LogSink } from './clock.ts';
import { describeRequest, ProviderHttpError, type ProviderHttpErrorCode } from './errors.ts';
import { bucketsFor, ConcurrencyGate, type PacingOptions, type TokenBucket } from './rate-limiter.ts';
import { defaultReasonExtractors, genericThrottleProfile, type ReasonExtractor, type ResponseView, type ThrottleProfile } from './throttle-classifiers.ts';

export interface RetryEvent {
  kind: 'error' | 'throttle';
  /** Attempt that just failed, 1-based, counting every attempt of this call. */
  attempt: number;
  reason: string;
  delayMs: number;
  status?: number;
}

export interface ThrottleEvent {
  /** `response`: the provider throttled a call; `pacing`: we paused ahead of time on its headers. */
  source: 'response' | 'pacing';
  reason: string;
  delayMs: number;
  status?: number;
}

export interface ProviderHttpHooks {
  onRetry?(event: RetryEvent): void;
  onThrottle?(event: ThrottleEvent): void;
}

export interface AuthHeader {
  name: string;
  value: string;
}

export interface ProviderHttpClientOptions {
  /** Non-secret label for logs, e.g. the connection id. */
  label?: string;
  throttle?: ThrottleProfile;
  pacing?: PacingOptions;
  /** Max requests in flight for this connection; default 4. */
  maxConcurrent?: number;
  /** Per attempt, wall-clock; default 30 s. */
  attemptTimeoutMs?: number;
  /** Whole call including retries and throttle waits, measured on `clock`; default 15 min. */
  deadlineMs?: number;
  /** Attempts allowed for network errors, timeouts and 5xx (throttling does not count); default 5. */
  maxErrorAttempts?: number;
  errorBackoff?: BackoffPolicy;
  throttleBackoff?: BackoffPolicy;
  /** Asked before every attempt, so a retry after a token refresh carries the new token. */
  authorize?: () => Promise<AuthHeader>;
  /**
   * Called on a 401 when `authorize` is set (e.g. `tokenManager.invalidate()`, for a token revoked
   * server-side before its expiry); the call is then retried once, at once, with a fresh header.
   */
  onUnauthorized?: () => void;
  headers?: Record<string, string>;
  reasonExtractors?: readonly ReasonExtractor[];
  hooks?: ProviderHttpHooks;
  clock?: Clock;
  random?: () => number;
  fetch?: typeof fetch;
  logger?: LogSink;
}

export interface ProviderRequest {
  method?: string;
  url: string | URL;
  headers?: Record<string, string>;
  body?: string | URLSearchParams;
  /** Cancels the call (e.g. the run was cancelled); not retried. */
  signal?: AbortSignal;
  /** Overrides the client's deadline for this call. */
  deadlineMs?: number;
  /** Statuses ≥ 400 to hand back instead of throwing, e.g. Graph's 410 for an expired delta link. */
  acceptStatuses?: readonly number[];
}

export interface ProviderResponse {
  status: number;
  headers: Headers;
  url: string;
  text: string;
  /** The body as JSON; the same parsed value on every call (callers must not mutate it). */
  json<T = unknown>(): T;
}

type AttemptOutcome =
  | { kind: 'done'; response: ProviderResponse }
  | { kind: 'retry'; class: 'error' | 'throttle'; code: ProviderHttpErrorCode; reason: string; retryAfterMs?: number; status?: number; providerReason?: string; cause?: unknown }
  | { kind: 'fail'; error: ProviderHttpError };

const DEFAULTS = {
  maxConcurrent: 4,
  attemptTimeoutMs: 30_000,
  deadlineMs: 15 * 60_000,
  maxErrorAttempts: 5,
  errorBackoff: { baseMs: 500, capMs: 30_000 },
  throttleBackoff: { baseMs: 1_000, capMs: 60_000 },
};

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * One per connection: every request to the provider for that connection goes through here, so pacing,
 * concurrency and provider pauses apply to the connection as a whole. A throttled call waits and tries
 * again until its deadline (throttling slows a run, it does not fail it); errors get a small budget;
 * other 4xx fail at once.
 */
export class ProviderHttpClient {
  private readonly options: ProviderHttpClientOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly fetchImpl: typeof fetch;
  private readonly log: LogSink;
  private readonly gate: ConcurrencyGate;
  private readonly buckets: TokenBucket[];
  private readonly throttle: ThrottleProfile;
  /** Set by pacers (Okta Remaining/Reset) and by throttle answers that say how long: no request of this connection starts before it. */
  private pause = { until: 0, reason: '' };

  constructor(options: ProviderHttpClientOptions = {}) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.fetchImpl = options.fetch ?? fetch;
    this.log = options.logger ?? silentLog;
    this.gate = new ConcurrencyGate(options.maxConcurrent ?? DEFAULTS.maxConcurrent);
    this.buckets = bucketsFor(options.pacing, this.clock);
    this.throttle = options.throttle ?? genericThrottleProfile;
  }

  get inFlight(): number {
    return this.gate.inFlight;
  }

  async request(request: ProviderRequest): Promise<ProviderResponse> {
    const url = new URL(request.url);
    const method = (request.method ?? 'GET').toUpperCase();
    const what = describeRequest(method, url);
    try {
      return await this.run(request, url, method, what);
    } catch (error) {
      // Cancellation can land in a queue, a pacing wait or a backoff sleep; report it one way.
      if (request.signal?.aborted && !(error instanceof ProviderHttpError && error.code === 'aborted')) {
        throw new ProviderHttpError('aborted', `${what} was cancelled`, { retryable: false, attempts: 0, cause: request.signal.reason });
      }
      throw error;
    }
  }

  private async run(request: ProviderRequest, url: URL, method: string, what: string): Promise<ProviderResponse> {
    const deadline = this.clock.now() + (request.deadlineMs ?? this.options.deadlineMs ?? DEFAULTS.deadlineMs);
    const maxErrorAttempts = this.options.maxErrorAttempts ?? DEFAULTS.maxErrorAttempts;
    let attempt = 0;
    let errorAttempts = 0;
    let throttleRetries = 0;
    let reauthorized = false;

    for (;;) {
      attempt += 1;
      const release = await this.gate.acquire(request.signal);
      let outcome: AttemptOutcome;
      try {
        await this.waitForPacing(deadline, what, attempt, request.signal);
        outcome = await this.attempt(request, url, method, what, deadline, attempt);
      } finally {
        release();
      }
      if (outcome.kind === 'done') return outcome.response;
      if (outcome.kind === 'fail') {
        if (outcome.error.status === 401 && this.options.authorize && this.options.onUnauthorized && !reauthorized) {
          reauthorized = true;
          this.options.onUnauthorized();
          continue;
        }
        throw outcome.error;
      }

      let delayMs: number;
      if (outcome.class === 'throttle') {
        throttleRetries += 1;
        delayMs = outcome.retryAfterMs ?? fullJitterDelay(throttleRetries, this.options.throttleBackoff ?? DEFAULTS.throttleBackoff, this.random);
        // The provider said how long to wait (Retry-After, a reset time): the connection's other requests
        // draw on the same bucket, so none of them starts before then either.
        if (outcome.retryAfterMs !== undefined) this.pauseUntil({ until: this.clock.now() + delayMs, reason: outcome.reason });
      } else {
        errorAttempts += 1;
        if (errorAttempts >= maxErrorAttempts) {
          throw new ProviderHttpError(outcome.code, `${what} failed after ${attempt} attempts: ${outcome.reason}`, {
            status: outcome.status,
            providerReason: outcome.providerReason,
            retryable: true,
            attempts: attempt,
            cause: outcome.cause,
          });
        }
        delayMs = outcome.retryAfterMs ?? fullJitterDelay(errorAttempts, this.options.errorBackoff ?? DEFAULTS.errorBackoff, this.random);
      }

      if (this.clock.now() + delayMs >= deadline) {
        throw new ProviderHttpError('deadline_exceeded', `${what} did not succeed before its deadline (last: ${outcome.reason})`, {
          status: outcome.status,
          providerReason: outcome.providerReason,
          retryable: true,
          attempts: attempt,
          cause: outcome.cause,
        });
      }
      const event: RetryEvent = { kind: outcome.class, attempt, reason: outcome.reason, delayMs, ...(outcome.status === undefined ? {} : { status: outcome.status }) };
      if (outcome.class === 'throttle') this.notifyThrottle({ source: 'response', reason: outcome.reason, delayMs, ...(outcome.status === undefined ? {} : { status: outcome.status }) });
      this.notify(() => this.options.hooks?.onRetry?.(event));
      this.log.debug({ label: this.options.label, request: what, ...event }, 'provider request will be retried');
      await this.clock.sleep(delayMs, request.signal);
    }
  }

  /** Waits out a provider pause and this connection's rate; fails early if that overruns the deadline. */
  private async waitForPacing(deadline: number, what: string, attempt: number, signal: AbortSignal | undefined): Promise<void> {
    const pauseMs = this.pause.until - this.clock.now();
    if (pauseMs > 0) {
      if (this.clock.now() + pauseMs >= deadline) {
        throw new ProviderHttpError('deadline_exceeded', `${what} would start after its deadline (${this.pause.reason})`, { retryable: true, attempts: attempt - 1 });
      }
      this.notifyThrottle({ source: 'pacing', reason: this.pause.reason, delayMs: pauseMs });
      await this.clock.sleep(pauseMs, signal);
    }
    const waitMs = Math.max(0, ...this.buckets.map((bucket) => bucket.reserve()));
    if (waitMs > 0) {
      if (this.clock.now() + waitMs >= deadline) {
        throw new ProviderHttpError('deadline_exceeded', `${what} would start after its deadline (pacing)`, { retryable: true, attempts: attempt - 1 });
      }
      await this.clock.sleep(waitMs, signal);
    }
  }

  private async attempt(request: ProviderRequest, url: URL, method: string, what: string, deadline: number, attempt: number): Promise<AttemptOutcome> {
    const timeoutMs = Math.max(1, Math.min(this.options.attemptTimeoutMs ?? DEFAULTS.attemptTimeoutMs, deadline - this.clock.now()));
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    const headers = new Headers(this.options.headers);
    for (const [name, value] of Object.entries(request.headers ?? {})) headers.set(name, value);
    if (this.options.authorize) {
      const auth = await this.options.authorize();
      headers.set(auth.name, auth.value);
    }

    let status: number;
    let responseHeaders: Headers;
    let text: string;
    let finalUrl: string;
    try {
      const response = await this.fetchImpl(url, { method, headers, body: request.body ?? null, signal, redirect: 'follow' });
      status = response.status;
      responseHeaders = response.headers;
      finalUrl = response.url || url.href;
      // Read inside the same timeout: a provider that stalls mid-body is as stuck as one that never answers.
      text = await response.text();
    } catch (error) {
      if (request.signal?.aborted) {
        return { kind: 'fail', error: new ProviderHttpError('aborted', `${what} was cancelled`, { retryable: false, attempts: attempt, cause: request.signal.reason }) };
      }
      return timeout.aborted
        ? { kind: 'retry', class: 'error', code: 'timeout', reason: 'timeout', cause: error }
        : { kind: 'retry', class: 'error', code: 'network', reason: 'network_error', cause: error };
    }

    // Parsed once: pacers and classifiers read it, and so does the caller (a page of users is ~0.4 MB).
    const body = status >= 400 || (responseHeaders.get('content-type') ?? '').includes('json') ? parseJson(text) : undefined;
    const view: ResponseView = { status, headers: responseHeaders, body, now: this.clock.now() };
    this.applyPacers(view);

    if (status < 400 || request.acceptStatuses?.includes(status)) {
      // A body that did not parse (or was not declared JSON) is parsed on demand, so a bad one throws there.
      return { kind: 'done', response: { status, headers: responseHeaders, url: finalUrl, text, json: <T>() => (body === undefined ? JSON.parse(text) : body) as T } };
    }
    const providerReason = this.reasonOf(body);
    for (const classify of this.throttle.classifiers) {
      const verdict = classify(view);
      if (verdict) return { kind: 'retry', class: 'throttle', code: 'http_status', status, ...verdict, ...(providerReason ? { providerReason } : {}) };
    }
    if (status >= 500) {
      const retryAfterMs = parseRetryAfter(responseHeaders.get('retry-after'), view.now);
      return { kind: 'retry', class: 'error', code: 'http_status', reason: `http_${status}`, status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }), ...(providerReason ? { providerReason } : {}) };
    }
    const reasonText = providerReason ? ` (${providerReason})` : '';
    return { kind: 'fail', error: new ProviderHttpError('http_status', `${what} answered ${status}${reasonText}`, { status, providerReason, retryable: false, attempts: attempt }) };
  }

  private applyPacers(view: ResponseView): void {
    for (const pacer of this.throttle.pacers) {
      const pause = pacer(view);
      if (pause) this.pauseUntil(pause);
    }
  }

  /** No request of this connection starts before `until` (a later pause already set stands). */
  private pauseUntil(pause: { until: number; reason: string }): void {
    if (pause.until <= this.pause.until) return;
    this.pause = pause;
    this.log.debug({ label: this.options.label, reason: pause.reason, pauseMs: pause.until - this.clock.now() }, 'pausing provider requests');
  }

  private reasonOf(body: unknown): string | undefined {
    for (const extract of this.options.reasonExtractors ?? defaultReasonExtractors) {
      const reason = extract(body);
      if (reason) return reason;
    }
    return undefined;
  }

  private notifyThrottle(event: ThrottleEvent): void {
    this.notify(() => this.options.hooks?.onThrottle?.(event));
  }

  /** Observability must never break a sync: a throwing hook is logged and ignored. */
  private notify(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.log.warn({ label: this.options.label, error: error instanceof Error ? error.message : String(error) }, 'provider http hook threw');
    }
  }
}
