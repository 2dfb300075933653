// Runs one `catface` command line and returns its exit code (0 done, 1 failed, 2 bad usage); main.ts is the
// process entry, and tests call this in-process.
import { UsageError } from './command.js';
import { commands } from './commands.js';

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'catface — train, evaluate and serve CATFace face recognition for low-quality images',
    '',
    'Usage: catface <command> [options]      (catface <command> --help for its options)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`catface: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  try {
    return (await command.run(rest)) ?? 0;
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`catface ${name}: ${(err as Error).message}\n\n${command.usage}`);
      return 2;
    }
    console.error(`catface ${name}: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.CATFACE_DEBUG && err instanceof Error) console.error(err.stack);
    return 1;
  }
}
