/** What one measured phase produced; serializable, so a child process can hand it to its parent. */
export interface PhaseResult {
  engine: string;
  phase: 'floor' | 'initial' | 'unchanged' | 'changed';
  /** Time spent in the store (apply calls, or floor inserts), excluding record generation. */
  seconds: number;
  users: number;
  records: number;
  events: number;
  eventsByType: Record<string, number>;
  peakRssBytes: number;
  rssSamples: number;
  /** Users whose content differs in this phase's snapshot. */
  changedUsers: number;
  /** Store time split by the kind of record on the page (pages never mix kinds). */
  secondsByKind: Record<string, number>;
}

export interface Targets {
  /** Initial load on SQLite, scaled from 10 s per 100,000 users. */
  initialSeconds: number;
  /** Unchanged re-apply, scaled from 3 s per 100,000 users. */
  unchangedSeconds: number;
  rssBytes: number;
}

export function targetsFor(users: number): Targets {
  const scale = users / 100_000;
  return { initialSeconds: 10 * scale, unchangedSeconds: 3 * scale, rssBytes: 1024 ** 3 };
}

const PHASE_LABELS: Record<PhaseResult['phase'], string> = {
  floor: 'floor (raw insert)',
  initial: 'initial load',
  unchanged: 'unchanged re-apply',
  changed: '1% users changed',
};

export function phaseLabel(phase: PhaseResult['phase']): string {
  return PHASE_LABELS[phase];
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1024 ** 2)} MiB`;
}

function rate(count: number, seconds: number): string {
  return seconds > 0 ? Math.round(count / seconds).toLocaleString('en-US') : '-';
}

/** The verdicts of one phase against the targets; empty when no target applies. */
export function verdicts(result: PhaseResult, targets: Targets): string[] {
  const out: string[] = [];
  const mark = (ok: boolean, text: string) => out.push(`${ok ? 'ok' : 'MISS'} ${text}`);
  if (result.phase === 'initial' && result.engine === 'sqlite') {
    mark(result.seconds < targets.initialSeconds, `< ${targets.initialSeconds.toFixed(1)} s`);
  }
  if (result.phase === 'unchanged') {
    mark(result.seconds < targets.unchangedSeconds, `< ${targets.unchangedSeconds.toFixed(1)} s`);
    mark(result.events === 0, '0 events');
  }
  if (result.phase === 'changed') mark(result.events === result.changedUsers, `${result.changedUsers} events`);
  if (result.phase !== 'floor') mark(result.peakRssBytes < targets.rssBytes, 'RSS < 1 GiB');
  return out;
}

export function formatTable(results: readonly PhaseResult[], targets: Targets): string {
  const header = ['engine', 'phase', 'seconds', 'users/s', 'records/s', 'events', 'peak RSS', '÷ floor', 'targets'];
  const rows: string[][] = [header];
  for (const r of results) {
    const floor = results.find((f) => f.engine === r.engine && f.phase === 'floor');
    rows.push([
      r.engine,
      phaseLabel(r.phase),
      r.seconds.toFixed(2),
      r.phase === 'floor' ? '-' : rate(r.users, r.seconds),
      rate(r.records, r.seconds),
      r.phase === 'floor' ? '-' : r.events.toLocaleString('en-US'),
      mib(r.peakRssBytes),
      floor && r.phase !== 'floor' ? `${(r.seconds / floor.seconds).toFixed(1)}×` : '-',
      verdicts(r, targets).join(', '),
    ]);
  }
  const widths = header.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const numeric = new Set([2, 3, 4, 5, 6, 7]);
  const line = (row: string[]) =>
    row.map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join('\n');
}
