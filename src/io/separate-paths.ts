// Outputs never damage inputs: a command refuses an output that is, contains or lies inside one of its inputs
// (and an input inside an output), comparing real paths so symlinks and `a/../a` spellings do not hide a clash.
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';

export interface RolePath {
  /** What the path is to the user: '--out', '<in>', 'data.train'. */
  role: string;
  path: string;
}

/** Refused because an output and an input overlap. */
export class PathOverlapError extends Error {}

/** The real path of `path`, resolving symlinks in the part that exists (an output may not exist yet). */
function realPath(path: string): string {
  const absolute = resolve(path);
  if (existsSync(absolute)) return realpathSync(absolute);
  const parent = dirname(absolute);
  return parent === absolute ? absolute : join(realPath(parent), basename(absolute));
}

function within(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Throws naming both paths when an output is, contains or lies inside an input. `inputsMayLieInside` allows an
 * input inside an output folder, for a command that writes only named entries there (a run directory holding
 * its data, as the demo lays it out).
 */
export function assertSeparate(outputs: readonly RolePath[], inputs: readonly RolePath[], inputsMayLieInside = false): void {
  for (const output of outputs) {
    const out = realPath(output.path);
    for (const input of inputs) {
      const inp = realPath(input.path);
      let clash: string | undefined;
      if (out === inp) clash = 'is the same path as';
      else if (within(out, inp)) clash = 'lies inside';
      else if (within(inp, out) && !inputsMayLieInside) clash = 'contains';
      if (clash)
        throw new PathOverlapError(
          `${output.role} ${output.path} ${clash} ${input.role} ${input.path}: writing there could overwrite or be read back as input; choose an output outside the inputs`,
        );
    }
  }
}
