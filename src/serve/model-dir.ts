// The model directory a training run exports and inference loads:
//   model.json            what the network is (architecture, fusion, input size, attributes, threshold)
//   weights.safetensors   the stage-1 network under `network.` and the fusion + fused head under `fusion.`
// No optimiser or margin-head state: only what inference needs. Written into a temporary directory and swapped
// in durably (src/io/durable.ts), so a reader never sees half a model and a crash never leaves none.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readableDir, writeDirDurably, writeFileSynced } from '../io/durable.js';
import type { FusionConfig } from '../models/fusion-base.js';
import type { MultiBranchConfig } from '../models/multi-branch.js';
import { loadSafetensors, serializeSafetensors } from '../nn/safetensors.js';
import type { Tensor } from '../torch/index.js';

export const MODEL_FORMAT = 'catface-model';
export const MODEL_FORMAT_VERSION = 1;

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
  return { provenance: {}, ...spec } as ModelSpec;
}

/** Writes a model directory durably (replacing an existing one). */
export function saveModelDir(dir: string, spec: ModelSpec, weights: Map<string, Tensor>): void {
  writeDirDurably(dir, (tmp) => {
    writeFileSynced(join(tmp, WEIGHTS_FILE), serializeSafetensors(weights, { format: MODEL_FORMAT }));
    writeFileSynced(join(tmp, SPEC_FILE), `${JSON.stringify(spec, null, 2)}\n`);
  });
}

/** Reads a model directory: its spec and its weights (tensors owned by the caller). */
export function readModelDir(requested: string): { spec: ModelSpec; weights: Map<string, Tensor> } {
  const dir = readableDir(requested) ?? requested; // a save interrupted mid-swap left the previous model
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
