/** What a command needs from its surroundings, passed in so commands can run inside tests. */
export interface CliContext {
  env: NodeJS.ProcessEnv;
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  /** Stops long-running commands (`events tail`); tests use it, a terminal uses Ctrl-C. */
  signal?: AbortSignal;
  /** Where live progress bars go when it is a terminal; otherwise progress is printed as lines. */
  progressStream?: NodeJS.WriteStream;
}

export function processContext(): CliContext {
  return {
    env: process.env,
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
    progressStream: process.stderr,
  };
}

/** Ends a command with an exit code after it has said why (e.g. `roster sync` on a failed run). */
export class CommandExit extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

/** Resolves on Ctrl-C, SIGTERM, or when the context's signal aborts (tests): how a long-running command waits. */
export function untilStopped(signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    if (signal?.aborted) return done();
    signal?.addEventListener('abort', done, { once: true });
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
