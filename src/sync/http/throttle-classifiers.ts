import { parseRetryAfter } from './backoff.ts';

/** What classifiers and pacers see of a response: status, headers and the body parsed as JSON if it was. */
export interface ResponseView {
  status: number;
  headers: Headers;
  body: unknown;
  now: number;
}

export interface ThrottleVerdict {
  /** Stable label for hooks and metrics, e.g. `google_userRateLimitExceeded`. */
  reason: string;
  /** The provider's own "come back in" hint; takes precedence over backoff. */
  retryAfterMs?: number;
}

/** Says whether a failed response is the provider asking us to slow down. First match wins. */
export type ThrottleClassifier = (response: ResponseView) => ThrottleVerdict | undefined;

/** Looks at every response and may ask to hold ALL requests of the connection until an epoch-ms time. */
export type Pacer = (response: ResponseView) => { until: number; reason: string } | undefined;

/** Pulls a provider error reason (for errors and logs) out of a body. First non-empty answer wins. */
export type ReasonExtractor = (body: unknown) => string | undefined;

/** Per-provider throttle behaviour as data: the client core iterates these lists and never names a provider. */
export interface ThrottleProfile {
  classifiers: readonly ThrottleClassifier[];
  pacers: readonly Pacer[];
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const stringAt = (value: unknown, key: string): string | undefined => (isRecord(value) && typeof value[key] === 'string' ? value[key] : undefined);
const retryAfterOf = (response: ResponseView) => parseRetryAfter(response.headers.get('retry-after'), response.now);
const withRetryAfter = (reason: string, retryAfterMs: number | undefined): ThrottleVerdict =>
  retryAfterMs === undefined ? { reason } : { reason, retryAfterMs };

/** Google `{error:{errors:[{reason}]}}`. */
const googleReasons = (body: unknown): string[] => {
  const errors = isRecord(body) && isRecord(body.error) ? body.error.errors : undefined;
  return Array.isArray(errors) ? errors.map((entry) => stringAt(entry, 'reason')).filter((r): r is string => r !== undefined) : [];
};

export const GOOGLE_THROTTLE_REASONS: ReadonlySet<string> = new Set(['userRateLimitExceeded', 'rateLimitExceeded', 'quotaExceeded']);

/** Google throttles with 403 (sometimes 429) and says so only in `errors[].reason`; a plain 403 forbidden is real. */
export const googleThrottle: ThrottleClassifier = (response) => {
  if (response.status !== 403 && response.status !== 429) return undefined;
  const reason = googleReasons(response.body).find((r) => GOOGLE_THROTTLE_REASONS.has(r));
  return reason === undefined ? undefined : withRetryAfter(`google_${reason}`, retryAfterOf(response));
};

/**
 * The least an Okta 429 waits. Its reset is an epoch time on Okta's clock: one that looks past on this
 * clock (the clocks disagree) would send every retry straight into the spent bucket.
 */
export const OKTA_MIN_RESET_WAIT_MS = 1000;

/** Okta 429 `{errorCode:"E0000047"}`: wait until `X-Rate-Limit-Reset` (epoch seconds), else Retry-After. */
export const oktaThrottle: ThrottleClassifier = (response) => {
  if (response.status !== 429 || stringAt(response.body, 'errorCode') !== 'E0000047') return undefined;
  const reset = Number(response.headers.get('x-rate-limit-reset'));
  const untilReset = Number.isFinite(reset) && reset > 0 ? Math.max(OKTA_MIN_RESET_WAIT_MS, reset * 1000 - response.now) : undefined;
  return withRetryAfter('okta_E0000047', retryAfterOf(response) ?? untilReset);
};

/** Graph answers 429 (and 503 when a service is overloaded) with Retry-After in seconds. */
export const graphThrottle: ThrottleClassifier = (response) => {
  if (response.status !== 429 && !(response.status === 503 && response.headers.has('retry-after'))) return undefined;
  return withRetryAfter('graph_throttled', retryAfterOf(response));
};

/** A provider's published rate-limit signals, as its definition declares them (see `rateLimitSchema`). */
export interface RateLimitSignals {
  limitHeader?: string | undefined;
  remainingHeader?: string | undefined;
  resetHeader?: string | undefined;
  /** What the reset header counts: an epoch time in seconds (Okta), or seconds from now. */
  resetUnit?: 'epoch_seconds' | 'seconds_from_now' | undefined;
  retryAfterHeader?: string | undefined;
  throttleStatuses?: readonly number[] | undefined;
}

export interface RemainingHeaderPacerOptions {
  /** Prefix of the pause reason, e.g. `okta` for `okta_rate_limit_remaining_low`. */
  label: string;
  limitHeader?: string | undefined;
  remainingHeader: string;
  resetHeader: string;
  resetUnit?: 'epoch_seconds' | 'seconds_from_now' | undefined;
  /** Hold requests once Remaining ≤ max(reserveMin, reserveFraction·Limit). Other clients share the bucket. */
  reserveMin?: number;
  reserveFraction?: number;
  /** Guards against clock skew or a bogus header parking the connection for hours. */
  maxPauseMs?: number;
}

/**
 * For providers that publish their bucket on every response (Okta's X-Rate-Limit-*): pausing until the
 * reset time when Remaining runs low keeps us from ever spending the org's last calls and drawing a 429.
 */
export function remainingHeaderPacer(options: RemainingHeaderPacerOptions): Pacer {
  const reserveMin = options.reserveMin ?? 1;
  const reserveFraction = options.reserveFraction ?? 0.05;
  const maxPauseMs = options.maxPauseMs ?? 65_000;
  const reason = `${options.label}_rate_limit_remaining_low`;
  return (response) => {
    const remaining = Number(response.headers.get(options.remainingHeader) ?? Number.NaN);
    const reset = Number(response.headers.get(options.resetHeader) ?? Number.NaN);
    if (!Number.isFinite(remaining) || !Number.isFinite(reset)) return undefined;
    const limit = options.limitHeader === undefined ? Number.NaN : Number(response.headers.get(options.limitHeader) ?? Number.NaN);
    const reserve = Math.max(reserveMin, Number.isFinite(limit) ? Math.floor(limit * reserveFraction) : 0);
    if (remaining > reserve) return undefined;
    const resetAt = options.resetUnit === 'seconds_from_now' ? response.now + reset * 1000 : reset * 1000;
    const until = Math.min(resetAt, response.now + maxPauseMs);
    return until > response.now ? { until, reason } : undefined;
  };
}

/**
 * A status the definition lists as throttling is one when it is 429 or carries the Retry-After header;
 * a listed status without either (Google's plain 403) is left to the provider's own classifier, which
 * reads the body. A 503 with Retry-After is a server asking for time, whatever the provider.
 */
function listedStatusThrottle(signals: RateLimitSignals | undefined): ThrottleClassifier {
  const statuses = new Set(signals?.throttleStatuses ?? [429]);
  const header = signals?.retryAfterHeader ?? 'retry-after';
  return (response) => {
    const retryAfter = response.headers.get(header);
    const retryAfterMs = parseRetryAfter(retryAfter, response.now);
    if (statuses.has(response.status) && (response.status === 429 || retryAfter !== null)) return withRetryAfter(`http_${response.status}`, retryAfterMs);
    if (response.status === 503 && retryAfter !== null) return withRetryAfter('http_503_retry_after', retryAfterMs);
    return undefined;
  };
}

/**
 * The throttle behaviour of a provider: its protocol classifiers (signals only a body tells, first), then
 * what its definition declares: which statuses throttle, the Retry-After header, and a pacer on the
 * remaining/reset headers when it publishes them.
 */
export function throttleProfileFor(label: string, signals: RateLimitSignals | undefined, protocol: readonly ThrottleClassifier[] = []): ThrottleProfile {
  const pacers: Pacer[] = [];
  if (signals?.remainingHeader !== undefined && signals.resetHeader !== undefined) {
    pacers.push(
      remainingHeaderPacer({ label, limitHeader: signals.limitHeader, remainingHeader: signals.remainingHeader, resetHeader: signals.resetHeader, resetUnit: signals.resetUnit }),
    );
  }
  return { classifiers: [...protocol, listedStatusThrottle(signals)], pacers };
}

/** For a client with no provider definition behind it: 429, and 503 with Retry-After. */
export const genericThrottleProfile: ThrottleProfile = throttleProfileFor('http', undefined);

/** Google errors[].reason, OAuth `error`, Okta `errorCode`, Graph `error.code`. */
export const defaultReasonExtractors: readonly ReasonExtractor[] = [
  (body) => googleReasons(body)[0],
  (body) => stringAt(body, 'error'),
  (body) => stringAt(body, 'errorCode'),
  (body) => (isRecord(body) ? stringAt(body.error, 'code') : undefined),
];
