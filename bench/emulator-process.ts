import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A `roster emulate <provider>` process, with what it printed on start-up. */
export interface EmulatorProcess {
  url: string;
  /** Everything it printed until it was ready. */
  output: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export interface EmulatorProcessOptions {
  /** The arguments after `roster emulate`, e.g. `['graph', '--users', '1000', '--port', '0']`. */
  args: string[];
  /** Its name in messages, e.g. 'Google'. */
  label: string;
  /** How long generating the directory and starting may take. */
  startupTimeoutMs: number;
}

/**
 * Starts `roster emulate …` in a process of its own (so its CPU and memory are not counted in this one) and
 * waits until it has printed its control API line and answers `/_emulator/stats`.
 */
export async function startEmulatorProcess(options: EmulatorProcessOptions): Promise<EmulatorProcess> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  // E.g. ROSTER_BENCH_EMULATOR_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the emulator too.
  const nodeArgs = (process.env.ROSTER_BENCH_EMULATOR_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/cli/main.ts', 'emulate', ...options.args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  try {
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const seconds = Math.round(options.startupTimeoutMs / 1000);
      const timer = setTimeout(() => reject(new Error(`the ${options.label} emulator did not start within ${seconds} s:\n${output}`)), options.startupTimeoutMs);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the ${options.label} emulator exited with ${signal ?? code}:\n${output}`));
      });
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        output += chunk;
        const listening = /listening on (\S+)/.exec(output)?.[1];
        // Every emulator prints its control API last; a whole line means everything before it is there.
        if (listening && /control API:[^\n]*\n/.test(output)) {
          clearTimeout(timer);
          resolve(listening);
        }
      });
    });
    // Keep draining its output, so a chatty emulator never blocks on a full pipe.
    child.stdout!.resume();
    for (let attempt = 0; ; attempt++) {
      try {
        if ((await fetch(`${url}/_emulator/stats`)).ok) break;
      } catch {
        // not answering yet
      }
      if (attempt >= 300) throw new Error(`the ${options.label} emulator does not answer`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { url, output, child, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The value printed after `label` on one of the emulator's start-up lines. */
export function printed(emulator: Pick<EmulatorProcess, 'output'>, label: string): string {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const value = new RegExp(`^\\s*${escaped}\\s+(.+)$`, 'm').exec(emulator.output)?.[1]?.trim();
  if (value === undefined) throw new Error(`the emulator printed no '${label}' line:\n${emulator.output}`);
  return value;
}

/** A call to the emulator's control API (`/_emulator/…`), JSON both ways. */
export async function control<T = unknown>(emulator: Pick<EmulatorProcess, 'url'>, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${emulator.url}/_emulator${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} /_emulator${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/**
 * CPU seconds the emulator process has used so far (user + system, from /proc), to tell how much of a
 * phase's wall time the emulator spent serving it; undefined where /proc is not there.
 */
export function emulatorCpuSeconds(emulator: Pick<EmulatorProcess, 'child'>): number | undefined {
  try {
    const stat = readFileSync(`/proc/${emulator.child.pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) in parentheses: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}
