import { processContext } from './context.ts';
import { runCli } from './program.ts';

// `roster start` keeps running after this resolves (the server holds the event loop); other commands end here.
const exitCode = await runCli(process.argv, processContext());
if (exitCode !== 0) process.exitCode = exitCode;
