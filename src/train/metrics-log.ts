// The JSONL metrics log of a run: one JSON object per line ({"kind":"train","step":…,"loss":…}). Appended as the
// run goes; on resume the records after the checkpoint's step (written by the killed process, and possibly a
// half-written last line) are dropped, so the log reads as one uninterrupted run.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileDurably } from '../io/durable.js';

export interface MetricsRecord {
  kind: string;
  step: number;
  [key: string]: unknown;
}

export class MetricsLog {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  append(record: MetricsRecord): void {
    appendFileSync(this.path, `${JSON.stringify({ ...record, time: new Date().toISOString() })}\n`);
  }

  /** Keeps only complete records with `step <= step` (atomically rewritten). */
  truncateAfter(step: number): void {
    if (!existsSync(this.path)) return;
    const kept = readMetrics(this.path).filter((r) => r.step <= step);
    writeFileDurably(this.path, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }
}

/** Reads the complete records of a metrics log (a torn last line from a killed writer is skipped). */
export function readMetrics(path: string): MetricsRecord[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: MetricsRecord[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line) as MetricsRecord);
    } catch (err) {
      if (i < lines.length - 1 && lines.slice(i + 1).some((l) => l.trim()))
        throw new Error(`${path}:${i + 1}: not JSON (${(err as Error).message})`);
    }
  });
  return out;
}
