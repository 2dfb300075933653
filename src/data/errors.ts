// Bad-input policy shared by every reader: a clear error naming file (and line), or — under an explicit
// 'skip' policy — the problem is recorded in a report the caller can print, never silently dropped.

/** What a reader does with a bad file or row: stop with an error (default) or skip it and record why. */
export type OnError = 'throw' | 'skip';

/** An error about one input file (and optionally one line of it). */
export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
    readonly line?: number,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${reason}`);
    this.name = 'DataError';
  }
}

export interface SkippedInput {
  file: string;
  line?: number;
  reason: string;
}

/** The inputs a reader skipped under `onError: 'skip'`, with why. */
export class BadInputReport {
  readonly skipped: SkippedInput[] = [];

  add(error: DataError): void {
    this.skipped.push({ file: error.file, line: error.line, reason: error.reason });
  }

  get size(): number {
    return this.skipped.length;
  }

  /** One line per skipped input: `file[:line]: reason`. */
  toString(): string {
    return this.skipped.map((s) => `${s.file}${s.line !== undefined ? `:${s.line}` : ''}: ${s.reason}`).join('\n');
  }
}

/** Throws `error` under 'throw'; records it in `report` under 'skip'. */
export function handleBadInput(error: DataError, onError: OnError, report: BadInputReport): void {
  if (onError === 'throw') throw error;
  report.add(error);
}

/** Wraps any non-DataError failure about `file` into a DataError (keeps DataErrors as they are). */
export function asDataError(file: string, error: unknown, line?: number): DataError {
  if (error instanceof DataError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new DataError(file, message, line);
}

/** What a file-system error means for the user, without Node's syscall noise (`EACCES: permission denied, open …`). */
export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'file not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, expected a file';
    case 'ENOTDIR':
      return 'is a file, expected a directory';
    case 'ELOOP':
      return 'symlink loop';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
