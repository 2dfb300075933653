// The model directory a training run exports and inference loads:
//   model.json            what the network is (architecture, fusion, input size, attributes, threshold)
//   weights.safetensors   the stage-1 network under `network.` and the fusion + fused head under `fusion.`
// No optimiser or margin-head state: only what inference needs. Written into a temporary directory, then
// renamed, so a reader never sees half a model.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FusionConfig } from '../models/fusion-base.js';
import type { MultiBranchConfig } from '../models/multi-branch.js';
import { loadSafetensors, saveSafetensors } from '../nn/safetensors.js';
import type { Tensor } from '../torch/index.js';

export const MODEL_FORMAT = 'catface-model';
export const MODEL_FORMAT_VERSION = 1;

/** The 5-point template a model's crops are aligned to, and the crop side in pixels. */
export interface FaceAlignment {
  template: 'arcface' | 'dlib';
  size: number;
}

export interface ModelSpec {
  format: typeof MODEL_FORMAT;
  version: number;
  /** Side of the aligned square input. */
  imageSize: number;
  /** Names of the SB branch's attribute logits, in order. */
  attributes: string[];
  /** The multi-branch network's constructor config (src/models). */
  network: MultiBranchConfig;
  /** The stage-2 fusion's config, or null for a stage-1-only model (FR-branch embeddings). */
  fusion: FusionConfig | null;
  /** Which embedding `embed` returns by default: the fused one (CATFace) or the FR branch's (baseline). */
  defaultEmbedding: 'fused' | 'fr';
  /** Cosine-similarity threshold for `verify`, chosen on validation pairs (null: none chosen yet). */
  verifyThreshold: number | null;
  /** How faces are cropped for this model: the 5-point template and crop side (absent: ArcFace at `imageSize`). */
  alignment?: FaceAlignment;
  /** Free-form provenance (training steps, config file, date). */
  provenance: Record<string, unknown>;
}

const SPEC_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.safetensors';

function fail(dir: string, problem: string): never {
  throw new Error(`${join(dir, SPEC_FILE)}: ${problem}`);
}

/** Checks a parsed model.json; errors name the file and the field. */
export function checkModelSpec(value: unknown, dir: string): ModelSpec {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(dir, 'expected a JSON object');
  const spec = value as Partial<ModelSpec>;
  if (spec.format !== MODEL_FORMAT) fail(dir, `format: expected '${MODEL_FORMAT}', got ${JSON.stringify(spec.format)}`);
  if (spec.version !== MODEL_FORMAT_VERSION)
    fail(dir, `version: this catface reads version ${MODEL_FORMAT_VERSION}, got ${JSON.stringify(spec.version)}`);
  if (!Number.isInteger(spec.imageSize) || (spec.imageSize as number) < 16)
    fail(dir, `imageSize: expected an integer ≥ 16, got ${JSON.stringify(spec.imageSize)}`);
  if (!Array.isArray(spec.attributes) || !spec.attributes.every((a) => typeof a === 'string'))
    fail(dir, 'attributes: expected an array of names');
  if (spec.network === null || typeof spec.network !== 'object') fail(dir, 'network: expected an object (the network config)');
  if (spec.fusion !== null && (typeof spec.fusion !== 'object' || spec.fusion === undefined))
    fail(dir, 'fusion: expected an object or null');
  if (spec.defaultEmbedding !== 'fused' && spec.defaultEmbedding !== 'fr')
    fail(dir, `defaultEmbedding: expected 'fused' or 'fr', got ${JSON.stringify(spec.defaultEmbedding)}`);
  if (spec.defaultEmbedding === 'fused' && spec.fusion === null) fail(dir, "defaultEmbedding: 'fused' needs a fusion");
  if (spec.verifyThreshold !== null && typeof spec.verifyThreshold !== 'number') fail(dir, 'verifyThreshold: expected a number or null');
  if (spec.alignment !== undefined) {
    const { template, size } = spec.alignment as Partial<FaceAlignment>;
    if (template !== 'arcface' && template !== 'dlib')
      fail(dir, `alignment.template: expected 'arcface' or 'dlib', got ${JSON.stringify(template)}`);
    if (!Number.isInteger(size) || (size as number) < 16)
      fail(dir, `alignment.size: expected an integer ≥ 16, got ${JSON.stringify(size)}`);
  }
  return { provenance: {}, ...spec } as ModelSpec;
}

/** How photos are cropped for a model (directories without the field: ArcFace at the input size). */
export function modelAlignment(spec: ModelSpec): FaceAlignment {
  return spec.alignment ?? { template: 'arcface', size: spec.imageSize };
}

/** The model that ships with catface: `<package root>/models/default/`. */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../../models/default/', import.meta.url));

/** `dir`, or the shipped default model when none is given; a clear error when the default is missing. */
export function resolveModelDir(dir?: string): string {
  if (dir !== undefined) return dir;
  if (!existsSync(join(DEFAULT_MODEL_DIR, SPEC_FILE)))
    throw new Error(
      `no model given and the default model is missing (${DEFAULT_MODEL_DIR}); pass a model directory (--model DIR) from \`catface train\``,
    );
  return DEFAULT_MODEL_DIR;
}

/** Writes a model directory atomically (replacing an existing one). */
export function saveModelDir(dir: string, spec: ModelSpec, weights: Map<string, Tensor>): void {
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  saveSafetensors(join(tmp, WEIGHTS_FILE), weights, { format: MODEL_FORMAT });
  writeFileSync(join(tmp, SPEC_FILE), `${JSON.stringify(spec, null, 2)}\n`);
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

/** Reads a model directory: its spec and its weights (tensors owned by the caller). */
export function readModelDir(dir: string): { spec: ModelSpec; weights: Map<string, Tensor> } {
  const specPath = join(dir, SPEC_FILE);
  if (!existsSync(specPath)) throw new Error(`${dir}: not a catface model directory (no ${SPEC_FILE}; train one with \`catface train\`)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(specPath, 'utf8'));
  } catch (err) {
    throw new Error(`${specPath}: not valid JSON (${(err as Error).message})`);
  }
  const spec = checkModelSpec(parsed, dir);
  const weightsPath = join(dir, WEIGHTS_FILE);
  if (!existsSync(weightsPath)) throw new Error(`${dir}: ${WEIGHTS_FILE} is missing`);
  return { spec, weights: loadSafetensors(weightsPath).tensors };
}

/** The tensors under `prefix.` with the prefix removed. */
export function weightsUnder(weights: Map<string, Tensor>, prefix: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of weights) if (k.startsWith(`${prefix}.`)) out.set(k.slice(prefix.length + 1), v);
  return out;
}
