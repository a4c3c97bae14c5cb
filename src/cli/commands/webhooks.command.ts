import type { Command } from 'commander';
import { ApiClient } from '../api-client.ts';
import type { CliContext } from '../context.ts';
import { renderTable } from '../table.ts';

/** `roster webhooks ls|test|redeliver`: webhook endpoints of a running Roster. */
export function registerWebhooksCommands(program: Command, context: CliContext): void {
  const webhooks = program.command('webhooks').description('Webhook endpoints and their deliveries');
  webhooks
    .command('ls')
    .description('List webhook endpoints')
    .option('--org <id>', 'only this organization’s')
    .option('--json', 'one JSON object per line')
    .action(async (options) => {
      const client = ApiClient.fromEnv(context.env);
      const rows: any[] = [];
      for await (const endpoint of client.list<any>('/v1/webhook-endpoints', { organization_id: options.org, limit: 1000 })) rows.push(endpoint);
      if (options.json) return rows.forEach((row) => context.stdout(JSON.stringify(row)));
      context.stdout(
        renderTable(
          ['ID', 'URL', 'ORGANIZATION', 'TYPES', 'ENABLED', 'BATCH'],
          rows.map((row) => [
            row.id,
            row.url,
            row.organization_id ?? '(all)',
            row.event_types.join(','),
            row.enabled ? 'yes' : `no${row.disabled_reason ? ` (${row.disabled_reason})` : ''}`,
            row.batch_size,
          ]),
        ),
      );
    });
  webhooks
    .command('test <endpoint-id>')
    .description('Send a signed test message to the endpoint and print how it answered')
    .action(async (endpointId: string) => {
      const client = ApiClient.fromEnv(context.env);
      const result = await client.post<any>(`/v1/webhook-endpoints/${encodeURIComponent(endpointId)}/test`);
      const status = result.status_code === null ? 'no response' : `HTTP ${result.status_code}`;
      const line = `${status} in ${result.latency_ms} ms (webhook-id ${result.webhook_id})${result.error ? `: ${result.error}` : ''}`;
      if (result.response_excerpt) context.stdout(result.response_excerpt);
      if (!result.ok) throw new Error(`test delivery failed: ${line}`);
      context.stdout(`ok: ${line}`);
    });
  webhooks
    .command('redeliver <endpoint-id>')
    .description('Send one event again (--event), or every matching event of a time range (--from, --to)')
    .option('--event <id>', 'the event to send again')
    .option('--from <iso>', 'start of the range (inclusive)')
    .option('--to <iso>', 'end of the range (exclusive)')
    .action(async (endpointId: string, options) => {
      const byEvent = options.event !== undefined;
      const byRange = options.from !== undefined || options.to !== undefined;
      if (byEvent === byRange || (byRange && (options.from === undefined || options.to === undefined))) {
        throw new Error('give either --event <id>, or both --from <iso> and --to <iso>');
      }
      const client = ApiClient.fromEnv(context.env);
      const body = byEvent ? { event_id: options.event } : { from: options.from, to: options.to };
      const result = await client.post<{ enqueued: number }>(`/v1/webhook-endpoints/${encodeURIComponent(endpointId)}/redeliver`, body);
      context.stdout(`${result.enqueued} ${result.enqueued === 1 ? 'delivery' : 'deliveries'} enqueued`);
    });
}
