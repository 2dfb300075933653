// The tree is the pipeline (docs/ARCHITECTURE.md): imports only point down. Every relative import of every
// source file is resolved to the src/ folder it lands in and checked against the folders that folder may use.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/**
 * What each folder may import besides itself; `type` lists folders reachable through type-only imports. src/io
 * (file-system building blocks, Node only) is below everything: any folder may use it, it uses none.
 */
const ALLOWED: Record<string, { runtime: string[]; type?: string[] }> = {
  io: { runtime: [] },
  torch: { runtime: ['io'] },
  common: { runtime: ['io', 'torch'] },
  nn: { runtime: ['io', 'torch'] },
  models: { runtime: ['io', 'torch', 'nn'] },
  distributed: { runtime: ['io', 'torch'] },
  losses: { runtime: ['io', 'torch', 'nn'], type: ['models'] },
  degrade: { runtime: ['io', 'torch', 'common'] },
  data: { runtime: ['io', 'torch', 'common'] },
  eval: { runtime: ['io', 'torch', 'common', 'nn', 'data', 'models'] },
  serve: { runtime: ['io', 'torch', 'common', 'nn', 'data', 'models', 'eval'] },
  train: { runtime: ['io', 'torch', 'common', 'nn', 'models', 'losses', 'degrade', 'data', 'eval', 'distributed'] },
  ablate: { runtime: ['io', 'torch', 'common', 'nn', 'models', 'losses', 'degrade', 'data', 'eval', 'serve', 'train', 'distributed'] },
  cli: {
    runtime: ['io', 'torch', 'common', 'nn', 'models', 'losses', 'degrade', 'data', 'eval', 'serve', 'train', 'ablate', 'distributed'],
  },
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

const folderOf = (path: string) => relative(src, path).split(sep)[0];

test('every import in src/ points down the pipeline (train never imports serve; eval and serve never import train)', () => {
  const problems: string[] = [];
  const files = sources(src).filter((f) => folderOf(f) !== 'index.ts');
  assert.ok(files.length > 50, `found ${files.length} source files under ${src}`);
  for (const file of files) {
    const from = folderOf(file);
    const rules = ALLOWED[from];
    if (!rules) {
      problems.push(`${relative(src, file)}: src/${from} is not in the architecture's table`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/^(?:import|export)\s+(type\s+)?[^'";]*?from\s+'(\.{1,2}\/[^']+)'/gm)) {
      const to = folderOf(resolve(dirname(file), match[2]));
      if (to === from) continue;
      const allowed = rules.runtime.includes(to) || (match[1] !== undefined && (rules.type ?? []).includes(to));
      if (!allowed) problems.push(`${relative(src, file)} imports src/${to} (${match[2]})`);
    }
  }
  assert.deepEqual(problems, []);
});
