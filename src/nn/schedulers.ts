// Learning-rate schedules, stepped once per epoch or iteration after `optimizer.step()`: the same recursive
// ("chainable") formulas as PyTorch 1.13, so learning rates match PyTorch's to the last bit and schedules
// compose — `SequentialLR` (warm-up, then another schedule) and `ChainedScheduler` (factors multiply).

/** What a schedule drives: anything with parameter groups holding `lr` (every Optimizer). */
export interface HasParamGroups {
  paramGroups: { lr: number }[];
}

/** Every group's learning rate before any schedule touched it (PyTorch's `initial_lr`), shared by schedules. */
const initialLrs = new WeakMap<object, number>();

/** The resumable state of a schedule: plain numbers (JSON-serialisable). */
export interface SchedulerState {
  lastEpoch: number;
  stepCount: number;
  baseLrs: number[];
  lastLrs: number[];
  children?: SchedulerState[];
}

export abstract class LRScheduler {
  lastEpoch = -1;
  protected stepCount = 0;
  readonly baseLrs: number[];
  private lastLrs: number[] = [];

  constructor(readonly optimizer: HasParamGroups) {
    for (const g of optimizer.paramGroups) if (!initialLrs.has(g)) initialLrs.set(g, g.lr);
    this.baseLrs = optimizer.paramGroups.map((g) => initialLrs.get(g) as number);
  }

  /** The learning rates of the next epoch from the current ones (PyTorch's `get_lr`). */
  protected abstract chainedLrs(): number[];
  /** The learning rates at `lastEpoch` computed from the base rates (PyTorch's `_get_closed_form_lr`). */
  protected abstract closedFormLrs(): number[];

  /** Sets epoch 0's learning rates; each schedule's constructor ends with it (and SequentialLR restarts one). */
  initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** Advances one epoch; with `epoch`, jumps there using the closed form (as PyTorch's `step(epoch)`). */
  step(epoch?: number): void {
    this.stepCount += 1;
    let lrs: number[];
    if (epoch === undefined) {
      this.lastEpoch += 1;
      lrs = this.chainedLrs();
    } else {
      this.lastEpoch = epoch;
      lrs = this.closedFormLrs();
    }
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = lrs[i];
    });
    this.lastLrs = this.currentLrs();
  }

  /** The learning rates the last step set, per group. */
  getLastLr(): number[] {
    return [...this.lastLrs];
  }

  protected currentLrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  stateDict(): SchedulerState {
    return { lastEpoch: this.lastEpoch, stepCount: this.stepCount, baseLrs: [...this.baseLrs], lastLrs: [...this.lastLrs] };
  }

  /** Restores a state from `stateDict()`; the optimiser's own state (with the current lr) is restored separately. */
  loadStateDict(s: SchedulerState): void {
    const name = this.constructor.name;
    for (const key of ['lastEpoch', 'stepCount'] as const) {
      if (!Number.isInteger(s?.[key])) throw new Error(`${name}.loadStateDict: '${key}' must be an integer, got ${s?.[key]}`);
    }
    if (!Array.isArray(s.baseLrs) || s.baseLrs.length !== this.baseLrs.length || !s.baseLrs.every(Number.isFinite)) {
      throw new Error(`${name}.loadStateDict: 'baseLrs' must hold ${this.baseLrs.length} finite numbers`);
    }
    this.lastEpoch = s.lastEpoch;
    this.stepCount = s.stepCount;
    this.baseLrs.splice(0, this.baseLrs.length, ...s.baseLrs);
    this.lastLrs = [...(s.lastLrs ?? [])];
  }
}

/** Multiplies the learning rate by `gamma` at each milestone epoch. */
export class MultiStepLR extends LRScheduler {
  private readonly counts = new Map<number, number>();
  constructor(
    optimizer: HasParamGroups,
    readonly milestones: readonly number[],
    readonly gamma = 0.1,
  ) {
    super(optimizer);
    for (const m of milestones) {
      if (!Number.isInteger(m) || m < 0) throw new RangeError(`MultiStepLR: milestones must be non-negative integers, got ${m}`);
      this.counts.set(m, (this.counts.get(m) ?? 0) + 1);
    }
    this.initialStep();
  }
  protected chainedLrs(): number[] {
    const n = this.counts.get(this.lastEpoch);
    return n === undefined ? this.currentLrs() : this.currentLrs().map((lr) => lr * this.gamma ** n);
  }
  protected closedFormLrs(): number[] {
    const passed = [...this.counts].reduce((sum, [m, c]) => sum + (m <= this.lastEpoch ? c : 0), 0);
    return this.baseLrs.map((lr) => lr * this.gamma ** passed);
  }
}

/** Cosine annealing from the base rate down to `etaMin` over `tMax` epochs (then back up, as PyTorch). */
export class CosineAnnealingLR extends LRScheduler {
  constructor(
    optimizer: HasParamGroups,
    readonly tMax: number,
    readonly etaMin = 0,
  ) {
    if (!(tMax > 0)) throw new RangeError(`CosineAnnealingLR: tMax must be positive, got ${tMax}`);
    super(optimizer);
    this.initialStep();
  }
  protected chainedLrs(): number[] {
    const { lastEpoch: e, tMax: T, etaMin } = this;
    if (e === 0) return this.currentLrs();
    if (this.stepCount === 1 && e > 0) return this.closedFormLrs();
    if ((((e - 1 - T) % (2 * T)) + 2 * T) % (2 * T) === 0) {
      return this.currentLrs().map((lr, i) => lr + ((this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / T))) / 2);
    }
    return this.currentLrs().map(
      (lr) => ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (lr - etaMin) + etaMin,
    );
  }
  protected closedFormLrs(): number[] {
    return this.baseLrs.map((lr) => this.etaMin + ((lr - this.etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.tMax))) / 2);
  }
}

/** Linear ramp of the factor from `startFactor` to `endFactor` over `totalIters` steps (warm-up). */
export class LinearLR extends LRScheduler {
  constructor(
    optimizer: HasParamGroups,
    readonly startFactor = 1 / 3,
    readonly endFactor = 1,
    readonly totalIters = 5,
  ) {
    if (!(startFactor >= 0 && startFactor <= 1)) throw new RangeError(`LinearLR: startFactor must be in [0, 1], got ${startFactor}`);
    if (!(endFactor >= 0 && endFactor <= 1)) throw new RangeError(`LinearLR: endFactor must be in [0, 1], got ${endFactor}`);
    if (!(Number.isInteger(totalIters) && totalIters > 0)) throw new RangeError(`LinearLR: totalIters must be a positive integer`);
    super(optimizer);
    this.initialStep();
  }
  protected chainedLrs(): number[] {
    const { lastEpoch: e, startFactor: s, endFactor: f, totalIters: n } = this;
    if (e === 0) return this.currentLrs().map((lr) => lr * s);
    if (e > n) return this.currentLrs();
    return this.currentLrs().map((lr) => lr * (1 + (f - s) / (n * s + (e - 1) * (f - s))));
  }
  protected closedFormLrs(): number[] {
    const { startFactor: s, endFactor: f, totalIters: n } = this;
    return this.baseLrs.map((lr) => lr * (s + ((f - s) * Math.min(n, this.lastEpoch)) / n));
  }
}

/** Polynomial decay to zero over `totalIters` steps: lr·(1 − t/T)^power. */
export class PolynomialLR extends LRScheduler {
  constructor(
    optimizer: HasParamGroups,
    readonly totalIters = 5,
    readonly power = 1,
  ) {
    if (!(Number.isInteger(totalIters) && totalIters > 0)) throw new RangeError(`PolynomialLR: totalIters must be a positive integer`);
    super(optimizer);
    this.initialStep();
  }
  protected chainedLrs(): number[] {
    const { lastEpoch: e, totalIters: n } = this;
    if (e === 0 || e > n) return this.currentLrs();
    const factor = ((1 - e / n) / (1 - (e - 1) / n)) ** this.power;
    return this.currentLrs().map((lr) => lr * factor);
  }
  protected closedFormLrs(): number[] {
    return this.baseLrs.map((lr) => lr * (1 - Math.min(this.totalIters, this.lastEpoch) / this.totalIters) ** this.power);
  }
}

/** Runs `schedulers[i]` from `milestones[i-1]` on, e.g. LinearLR warm-up for 5 epochs then cosine. */
export class SequentialLR {
  lastEpoch: number;
  private lastLrs: number[];
  constructor(
    readonly optimizer: HasParamGroups,
    private readonly schedulers: LRScheduler[],
    readonly milestones: readonly number[],
  ) {
    if (schedulers.some((s) => s.optimizer !== optimizer)) throw new Error('SequentialLR: every schedule must drive the same optimizer');
    if (milestones.length !== schedulers.length - 1) {
      throw new RangeError(
        `SequentialLR: needs ${schedulers.length - 1} milestones for ${schedulers.length} schedules, got ${milestones.length}`,
      );
    }
    this.lastEpoch = 0;
    for (const g of optimizer.paramGroups) g.lr = initialLrs.get(g) as number;
    for (const s of schedulers) s.lastEpoch -= 1;
    schedulers[0].initialStep();
    this.lastLrs = schedulers[0].getLastLr();
  }
  step(): void {
    this.lastEpoch += 1;
    let idx = 0;
    while (idx < this.milestones.length && this.milestones[idx] <= this.lastEpoch) idx++;
    const s = this.schedulers[idx];
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) s.step(0);
    else s.step();
    this.lastLrs = s.getLastLr();
  }
  getLastLr(): number[] {
    return [...this.lastLrs];
  }
  stateDict(): SchedulerState {
    return {
      lastEpoch: this.lastEpoch,
      stepCount: 0,
      baseLrs: [],
      lastLrs: [...this.lastLrs],
      children: this.schedulers.map((s) => s.stateDict()),
    };
  }
  loadStateDict(s: SchedulerState): void {
    if (!Number.isInteger(s?.lastEpoch) || s.children?.length !== this.schedulers.length) {
      throw new Error(`SequentialLR.loadStateDict: expected a state with lastEpoch and ${this.schedulers.length} child states`);
    }
    this.schedulers.forEach((child, i) => {
      child.loadStateDict((s.children as SchedulerState[])[i]);
    });
    this.lastEpoch = s.lastEpoch;
    this.lastLrs = [...s.lastLrs];
  }
}

/** Steps every schedule each time, so their factors multiply (e.g. warm-up × step decay). */
export class ChainedScheduler {
  readonly optimizer: HasParamGroups;
  constructor(private readonly schedulers: LRScheduler[]) {
    if (schedulers.length === 0) throw new Error('ChainedScheduler: needs at least one schedule');
    this.optimizer = schedulers[0].optimizer;
    if (schedulers.some((s) => s.optimizer !== this.optimizer))
      throw new Error('ChainedScheduler: every schedule must drive the same optimizer');
  }
  step(): void {
    for (const s of this.schedulers) s.step();
  }
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
  stateDict(): SchedulerState {
    return { lastEpoch: 0, stepCount: 0, baseLrs: [], lastLrs: this.getLastLr(), children: this.schedulers.map((s) => s.stateDict()) };
  }
  loadStateDict(s: SchedulerState): void {
    if (s?.children?.length !== this.schedulers.length) {
      throw new Error(`ChainedScheduler.loadStateDict: expected ${this.schedulers.length} child states`);
    }
    this.schedulers.forEach((child, i) => {
      child.loadStateDict((s.children as SchedulerState[])[i]);
    });
  }
}
