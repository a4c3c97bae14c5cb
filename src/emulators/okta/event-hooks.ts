import { randomBytes, randomUUID } from 'node:crypto';
import { DeliveryQueue, type DeliverySwitches } from '../kit/delivery-queue.ts';
import { OKTA_ERRORS } from './http-kit.ts';
import type { OktaIds } from './okta-ids.ts';
import type { LogEvent, SystemLog } from './system-log.ts';

/**
 * Event hooks: an HTTP channel Okta POSTs System Log events to. A hook is created UNVERIFIED; verifying it
 * makes Okta GET its URI with `x-okta-verification-challenge` and expect `{"verification": <that value>}` back
 * within 3 s. Deliveries batch the events of a moment, carry the configured Authorization header (no
 * signature), are at-least-once (one retry on a 5xx or a timeout) and may be duplicated or reordered.
 */

export interface EventHookChannel {
  type: 'HTTP';
  version: '1.0.0';
  config: {
    uri: string;
    headers: Array<{ key: string; value: string }>;
    authScheme: { type: 'HEADER'; key: string; value?: string } | null;
  };
}

export interface EventHook {
  id: string;
  status: 'ACTIVE' | 'INACTIVE';
  verificationStatus: 'UNVERIFIED' | 'VERIFIED';
  name: string;
  description: string | null;
  events: { type: 'EVENT_TYPE'; items: string[]; filter: null };
  channel: EventHookChannel;
  created: string;
  createdBy: string;
  lastUpdated: string;
}

export interface HookDelivery {
  hookId: string;
  uri: string;
  headers: Record<string, string>;
  body: string;
  eventUuids: string[];
}

export interface DeliveryRecord {
  delivery: HookDelivery;
  attempt: number;
  status: number | 'timeout' | 'network_error';
}

export type { DeliverySwitches } from '../kit/delivery-queue.ts';

export interface EventHookOptions {
  ids: OktaIds;
  log: SystemLog;
  now: () => number;
  /** The org's URL, which deliveries name as their `source`. */
  baseUrl: () => string;
  /** Okta accepts only https URIs; local runs (tests, the CLI) may allow http. */
  requireHttps: boolean;
  /** Whether the verification GET carries the hook's Authorization header too. [unverified] */
  verificationSendsAuth: boolean;
  /** Okta's limit on how long the verification and each delivery may take. */
  timeoutMs: number;
  /** Replaces the HTTP call (tests without a receiver). */
  send?: (request: { method: 'GET' | 'POST'; uri: string; headers: Record<string, string>; body?: string }, timeoutMs: number) => Promise<{ status: number; text: string }>;
}

const MAX_ACTIVE_HOOKS = 25;

async function httpSend(request: { method: 'GET' | 'POST'; uri: string; headers: Record<string, string>; body?: string }, timeoutMs: number): Promise<{ status: number; text: string }> {
  const response = await fetch(request.uri, { method: request.method, headers: request.headers, ...(request.body === undefined ? {} : { body: request.body }), signal: AbortSignal.timeout(timeoutMs) });
  return { status: response.status, text: await response.text() };
}

export class EventHooks {
  private readonly hooks = new Map<string, EventHook>();
  /** Events published in this moment, sent together as one delivery per hook. */
  private batch: LogEvent[] = [];
  private readonly deliveries = new DeliveryQueue<HookDelivery>((delivery) => this.deliver(delivery), 0x9e3779b9);
  readonly attempts: DeliveryRecord[] = [];
  readonly verifications: Array<{ hookId: string; uri: string; ok: boolean; detail: string }> = [];
  private readonly unsubscribe: () => void;

  constructor(private readonly options: EventHookOptions) {
    this.unsubscribe = options.log.onEvent((event) => this.onEvent(event));
  }

  close(): void {
    this.unsubscribe();
  }

  setSwitches(switches: DeliverySwitches): void {
    this.deliveries.setSwitches(switches);
  }

  list(): EventHook[] {
    return [...this.hooks.values()].map(render);
  }

  get(id: string): EventHook {
    const hook = this.hooks.get(id);
    if (!hook) throw OKTA_ERRORS.notFound(id, 'EventHook');
    return render(hook);
  }

  create(body: Record<string, unknown>): EventHook {
    const name = typeof body.name === 'string' ? body.name.trim() : '';
    const events = body.events as { type?: unknown; items?: unknown } | undefined;
    const channel = body.channel as { type?: unknown; version?: unknown; config?: { uri?: unknown; headers?: unknown; authScheme?: unknown } } | undefined;
    const causes: string[] = [];
    if (!name) causes.push('name: The field cannot be left blank');
    if (events?.type !== 'EVENT_TYPE' || !Array.isArray(events.items) || events.items.length === 0 || !events.items.every((item) => typeof item === 'string' && /^[a-z][a-z0-9_.]*$/.test(item))) {
      causes.push('events: must be {type: "EVENT_TYPE", items: [event types]}');
    }
    const uri = typeof channel?.config?.uri === 'string' ? channel.config.uri : '';
    if (channel?.type !== 'HTTP' || channel.version !== '1.0.0') causes.push('channel: type must be HTTP and version 1.0.0');
    if (!/^https?:\/\/\S+$/.test(uri) || (this.options.requireHttps && !uri.startsWith('https://'))) causes.push('channel.config.uri: must be a valid https URL');
    const headers = Array.isArray(channel?.config?.headers) ? (channel.config.headers as Array<{ key?: unknown; value?: unknown }>) : [];
    if (!headers.every((h) => typeof h.key === 'string' && typeof h.value === 'string')) causes.push('channel.config.headers: each needs a key and a value');
    const auth = channel?.config?.authScheme as { type?: unknown; key?: unknown; value?: unknown } | null | undefined;
    if (auth && (auth.type !== 'HEADER' || typeof auth.key !== 'string' || typeof auth.value !== 'string')) causes.push('channel.config.authScheme: must be {type: "HEADER", key, value}');
    if (causes.length > 0) throw OKTA_ERRORS.validation('eventHook', causes);
    if ([...this.hooks.values()].filter((hook) => hook.status === 'ACTIVE').length >= MAX_ACTIVE_HOOKS) {
      throw OKTA_ERRORS.validation('eventHook', [`You have reached the maximum of ${MAX_ACTIVE_HOOKS} active event hooks`]);
    }
    const now = new Date(this.options.now()).toISOString();
    const hook: EventHook = {
      id: this.options.ids.issue('who'),
      status: 'ACTIVE',
      verificationStatus: 'UNVERIFIED',
      name,
      description: typeof body.description === 'string' ? body.description : null,
      events: { type: 'EVENT_TYPE', items: [...(events!.items as string[])], filter: null },
      channel: {
        type: 'HTTP',
        version: '1.0.0',
        config: {
          uri,
          headers: headers.map((h) => ({ key: h.key as string, value: h.value as string })),
          authScheme: auth ? { type: 'HEADER', key: auth.key as string, value: auth.value as string } : null,
        },
      },
      created: now,
      createdBy: 'emulator-admin',
      lastUpdated: now,
    };
    this.hooks.set(hook.id, hook);
    return render(hook);
  }

  /** The one-time verification: a GET the receiver must answer with the challenge, in time. */
  async verify(id: string): Promise<EventHook> {
    const hook = this.hooks.get(id);
    if (!hook) throw OKTA_ERRORS.notFound(id, 'EventHook');
    if (hook.status !== 'ACTIVE') throw OKTA_ERRORS.validation('verifyEventHook', ['Only an ACTIVE event hook can be verified']);
    const challenge = randomBytes(24).toString('base64url');
    const headers: Record<string, string> = { 'x-okta-verification-challenge': challenge, ...this.customHeaders(hook) };
    if (this.options.verificationSendsAuth) Object.assign(headers, this.authHeader(hook));
    let detail: string;
    try {
      const answer = await (this.options.send ?? httpSend)({ method: 'GET', uri: hook.channel.config.uri, headers }, this.options.timeoutMs);
      let echoed: unknown;
      try {
        echoed = (JSON.parse(answer.text) as { verification?: unknown }).verification;
      } catch {
        echoed = undefined;
      }
      detail = answer.status !== 200 ? `the endpoint answered ${answer.status}` : echoed === challenge ? 'verified' : 'the endpoint did not echo the challenge';
    } catch (error) {
      detail = (error as Error).name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs} ms` : 'the endpoint could not be reached';
    }
    const ok = detail === 'verified';
    this.verifications.push({ hookId: id, uri: hook.channel.config.uri, ok, detail });
    if (!ok) throw OKTA_ERRORS.validation('verifyEventHook', [`Verification failed: ${detail}`]);
    hook.verificationStatus = 'VERIFIED';
    hook.lastUpdated = new Date(this.options.now()).toISOString();
    return render(hook);
  }

  setStatus(id: string, status: 'ACTIVE' | 'INACTIVE'): EventHook {
    const hook = this.hooks.get(id);
    if (!hook) throw OKTA_ERRORS.notFound(id, 'EventHook');
    hook.status = status;
    hook.lastUpdated = new Date(this.options.now()).toISOString();
    return render(hook);
  }

  /** [unverified] Okta deletes only deactivated hooks; a client deactivates first. */
  delete(id: string): void {
    const hook = this.hooks.get(id);
    if (!hook) throw OKTA_ERRORS.notFound(id, 'EventHook');
    if (hook.status === 'ACTIVE') throw OKTA_ERRORS.validation('deleteEventHook', ['An ACTIVE event hook cannot be deleted; deactivate it first']);
    this.hooks.delete(id);
  }

  /** Resolves once every queued delivery (and its retry) has been attempted. */
  async idle(): Promise<void> {
    // Events of this moment are flushed on the next turn; let that happen first.
    await new Promise((resolve) => setImmediate(resolve));
    await this.deliveries.idle();
  }

  private customHeaders(hook: EventHook): Record<string, string> {
    return Object.fromEntries(hook.channel.config.headers.map((h) => [h.key, h.value]));
  }

  private authHeader(hook: EventHook): Record<string, string> {
    const auth = hook.channel.config.authScheme;
    return auth?.value === undefined ? {} : { [auth.key]: auth.value };
  }

  private onEvent(event: LogEvent): void {
    if (this.batch.length === 0) setImmediate(() => this.flush());
    this.batch.push(event);
  }

  private flush(): void {
    const events = this.batch;
    this.batch = [];
    for (const hook of this.hooks.values()) {
      if (hook.status !== 'ACTIVE' || hook.verificationStatus !== 'VERIFIED') continue;
      const wanted = events.filter((event) => hook.events.items.includes(event.eventType));
      if (wanted.length === 0) continue;
      const eventTime = new Date(this.options.now()).toISOString();
      const body = {
        eventType: 'com.okta.event_hook',
        eventTypeVersion: '1.0',
        cloudEventsVersion: '0.1',
        source: `${this.options.baseUrl()}/api/v1/eventHooks/${hook.id}`,
        eventId: randomUUID(),
        eventTime,
        contentType: 'application/json',
        data: { events: wanted },
      };
      const headers = { 'content-type': 'application/json', accept: 'application/json', ...this.customHeaders(hook), ...this.authHeader(hook) };
      this.deliveries.enqueue({ hookId: hook.id, uri: hook.channel.config.uri, headers, body: JSON.stringify(body), eventUuids: wanted.map((event) => event.uuid) });
    }
  }

  private async deliver(delivery: HookDelivery): Promise<void> {
    for (let attempt = 1; attempt <= 2; attempt += 1) {
      let status: DeliveryRecord['status'];
      try {
        status = (await (this.options.send ?? httpSend)({ method: 'POST', uri: delivery.uri, headers: delivery.headers, body: delivery.body }, this.options.timeoutMs)).status;
      } catch (error) {
        status = (error as Error).name === 'TimeoutError' ? 'timeout' : 'network_error';
      }
      this.attempts.push({ delivery, attempt, status });
      // One retry, on a server error or no timely answer; a 4xx is the receiver refusing, not failing.
      if (typeof status === 'number' && status < 500) return;
    }
  }
}

/** The hook as the API answers it: the secret of its auth scheme is never read back. */
function render(hook: EventHook): EventHook {
  const copy = structuredClone(hook);
  if (copy.channel.config.authScheme) delete copy.channel.config.authScheme.value;
  return copy;
}
