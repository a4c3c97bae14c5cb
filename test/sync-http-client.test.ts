/**
 * ProviderHttpClient against real local HTTP servers: pacing, concurrency cap, Retry-After, provider
 * throttle signals (Google 403, Okta headers and E0000047, plain 429), error retries with full jitter,
 * timeouts and deadlines. Long waits run on a manual clock whose sleep advances time instantly.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import type { Clock } from '../src/sync/http/clock.ts';
import { ProviderHttpError } from '../src/sync/http/errors.ts';
import { ProviderHttpClient, type RetryEvent, type ThrottleEvent } from '../src/sync/http/provider-http-client.ts';
import { googleWorkspaceType } from '../src/connectors/google/google.connection.ts';
import { microsoftGraphType } from '../src/connectors/microsoft-graph/graph.connection.ts';
import { oktaType } from '../src/connectors/okta/okta.connection.ts';
import { OKTA_MIN_RESET_WAIT_MS, throttleProfileFor } from '../src/sync/http/throttle-classifiers.ts';
import { loadProviderDefinition } from '../src/connectors/definition/load-provider-definition.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => void | Promise<void>;

interface TestServer {
  url: string;
  hits: number;
  close(): Promise<void>;
}

const servers: TestServer[] = [];
after(async () => {
  for (const server of servers) await server.close();
});

async function startServer(handler: Handler): Promise<TestServer> {
  const state = { hits: 0 };
  const server = createServer((req, res) => {
    state.hits += 1;
    req.resume();
    void Promise.resolve(handler(req, res, state.hits)).catch((error: unknown) => {
      res.statusCode = 599;
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const handle: TestServer = {
    url: `http://127.0.0.1:${port}`,
    get hits() {
      return state.hits;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(handle);
  return handle;
}

/** Virtual time: sleeping advances `now` at once; every sleep is recorded. Starts on a whole second. */
class ManualClock implements Clock {
  time = Date.UTC(2026, 0, 5, 9, 0, 0);
  readonly sleeps: number[] = [];
  now(): number {
    return this.time;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.time += Math.max(0, ms);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const ok = (res: ServerResponse) => json(res, 200, { ok: true });
const sequence = (...values: number[]) => {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)] ?? 0;
};
const recorder = () => {
  const retries: RetryEvent[] = [];
  const throttles: ThrottleEvent[] = [];
  return { retries, throttles, hooks: { onRetry: (e: RetryEvent) => retries.push(e), onThrottle: (e: ThrottleEvent) => throttles.push(e) } };
};

test('pacing spreads requests at the configured rate, measured at the server', async () => {
  const arrivals: number[] = [];
  const server = await startServer((_req, res) => {
    arrivals.push(performance.now());
    ok(res);
  });
  const client = new ProviderHttpClient({ pacing: { requestsPerSecond: 20 }, maxConcurrent: 10 });
  const started = performance.now();
  await Promise.all(Array.from({ length: 8 }, () => client.request({ url: server.url })));
  assert.equal(arrivals.length, 8);
  // 20/s with burst 1: the k-th request may not leave before k·50 ms (connection set-up only delays).
  arrivals.forEach((at, k) => assert.ok(at - started >= k * 50 - 5, `request ${k} arrived at ${(at - started).toFixed(1)} ms, before ${k * 50} ms`));
  assert.ok((arrivals.at(-1) ?? 0) - started < 1000, 'pacing should not be much slower than the rate either');
});

test('per-minute pacing waits 60000/rate between requests on the clock', async () => {
  const server = await startServer((_req, res) => ok(res));
  const clock = new ManualClock();
  const client = new ProviderHttpClient({ pacing: { requestsPerMinute: 120, burst: 2 }, clock });
  for (let i = 0; i < 5; i++) await client.request({ url: server.url });
  // Two free (burst), then one every 500 ms.
  assert.deepEqual(clock.sleeps, [500, 500, 500]);
});

test('the concurrency cap is never exceeded and is used in full', async () => {
  let current = 0;
  let peak = 0;
  const server = await startServer(async (_req, res) => {
    current += 1;
    peak = Math.max(peak, current);
    await new Promise((resolve) => setTimeout(resolve, 25));
    current -= 1;
    ok(res);
  });
  const client = new ProviderHttpClient({ maxConcurrent: 3 });
  await Promise.all(Array.from({ length: 20 }, () => client.request({ url: server.url })));
  assert.equal(server.hits, 20);
  assert.equal(peak, 3);
  assert.equal(client.inFlight, 0);
});

test('Retry-After in seconds takes precedence over backoff', async () => {
  const server = await startServer((_req, res, hit) => (hit === 1 ? json(res, 429, {}, { 'retry-after': '7' }) : ok(res)));
  const clock = new ManualClock();
  const seen = recorder();
  const client = new ProviderHttpClient({ clock, random: () => 0.99, hooks: seen.hooks });
  const response = await client.request({ url: `${server.url}/users` });
  assert.equal(response.status, 200);
  assert.deepEqual(clock.sleeps, [7000]);
  assert.deepEqual(seen.throttles, [{ source: 'response', reason: 'http_429', delayMs: 7000, status: 429 }]);
  assert.equal(seen.retries[0]?.kind, 'throttle');
});

test('Retry-After as an HTTP-date is honoured', async () => {
  const clock = new ManualClock();
  const server = await startServer((_req, res, hit) =>
    hit === 1 ? json(res, 503, {}, { 'retry-after': new Date(clock.now() + 12_000).toUTCString() }) : ok(res),
  );
  const client = new ProviderHttpClient({ clock, random: () => 0.5 });
  await client.request({ url: server.url });
  assert.deepEqual(clock.sleeps, [12_000]);
});

test('Google 403 userRateLimitExceeded is retried as a throttle; 403 forbidden fails at once', async () => {
  const googleError = (reason: string) => ({ error: { code: 403, message: 'x', errors: [{ domain: 'global', reason, message: 'x' }] } });
  const throttled = await startServer((_req, res, hit) => (hit <= 2 ? json(res, 403, googleError('userRateLimitExceeded')) : ok(res)));
  const clock = new ManualClock();
  const seen = recorder();
  const client = new ProviderHttpClient({ throttle: googleWorkspaceType.throttle, clock, random: () => 0.5, hooks: seen.hooks, throttleBackoff: { baseMs: 1000, capMs: 60_000 } });
  const response = await client.request({ url: throttled.url });
  assert.equal(response.status, 200);
  assert.equal(throttled.hits, 3);
  assert.deepEqual(seen.throttles.map((t) => [t.reason, t.delayMs]), [['google_userRateLimitExceeded', 500], ['google_userRateLimitExceeded', 1000]]);

  const forbidden = await startServer((_req, res) => json(res, 403, googleError('forbidden')));
  const error = await client.request({ url: `${forbidden.url}/admin/directory/v1/users?customer=my_customer` }).catch((e: unknown) => e);
  assert.ok(error instanceof ProviderHttpError);
  assert.equal(error.status, 403);
  assert.equal(error.providerReason, 'forbidden');
  assert.equal(error.retryable, false);
  assert.equal(forbidden.hits, 1);
  assert.ok(!error.message.includes('my_customer'), 'query strings stay out of messages');
});

test('Okta: requests pause until X-Rate-Limit-Reset when Remaining runs low, before any 429', async () => {
  const clock = new ManualClock();
  const limit = 10;
  let windowEnd = clock.now() + 60_000;
  let used = 0;
  let rejected = 0;
  const server = await startServer((_req, res) => {
    if (clock.now() >= windowEnd) {
      windowEnd = clock.now() + 60_000;
      used = 0;
    }
    const headers = { 'x-rate-limit-limit': String(limit), 'x-rate-limit-reset': String(Math.floor(windowEnd / 1000)) };
    if (used >= limit) {
      rejected += 1;
      return json(res, 429, { errorCode: 'E0000047', errorSummary: 'API call exceeded rate limit due to too many requests.' }, { ...headers, 'x-rate-limit-remaining': '0' });
    }
    used += 1;
    json(res, 200, [], { ...headers, 'x-rate-limit-remaining': String(limit - used) });
  });
  const seen = recorder();
  const client = new ProviderHttpClient({ throttle: oktaType.throttle, clock, hooks: seen.hooks });
  for (let i = 0; i < 25; i++) await client.request({ url: `${server.url}/api/v1/users` });
  assert.equal(rejected, 0, 'no request may draw a 429');
  assert.equal(server.hits, 25);
  const pauses = seen.throttles.filter((t) => t.source === 'pacing');
  assert.equal(pauses.length, 2);
  assert.ok(pauses.every((p) => p.reason === 'okta_rate_limit_remaining_low' && p.delayMs > 0 && p.delayMs <= 60_000));
});

test("a definition's own rate-limit headers and throttle statuses drive pacing and retries, with no provider code", async () => {
  // A provider publishing its bucket IETF-draft style: remaining calls and seconds until the window resets.
  const definition = loadProviderDefinition({
    id: 'acme-hr',
    displayName: 'Acme HR',
    baseUrl: 'https://api.acme.example',
    auth: [{ type: 'api_key_header', headerName: 'x-api-key' }],
    rateLimit: { limitHeader: 'ratelimit-limit', remainingHeader: 'ratelimit-remaining', resetHeader: 'ratelimit-reset', resetUnit: 'seconds_from_now', retryAfterHeader: 'x-retry-in', throttleStatuses: [429, 420] },
    resources: { users: { path: '/people', itemsPath: 'people', pagination: { style: 'none' } } },
    mappings: { user: '{ "id": id, "attributes": { "email": email } }' },
  });
  const profile = throttleProfileFor(definition.id, definition.rateLimit);
  const clock = new ManualClock();
  const limit = 5;
  let windowEnd = clock.now() + 30_000;
  let used = 0;
  let rejected = 0;
  const server = await startServer((req, res) => {
    if (req.url === '/calm') return json(res, 420, {}, { 'x-retry-in': '7' });
    if (clock.now() >= windowEnd) {
      windowEnd = clock.now() + 30_000;
      used = 0;
    }
    const headers = { 'ratelimit-limit': String(limit), 'ratelimit-reset': String(Math.ceil((windowEnd - clock.now()) / 1000)) };
    if (used >= limit) {
      rejected += 1;
      return json(res, 429, {}, { ...headers, 'ratelimit-remaining': '0' });
    }
    used += 1;
    json(res, 200, { people: [] }, { ...headers, 'ratelimit-remaining': String(limit - used) });
  });
  const seen = recorder();
  const client = new ProviderHttpClient({ throttle: profile, clock, hooks: seen.hooks });
  for (let i = 0; i < 12; i++) await client.request({ url: `${server.url}/people` });
  assert.equal(rejected, 0, 'paced on the declared headers, no request draws a 429');
  const pauses = seen.throttles.filter((t) => t.source === 'pacing');
  assert.equal(pauses.length, 2);
  assert.ok(pauses.every((p) => p.reason === 'acme-hr_rate_limit_remaining_low' && p.delayMs > 0 && p.delayMs <= 30_000), JSON.stringify(pauses));

  // 420 is declared as throttling; its wait comes from the declared header, not Retry-After.
  let calmHits = 0;
  const calm = await startServer((_req, res) => (++calmHits === 1 ? json(res, 420, {}, { 'x-retry-in': '7' }) : ok(res)));
  const before = seen.throttles.length;
  const response = await client.request({ url: calm.url });
  assert.equal(response.status, 200);
  assert.deepEqual(seen.throttles.slice(before).filter((t) => t.source === 'response').map((t) => [t.reason, t.delayMs]), [['http_420', 7_000]]);

  // Without the declaration a 420 is an error like any other 4xx.
  const strict = await new ProviderHttpClient({ clock }).request({ url: `${server.url}/calm` }).catch((e: unknown) => e);
  assert.ok(strict instanceof ProviderHttpError);
  assert.equal(strict.status, 420);
  assert.equal(strict.retryable, false);
});

test('Okta 429 E0000047 waits until the reset time, then succeeds', async () => {
  const clock = new ManualClock();
  const server = await startServer((_req, res, hit) =>
    hit === 1
      ? json(res, 429, { errorCode: 'E0000047', errorSummary: 'API call exceeded rate limit due to too many requests.' }, { 'x-rate-limit-reset': String(clock.now() / 1000 + 20), 'x-rate-limit-remaining': '0' })
      : ok(res),
  );
  const seen = recorder();
  const client = new ProviderHttpClient({ throttle: oktaType.throttle, clock, random: () => 0.99, hooks: seen.hooks });
  await client.request({ url: server.url });
  assert.deepEqual(seen.throttles.filter((t) => t.source === 'response').map((t) => [t.reason, t.delayMs]), [['okta_E0000047', 20_000]]);
  assert.ok(clock.now() - Date.UTC(2026, 0, 5, 9, 0, 0) >= 20_000);
});

test("a 429 with Retry-After pauses the connection's other requests too: they draw on the same bucket", async () => {
  // Real time: the pause must hold a request that was ready while the throttled one slept.
  const hits: Array<{ path: string; at: number }> = [];
  const server = await startServer((req, res, hit) => {
    hits.push({ path: req.url ?? '', at: performance.now() });
    if (hit === 1) return json(res, 429, { error: { code: 'TooManyRequests' } }, { 'retry-after': '1' });
    ok(res);
  });
  const seen = recorder();
  const client = new ProviderHttpClient({ maxConcurrent: 1, hooks: seen.hooks });
  await Promise.all([client.request({ url: `${server.url}/first` }), client.request({ url: `${server.url}/second` })]);
  const throttledAt = hits[0]!.at;
  const second = hits.find((h) => h.path === '/second')!;
  assert.ok(second.at - throttledAt >= 900, `the second request waited out the first one's Retry-After (it started ${Math.round(second.at - throttledAt)} ms after the 429)`);
  assert.deepEqual(seen.throttles.map((t) => [t.source, t.reason]), [['response', 'http_429'], ['pacing', 'http_429']]);
});

test('Okta 429 E0000047 whose reset looks past on this clock (the clocks disagree) still waits, not zero', async () => {
  const clock = new ManualClock();
  const server = await startServer((_req, res, hit) =>
    hit === 1
      ? json(res, 429, { errorCode: 'E0000047', errorSummary: 'API call exceeded rate limit due to too many requests.' }, { 'x-rate-limit-reset': String(Math.floor(clock.now() / 1000) - 30), 'x-rate-limit-remaining': '0' })
      : ok(res),
  );
  const seen = recorder();
  const client = new ProviderHttpClient({ throttle: oktaType.throttle, clock, random: () => 0.99, hooks: seen.hooks });
  await client.request({ url: server.url });
  assert.deepEqual(seen.throttles.filter((t) => t.source === 'response').map((t) => [t.reason, t.delayMs]), [['okta_E0000047', OKTA_MIN_RESET_WAIT_MS]]);
});

test('a run throttled for a long time slows down but succeeds before its deadline; errors keep a small budget', async () => {
  const clock = new ManualClock();
  const server = await startServer((_req, res, hit) => (hit <= 40 ? json(res, 429, { error: { code: 'TooManyRequests' } }) : ok(res)));
  const seen = recorder();
  const client = new ProviderHttpClient({
    throttle: microsoftGraphType.throttle,
    clock,
    random: () => 0.5,
    maxErrorAttempts: 2,
    deadlineMs: 60 * 60_000,
    hooks: seen.hooks,
  });
  const started = clock.now();
  const response = await client.request({ url: server.url });
  assert.equal(response.status, 200);
  assert.equal(seen.throttles.length, 40);
  assert.ok(seen.throttles.every((t) => t.reason === 'graph_throttled' && t.status === 429));
  assert.ok(clock.now() - started > 10 * 60_000, 'it really was throttled for a long time');
  assert.ok(clock.now() - started < 60 * 60_000);

  // The same throttling against a short deadline ends with a retryable deadline error, not a hang.
  const short = await startServer((_req, res) => json(res, 429, {}, { 'retry-after': '30' }));
  const error = await new ProviderHttpClient({ clock, deadlineMs: 100_000 }).request({ url: short.url }).catch((e: unknown) => e);
  assert.ok(error instanceof ProviderHttpError);
  assert.equal(error.code, 'deadline_exceeded');
  assert.equal(error.retryable, true);
  assert.equal(error.status, 429);
  assert.equal(short.hits, 4);
});

test('5xx are retried with growing full-jitter delays within bounds, then fail retryable', async () => {
  const server = await startServer((_req, res, hit) => (hit <= 4 ? json(res, 500, {}) : ok(res)));
  const seen = recorder();
  const clock = new ManualClock();
  const randoms = [0.9, 0.9, 0.9, 0.9];
  const client = new ProviderHttpClient({ clock, random: sequence(...randoms), maxErrorAttempts: 5, errorBackoff: { baseMs: 100, capMs: 500 }, hooks: seen.hooks });
  await client.request({ url: server.url });
  const delays = seen.retries.map((r) => r.delayMs);
  assert.deepEqual(delays, [90, 180, 360, 450]);
  assert.ok(seen.retries.every((r) => r.kind === 'error' && r.reason === 'http_500'));

  const jittered = recorder();
  const failing = await startServer((_req, res) => json(res, 502, {}));
  const error = await new ProviderHttpClient({ clock, maxErrorAttempts: 6, errorBackoff: { baseMs: 100, capMs: 1000 }, hooks: jittered.hooks })
    .request({ url: failing.url })
    .catch((e: unknown) => e);
  assert.ok(error instanceof ProviderHttpError);
  assert.equal(error.status, 502);
  assert.equal(error.retryable, true);
  assert.equal(error.attempts, 6);
  assert.equal(failing.hits, 6);
  jittered.retries.forEach((r, i) => {
    const ceiling = Math.min(1000, 100 * 2 ** i);
    assert.ok(r.delayMs >= 0 && r.delayMs <= ceiling, `retry ${i + 1}: ${r.delayMs} outside [0, ${ceiling}]`);
  });
});

test('a 4xx other than throttling fails at once', async () => {
  const server = await startServer((_req, res) => json(res, 404, { error: { code: 'Request_ResourceNotFound' } }));
  const error = await new ProviderHttpClient({ clock: new ManualClock() }).request({ url: server.url }).catch((e: unknown) => e);
  assert.ok(error instanceof ProviderHttpError);
  assert.equal(error.status, 404);
  assert.equal(error.providerReason, 'Request_ResourceNotFound');
  assert.equal(error.retryable, false);
  assert.equal(server.hits, 1);
  const gone = await startServer((_req, res) => json(res, 410, {}, { location: 'https://graph/users/delta' }));
  const response = await new ProviderHttpClient().request({ url: gone.url, acceptStatuses: [410] });
  assert.equal(response.headers.get('location'), 'https://graph/users/delta');
});

test('a hung attempt times out and is retried; always hanging ends in a timeout error', async () => {
  const hung = new Set<ServerResponse>();
  const server = await startServer((_req, res, hit) => {
    if (hit === 1) hung.add(res);
    else ok(res);
  });
  const seen = recorder();
  const client = new ProviderHttpClient({ clock: new ManualClock(), attemptTimeoutMs: 150, hooks: seen.hooks });
  const started = performance.now();
  const response = await client.request({ url: server.url });
  assert.equal(response.status, 200);
  assert.ok(performance.now() - started >= 140);
  assert.equal(seen.retries[0]?.reason, 'timeout');

  const never = await startServer(() => {});
  const error = await new ProviderHttpClient({ clock: new ManualClock(), attemptTimeoutMs: 100, maxErrorAttempts: 2 }).request({ url: never.url }).catch((e: unknown) => e);
  assert.ok(error instanceof ProviderHttpError);
  assert.equal(error.code, 'timeout');
  assert.equal(never.hits, 2);
});

test('network errors are retried within the error budget', async () => {
  const server = await startServer((_req, res) => ok(res));
  const url = server.url;
  await server.close();
  const seen = recorder();
  const error = await new ProviderHttpClient({ clock: new ManualClock(), maxErrorAttempts: 3, hooks: seen.hooks }).request({ url }).catch((e: unknown) => e);
  assert.ok(error instanceof ProviderHttpError);
  assert.equal(error.code, 'network');
  assert.equal(error.attempts, 3);
  assert.deepEqual(seen.retries.map((r) => r.reason), ['network_error', 'network_error']);
});

test('a throwing hook does not break the request', async () => {
  const server = await startServer((_req, res, hit) => (hit === 1 ? json(res, 429, {}, { 'retry-after': '1' }) : ok(res)));
  const warnings: string[] = [];
  const client = new ProviderHttpClient({
    clock: new ManualClock(),
    hooks: { onThrottle: () => { throw new Error('metrics down'); } },
    logger: { debug: () => {}, warn: (_obj, msg) => warnings.push(msg) },
  });
  assert.equal((await client.request({ url: server.url })).status, 200);
  assert.deepEqual(warnings, ['provider http hook threw']);
});

test('cancelling a call stops its retry wait at once and is not retried', async () => {
  const server = await startServer((_req, res) => json(res, 429, {}, { 'retry-after': '60' }));
  const controller = new AbortController();
  const client = new ProviderHttpClient({ hooks: { onThrottle: () => setTimeout(() => controller.abort(), 20) } });
  const started = performance.now();
  const error = await client.request({ url: server.url, signal: controller.signal }).catch((e: unknown) => e);
  assert.ok(error instanceof ProviderHttpError);
  assert.equal(error.code, 'aborted');
  assert.equal(error.retryable, false);
  assert.ok(performance.now() - started < 5000);
  assert.equal(server.hits, 1);
});
