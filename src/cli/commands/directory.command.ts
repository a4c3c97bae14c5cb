import type { Command } from 'commander';
import { ApiClient } from '../api-client.ts';
import type { CliContext } from '../context.ts';
import { renderTable } from '../table.ts';

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got '${value}'`);
  return n;
};

/** `roster users ls` and `roster conflicts ls`: read the directory of a running Roster through its API. */
export function registerDirectoryCommands(program: Command, context: CliContext): void {
  const users = program.command('users').description('Canonical users');
  users
    .command('ls')
    .description('List users (ROSTER_URL and ROSTER_API_KEY select the server and key)')
    .option('--org <id>', 'only this organization')
    .option('--state <state>', 'active, suspended, inactive or pending')
    .option('--email <address>', 'any address of the person')
    .option('--group <id>', 'only members of this group')
    .option('--limit <n>', 'at most this many users', positiveInt, 100)
    .option('--json', 'one JSON object per line')
    .action(async (options) => {
      const client = ApiClient.fromEnv(context.env);
      const rows: any[] = [];
      for await (const user of client.list<any>('/v1/users', {
        organization_id: options.org,
        state: options.state,
        email: options.email,
        group: options.group,
        limit: Math.min(options.limit, 1000),
      })) {
        rows.push(user);
        if (rows.length >= options.limit) break;
      }
      if (options.json) return rows.forEach((u) => context.stdout(JSON.stringify(u)));
      context.stdout(
        renderTable(
          ['ID', 'STATE', 'EMAIL', 'NAME', 'DEPARTMENT', 'REASON'],
          rows.map((u) => [u.id, u.state, u.email, [u.first_name, u.last_name].filter(Boolean).join(' ') || u.display_name, u.department, u.state_reason]),
        ),
      );
      context.stdout(`${rows.length} user${rows.length === 1 ? '' : 's'}`);
    });

  const conflicts = program.command('conflicts').description('Disagreements between sources and ambiguous identities');
  conflicts
    .command('ls')
    .description('List conflicts, open ones by default')
    .option('--org <id>', 'only this organization')
    .option('--status <status>', 'open or resolved', 'open')
    .option('--limit <n>', 'at most this many', positiveInt, 100)
    .option('--json', 'one JSON object per line')
    .action(async (options) => {
      const client = ApiClient.fromEnv(context.env);
      const rows: any[] = [];
      for await (const c of client.list<any>('/v1/conflicts', { organization_id: options.org, status: options.status, limit: Math.min(options.limit, 1000) })) {
        rows.push(c);
        if (rows.length >= options.limit) break;
      }
      if (options.json) return rows.forEach((c) => context.stdout(JSON.stringify(c)));
      context.stdout(
        renderTable(
          ['ID', 'KIND', 'SUBJECT', 'ATTRIBUTE', 'VALUES', 'STATUS'],
          rows.map((c) => [c.id, c.kind, c.subject_id, c.attribute, describeConflict(c), c.resolution ?? c.status]),
        ),
      );
      context.stdout(`${rows.length} conflict${rows.length === 1 ? '' : 's'}`);
    });
}

function describeConflict(conflict: any): string {
  if (conflict.kind === 'identity_ambiguous') return `candidates: ${conflict.details.candidates.join(', ')}`;
  return conflict.details.values.map((v: any) => `${v.connection_id}=${JSON.stringify(v.value)}`).join('  ');
}
