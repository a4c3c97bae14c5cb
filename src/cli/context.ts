/** What a command needs from its surroundings, passed in so commands can run inside tests. */
export interface CliContext {
  env: NodeJS.ProcessEnv;
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  /** Stops long-running commands (`events tail`); tests use it, a terminal uses Ctrl-C. */
  signal?: AbortSignal;
}

export function processContext(): CliContext {
  return {
    env: process.env,
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
  };
}
