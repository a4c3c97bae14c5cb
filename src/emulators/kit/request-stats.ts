/** API calls an emulator answered, by route, and the most in flight at once; plus the latency a test added. */
export class RequestStats {
  /** Delay added to every API call, so a test can catch a sync part-way through. */
  latencyMs = 0;
  /** Calls answered, by route (e.g. `GET /api/v1/users`). */
  requests: Record<string, number> = {};
  /** Most calls in flight at once since the last reset. */
  maxInFlight = 0;
  private inFlight = 0;

  /** Counts one call of `route` for as long as `work` runs, after the configured latency. */
  async observe<T>(route: string, work: () => T | Promise<T>): Promise<T> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.requests[route] = (this.requests[route] ?? 0) + 1;
    try {
      if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      return await work();
    } finally {
      this.inFlight -= 1;
    }
  }

  reset(): void {
    this.latencyMs = 0;
    this.requests = {};
    this.maxInFlight = 0;
  }
}
