// From a study, a base config and seeds to the training runs to do. Every run's config is the base merged with
// the study's and the variant's overrides and the seed; its directory is named by the config's hash
// (src/train/run-identity.ts), so a run two variants or two studies share (catf in `fusion` and in `catf-parts`)
// is trained once, and a changed config never reuses another config's run. Shared-stage-1 studies get one
// stage-1 run per seed that their variants' stage-2-only runs start from (model.init).
import { join } from 'node:path';
import type { EmbeddingKind } from '../models/catface.js';
import { parseTrainConfig, type TrainConfig } from '../train/config.js';
import { configHash } from '../train/run-identity.js';
import { type ConfigPatch, STAGE2_FIELDS, type Study } from './studies.js';

/** How a finished run is evaluated (absent: a stage-1 run other runs start from). */
export interface UnitEvaluation {
  testDir: string;
  seed: number;
  embeddings: EmbeddingKind[];
  /** Where the held-out crops are cached (decoded and degraded once per study folder). */
  cacheDir: string;
}

/** One training run (and its evaluation): what a child process executes. */
export interface Unit {
  id: string;
  dir: string;
  /** A readable name for progress lines: `<variant> seed <s>` or `stage 1 seed <s>`. */
  label: string;
  config: TrainConfig;
  evaluation: UnitEvaluation | null;
  /** Units that must finish first. */
  after: string[];
}

export interface PlannedRun {
  variant: string;
  seed: number;
  unit: string;
}

export interface StudyPlan {
  units: Unit[];
  runs: PlannedRun[];
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `patch` merged into `base` field by field (objects recursively; arrays and values replaced). */
export function mergeConfig(base: Record<string, unknown>, patch: ConfigPatch | Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    out[key] = isObject(value) && isObject(out[key]) ? mergeConfig(out[key] as Record<string, unknown>, value) : value;
  }
  return out;
}

/** Dotted paths of a patch's leaves. */
function leafPaths(patch: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(patch).flatMap(([k, v]) => (isObject(v) ? leafPaths(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

export interface PlanOptions {
  /** The base config as read (not yet validated), with data.train already where the study's data is. */
  base: Record<string, unknown>;
  source: string;
  seeds: number[];
  runsDir: string;
  testDir: string;
  evalSeed: number;
  threads: number;
  cacheDir: string;
}

/** Every run of the study, deduplicated by config hash. */
export function planStudy(study: Study, options: PlanOptions): StudyPlan {
  const units = new Map<string, Unit>();
  const runs: PlannedRun[] = [];
  const execution = { threads: options.threads, log: { progress: 'lines', lineEverySeconds: 60 } };
  const add = (raw: Record<string, unknown>, label: string, evaluation: UnitEvaluation | null, after: string[]): Unit => {
    const checked = parseTrainConfig(mergeConfig(raw, { ...execution, outDir: options.runsDir }), `${options.source} (${label})`);
    const id = configHash(checked).slice(0, 16);
    const dir = join(options.runsDir, id);
    const existing = units.get(id);
    if (existing) {
      if (evaluation) {
        const kinds = new Set([...(existing.evaluation?.embeddings ?? []), ...evaluation.embeddings]);
        existing.evaluation = { ...evaluation, embeddings: [...kinds] };
      }
      return existing;
    }
    const unit: Unit = { id, dir, label, config: { ...checked, outDir: dir }, evaluation, after };
    units.set(id, unit);
    return unit;
  };
  const studyBase = mergeConfig(options.base, study.base);
  for (const seed of options.seeds) {
    let stage1: Unit | null = null;
    if (study.sharedStage1) {
      const raw = mergeConfig(studyBase, { seed, stage2: { steps: 0, optim: { milestones: [] } } });
      stage1 = add(raw, `stage 1 seed ${seed}`, null, []);
    }
    for (const variant of study.variants) {
      let raw = mergeConfig(mergeConfig(studyBase, variant.overrides), { seed });
      if (stage1) {
        const outside = leafPaths(variant.overrides).filter((p) => !STAGE2_FIELDS.some((f) => p === f || p.startsWith(`${f}.`)));
        if (outside.length > 0)
          throw new Error(`study ${study.name}, variant ${variant.id}: shares stage 1 but overrides ${outside.join(', ')}`);
        raw = mergeConfig(raw, {
          model: { init: join(stage1.dir, 'model'), pretrained: null },
          stage1: { steps: 0, optim: { milestones: [] } },
        });
      }
      const kinds: EmbeddingKind[] = study.embedding === 'fused' ? ['fused', 'fr'] : ['fr'];
      const unit = add(
        raw,
        `${variant.id} seed ${seed}`,
        { testDir: options.testDir, seed: options.evalSeed, embeddings: kinds, cacheDir: options.cacheDir },
        stage1 ? [stage1.id] : [],
      );
      runs.push({ variant: variant.id, seed, unit: unit.id });
    }
  }
  return { units: [...units.values()], runs };
}
