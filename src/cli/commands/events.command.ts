import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient } from '../api-client.ts';
import type { CliContext } from '../context.ts';

interface EventPage {
  data: any[];
  next_cursor: string;
}

/** `roster events tail`: follows the event log live, like `tail -f`. */
export function registerEventsCommands(program: Command, context: CliContext): void {
  const { signal } = context;
  const events = program.command('events').description('The ordered event log');
  events
    .command('tail')
    .description('Follow events as they are written (Ctrl-C to stop)')
    .option('--org <id>', 'only this organization')
    .option('--types <types>', 'comma-separated event types, e.g. user.created,user.deactivated')
    .option('--from-start', 'print the whole log first instead of starting at its end')
    .option('--interval <ms>', 'poll interval in milliseconds', (v) => Math.max(50, Number(v) || 1000), 1000)
    .option('--json', 'one JSON event per line')
    .action(async (options) => {
      const client = ApiClient.fromEnv(context.env);
      let after: string | undefined = options.fromStart
        ? undefined
        : (await client.get<{ cursor: string }>('/v1/events/head', { organization_id: options.org })).cursor;
      while (!signal?.aborted) {
        const page = await client
          .get<EventPage>('/v1/events', { organization_id: options.org, types: options.types, after, limit: 500 }, signal)
          .catch((error) => {
            if (signal?.aborted) return null; // stopped mid-request: a normal end
            throw error;
          });
        if (!page) break;
        for (const event of page.data) context.stdout(options.json ? JSON.stringify(event) : describeEvent(event));
        after = page.next_cursor;
        if (page.data.length < 500) await sleep(options.interval, undefined, { signal }).catch(() => undefined);
      }
    });
}

function describeEvent(event: any): string {
  const subject = event.data.email ?? event.data.name ?? event.data.user_id ?? event.data.id ?? '';
  const changed = event.changes ? ` ${Object.keys(event.changes).join(',')}` : '';
  return `${event.occurred_at}  ${event.organization_id}#${event.sequence}  ${event.type}  ${subject}${changed}`;
}
