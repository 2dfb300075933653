// The shape of one `catface` sub-command; each lives in its own file and is listed in commands.ts.
export interface Command {
  name: string;
  /** One line for `catface --help`. */
  summary: string;
  /** Full usage text for `catface <name> --help`. */
  usage: string;
  run(argv: string[]): Promise<number | undefined> | number | undefined;
}

/** An error whose message is shown to the user as is (no stack): bad flags, missing files. */
export class UsageError extends Error {}
