#!/usr/bin/env node
// The `catface` command line: dispatches to one sub-command per file (see commands.ts and run-cli.ts).
import { threadsEnvProblem } from '../torch/threads-env.js';

// checked before anything loads the addon, which reads $CATFACE_THREADS as it starts
const threadsProblem = threadsEnvProblem();
if (threadsProblem) {
  console.error(`catface: ${threadsProblem}`);
  process.exitCode = 2;
} else {
  const { runCli } = await import('./run-cli.js');
  process.exitCode = await runCli(process.argv.slice(2));
}
