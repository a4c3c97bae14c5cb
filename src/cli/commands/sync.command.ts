import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient } from '../api-client.ts';
import { CommandExit, type CliContext } from '../context.ts';
import { runOutcome, runProgressView, type RunSnapshot } from '../run-progress.ts';

const POLL_MS = 300;

/** `roster sync <connection>`: sync a pull connection now and follow the run with a progress bar. */
export function registerSyncCommand(program: Command, context: CliContext): void {
  program
    .command('sync')
    .description('Sync a pull connection now and follow the run (exit 0 completed, 1 failed, 3 held by the deprovision guard)')
    .argument('<connection>', 'connection id')
    .option('--kind <kind>', 'full (default), profile or critical', 'full')
    .option('--no-wait', 'queue the run and return at once')
    .action(async (connectionId: string, options: { kind: string; wait: boolean }) => {
      const client = ApiClient.fromEnv(context.env);
      const { run, created } = await client.request<{ run: RunSnapshot; created: boolean }>('POST', `/v1/connections/${encodeURIComponent(connectionId)}/sync`, {
        body: { kind: options.kind },
      });
      context.stdout(created ? `queued ${run.id}` : `a run is already under way: following ${run.id}`);
      if (!options.wait) return;
      const finished = await followRun(client, run.id, context);
      const outcome = runOutcome(finished);
      context.stdout(outcome.line);
      if (outcome.exitCode !== 0) throw new CommandExit(outcome.exitCode);
    });
}

/** Polls a run until it ends, showing its progress; resolves to the ended run. */
export async function followRun(client: ApiClient, runId: string, context: CliContext): Promise<RunSnapshot> {
  const view = runProgressView(context.progressStream, context.stdout);
  try {
    for (;;) {
      const run = await client.get<RunSnapshot>(`/v1/sync-runs/${encodeURIComponent(runId)}`, {}, context.signal);
      view.update(run);
      if (run.status !== 'queued' && run.status !== 'running') return run;
      await sleep(POLL_MS, undefined, context.signal ? { signal: context.signal } : undefined);
    }
  } finally {
    view.stop();
  }
}
