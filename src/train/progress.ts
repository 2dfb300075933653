// The training progress display: on a terminal one line rewritten in place; in a log file or pipe a full line
// every `lineEverySeconds` (so CI logs stay short). Shows step/total, loss components, images/s and ETA.

export type ProgressMode = 'auto' | 'tty' | 'lines' | 'off';

export interface ProgressOptions {
  total: number;
  /** Label in front, e.g. 'stage 1'. */
  label: string;
  mode?: ProgressMode;
  stream?: NodeJS.WriteStream;
  /** Non-TTY output: at most one line per this many seconds (the first and last step always print). */
  lineEverySeconds?: number;
  /** Step the run starts from (resume), so the rate and ETA count only this process's steps. */
  startStep?: number;
  now?: () => number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function formatValue(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toFixed(a < 1 ? 4 : 3);
}

export class ProgressBar {
  private readonly mode: Exclude<ProgressMode, 'auto'>;
  private readonly stream: NodeJS.WriteStream;
  private readonly now: () => number;
  private readonly startTime: number;
  private readonly startStep: number;
  private lastLineTime = -Infinity;
  private images = 0;
  private lastLength = 0;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    const mode = options.mode ?? 'auto';
    this.mode = mode === 'auto' ? (this.stream.isTTY ? 'tty' : 'lines') : mode;
    this.now = options.now ?? (() => performance.now() / 1000);
    this.startTime = this.now();
    this.startStep = options.startStep ?? 0;
  }

  /** The text shown for `step` (also used by tests). */
  render(step: number, losses: Record<string, number>, imagesPerSecond: number, etaSeconds: number): string {
    const { total, label } = this.options;
    const fraction = Math.min(1, step / total);
    const width = 20;
    const filled = Math.round(fraction * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const parts = Object.entries(losses).map(([k, v]) => `${k} ${formatValue(v)}`);
    return `${label} ${bar} ${step}/${total} ${parts.join(' ')} | ${imagesPerSecond.toFixed(1)} img/s | ETA ${formatDuration(etaSeconds)}`;
  }

  /** Reports that `step` (1-based count of finished steps) is done after processing `images` more images. */
  update(step: number, losses: Record<string, number>, images: number): void {
    if (this.mode === 'off') return;
    this.images += images;
    const t = this.now();
    const elapsed = Math.max(t - this.startTime, 1e-9);
    const doneHere = step - this.startStep;
    const rate = this.images / elapsed;
    const eta = doneHere > 0 ? ((this.options.total - step) * elapsed) / doneHere : Number.NaN;
    const text = this.render(step, losses, rate, eta);
    if (this.mode === 'tty') {
      const columns = this.stream.columns ?? 160;
      const line = text.length > columns - 1 ? text.slice(0, columns - 1) : text;
      this.stream.write(`\r${line}${' '.repeat(Math.max(0, this.lastLength - line.length))}`);
      this.lastLength = line.length;
      return;
    }
    const every = this.options.lineEverySeconds ?? 10;
    if (doneHere === 1 || step >= this.options.total || t - this.lastLineTime >= every) {
      this.stream.write(`${text}\n`);
      this.lastLineTime = t;
    }
  }

  /** Prints a message without garbling the TTY line (validation results, checkpoint notices). */
  note(message: string): void {
    if (this.mode === 'off') return;
    if (this.mode === 'tty' && this.lastLength > 0) {
      this.stream.write(`\r${' '.repeat(this.lastLength)}\r`);
      this.lastLength = 0;
    }
    this.stream.write(`${message}\n`);
  }

  /** Ends the TTY line. */
  finish(): void {
    if (this.mode === 'tty' && this.lastLength > 0) this.stream.write('\n');
    this.lastLength = 0;
  }
}
