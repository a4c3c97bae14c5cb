import cliProgress from 'cli-progress';

/** The parts of a sync run (as `/v1/sync-runs/{id}` answers it) that progress is drawn from. */
export interface RunSnapshot {
  id: string;
  status: string;
  error: string | null;
  progress: { phase: string; pages: number; records: number; rate: number; expected_records: number | null; eta_seconds: number | null } | null;
  counters: Record<string, number>;
  held?: Record<string, unknown> | null;
}

export interface RunProgressView {
  update(run: RunSnapshot): void;
  stop(): void;
}

/**
 * Shows a run's progress: a live bar on a terminal (against the previous run's record count when there is
 * one), one line per change otherwise (logs, CI, tests).
 */
export function runProgressView(stream: NodeJS.WriteStream | undefined, writeLine: (line: string) => void): RunProgressView {
  if (stream?.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream, format: ' {phase} |{bar}| {value}/{total} records · {pages} pages · {rate}/s · ETA {eta_formatted}', hideCursor: true, etaBuffer: 20 },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update: (run) => {
        const progress = run.progress;
        if (!progress) return;
        const total = Math.max(progress.expected_records ?? 0, progress.records, 1);
        const payload = { phase: progress.phase.padEnd(7), pages: progress.pages, rate: progress.rate };
        if (!started) bar.start(total, progress.records, payload);
        else bar.setTotal(total);
        started = true;
        bar.update(progress.records, payload);
      },
      stop: () => {
        if (started) bar.stop();
      },
    };
  }
  let last = '';
  return {
    update: (run) => {
      const line = describeProgress(run);
      if (line !== last) writeLine(line);
      last = line;
    },
    stop: () => undefined,
  };
}

export function describeProgress(run: RunSnapshot): string {
  const progress = run.progress;
  if (!progress) return `${run.id} ${run.status}`;
  const of = progress.expected_records ? `/${progress.expected_records}` : '';
  const eta = progress.eta_seconds !== null && run.status === 'running' ? ` · ETA ${progress.eta_seconds}s` : '';
  return `${run.id} ${run.status} · ${progress.phase} · ${progress.records}${of} records · ${progress.pages} pages · ${progress.rate}/s${eta}`;
}

/** The closing line of a run, and the exit code a command reports it with. */
export function runOutcome(run: RunSnapshot): { line: string; exitCode: number } {
  const c = run.counters;
  const summary = `${c.users_created ?? 0} users created, ${c.users_updated ?? 0} updated, ${c.users_deactivated ?? 0} deactivated; ${c.memberships_added ?? 0} memberships added, ${c.memberships_removed ?? 0} removed`;
  if (run.status === 'completed') return { line: `${run.id} completed: ${summary}`, exitCode: 0 };
  if (run.status === 'held') {
    return { line: `${run.id} held by the deprovision guard (${JSON.stringify(run.held ?? {})}); confirm or discard it: POST /v1/sync-runs/${run.id}/confirm | /discard`, exitCode: 3 };
  }
  return { line: `${run.id} ${run.status}: ${run.error ?? 'no error recorded'}`, exitCode: 1 };
}
