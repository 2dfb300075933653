// The model directory a training run exports and inference loads:
//   model.json            what the model is: the resolved network and fusion configs (each stored once; the input
//                         size is the network's), attribute names, default embedding, threshold, provenance
//   weights.safetensors   the CATFace module's state dict (`network.…`, and `fusion.…` when stage 2 ran)
// No optimiser or margin-head state: only what inference needs. Written into a temporary directory and swapped
// in durably (src/io/durable.ts), so a reader never sees half a model and a crash never leaves none. Version 1 directories (imageSize beside the network config,
// the fusion with its map geometry) are still read; their weights have the same names.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readableDir, writeDirDurably, writeFileSynced } from '../io/durable.js';
import { loadSafetensors, serializeSafetensors } from '../nn/safetensors.js';
import * as torch from '../torch/index.js';
import { CATFace, type EmbeddingKind, type ResolvedCATFaceConfig } from './catface.js';
import { type FusionConfig, resolveFusionOptions } from './fusion-base.js';
import { type MultiBranchConfig, resolveMultiBranchConfig } from './multi-branch.js';

export const MODEL_FORMAT = 'catface-model';
export const MODEL_FORMAT_VERSION = 2;

/** The 5-point template a model's crops are aligned to, and the crop side in pixels (the network's input size). */
export interface FaceAlignment {
  template: 'arcface' | 'dlib';
  size: number;
}

/** What a model directory says besides the module configs. */
export interface ModelMeta {
  /** How photos are cropped for this model (absent: ArcFace at the input size). */
  alignment?: FaceAlignment;
  /** Names of the SB branch's attribute logits, in order. */
  attributes: string[];
  /** Which embedding `embed` returns by default: the fused one (CATFace) or the FR branch's (baseline). */
  defaultEmbedding: EmbeddingKind;
  /** Cosine-similarity threshold for `verify`, chosen on validation pairs (null: none chosen yet). */
  verifyThreshold: number | null;
  /** Free-form provenance (training steps, config file, date). */
  provenance: Record<string, unknown>;
}

/** model.json: the format, the model's resolved configs and the meta fields. */
export interface ModelSpec extends ResolvedCATFaceConfig, ModelMeta {
  format: typeof MODEL_FORMAT;
  version: typeof MODEL_FORMAT_VERSION;
}

const SPEC_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.safetensors';

function fail(dir: string, problem: string): never {
  throw new Error(`${join(dir, SPEC_FILE)}: ${problem}`);
}

/** The network and fusion configs of a version-1 model.json, as version 2 stores them. */
function upgradeVersion1(spec: Record<string, unknown>, dir: string): ResolvedCATFaceConfig {
  const network = resolveMultiBranchConfig(spec.network as MultiBranchConfig);
  if (spec.imageSize !== network.inputSize)
    fail(dir, `imageSize: ${JSON.stringify(spec.imageSize)} differs from network.inputSize ${network.inputSize}`);
  const fusion = spec.fusion as FusionConfig | null;
  return { network, fusion: fusion ? resolveFusionOptions(fusion) : null };
}

/** Checks a parsed model.json (version 1 or 2) and returns it as version 2; errors name the file and the field. */
export function checkModelSpec(value: unknown, dir: string): ModelSpec {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(dir, 'expected a JSON object');
  const spec = value as Record<string, unknown>;
  if (spec.format !== MODEL_FORMAT) fail(dir, `format: expected '${MODEL_FORMAT}', got ${JSON.stringify(spec.format)}`);
  if (spec.version !== 1 && spec.version !== MODEL_FORMAT_VERSION)
    fail(dir, `version: this catface reads versions 1 and ${MODEL_FORMAT_VERSION}, got ${JSON.stringify(spec.version)}`);
  if (!Array.isArray(spec.attributes) || !spec.attributes.every((a) => typeof a === 'string'))
    fail(dir, 'attributes: expected an array of names');
  if (spec.network === null || typeof spec.network !== 'object') fail(dir, 'network: expected an object (the network config)');
  if (spec.fusion !== null && (typeof spec.fusion !== 'object' || spec.fusion === undefined))
    fail(dir, 'fusion: expected an object or null');
  if (spec.defaultEmbedding !== 'fused' && spec.defaultEmbedding !== 'fr')
    fail(dir, `defaultEmbedding: expected 'fused' or 'fr', got ${JSON.stringify(spec.defaultEmbedding)}`);
  if (spec.defaultEmbedding === 'fused' && spec.fusion === null) fail(dir, "defaultEmbedding: 'fused' needs a fusion");
  if (spec.verifyThreshold !== null && typeof spec.verifyThreshold !== 'number') fail(dir, 'verifyThreshold: expected a number or null');
  let configs: ResolvedCATFaceConfig;
  try {
    configs =
      spec.version === 1
        ? upgradeVersion1(spec, dir)
        : {
            network: resolveMultiBranchConfig(spec.network as MultiBranchConfig),
            fusion: spec.fusion ? resolveFusionOptions(spec.fusion) : null,
          };
  } catch (err) {
    if (err instanceof RangeError) fail(dir, err.message);
    throw err;
  }
  if (configs.network.attributes !== spec.attributes.length)
    fail(dir, `attributes: ${spec.attributes.length} names for the network's ${configs.network.attributes} attribute logits`);
  if (spec.alignment !== undefined) {
    const { template, size } = spec.alignment as Partial<FaceAlignment>;
    if (template !== 'arcface' && template !== 'dlib')
      fail(dir, `alignment.template: expected 'arcface' or 'dlib', got ${JSON.stringify(template)}`);
    if (size !== configs.network.inputSize)
      fail(dir, `alignment.size: expected the input size ${configs.network.inputSize}, got ${JSON.stringify(size)}`);
  }
  return {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    ...configs,
    ...(spec.alignment ? { alignment: spec.alignment as FaceAlignment } : {}),
    attributes: spec.attributes as string[],
    defaultEmbedding: spec.defaultEmbedding as EmbeddingKind,
    verifyThreshold: spec.verifyThreshold as number | null,
    provenance: (spec.provenance as Record<string, unknown> | undefined) ?? {},
  };
}

/** How photos are cropped for a model (directories without the field: ArcFace at the input size). */
export function modelAlignment(spec: ModelSpec): FaceAlignment {
  return spec.alignment ?? { template: 'arcface', size: spec.network.inputSize };
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

/**
 * Writes a model directory atomically (replacing an existing one): the model's configs and state dict; with
 * `float16` the floating-point weights are stored in half precision (half the size; loaded back into float32).
 */
export function saveModelDir(dir: string, model: CATFace, meta: ModelMeta, options: { float16?: boolean } = {}): ModelSpec {
  if (meta.defaultEmbedding === 'fused' && !model.fusion) throw new Error(`${dir}: defaultEmbedding 'fused' needs a model with a fusion`);
  const spec: ModelSpec = { format: MODEL_FORMAT, version: MODEL_FORMAT_VERSION, ...model.config, ...meta };
  const state = model.stateDict();
  const halves = new Map(options.float16 ? [...state].filter(([, v]) => v.isFloatingPoint).map(([k, v]) => [k, v.to('float16')]) : []);
  try {
    writeDirDurably(dir, (tmp) => {
      const weights = new Map([...state].map(([k, v]) => [k, halves.get(k) ?? v]));
      writeFileSynced(join(tmp, WEIGHTS_FILE), serializeSafetensors(weights, { format: MODEL_FORMAT }));
      writeFileSynced(join(tmp, SPEC_FILE), `${JSON.stringify(spec, null, 2)}\n`);
    });
  } finally {
    torch.dispose([...halves.values()]);
  }
  return spec;
}

/** What a model directory's outputs depend on, for caches: its path and its files' sizes and modification times. */
export function modelDirStamp(requested: string): string {
  const dir = readableDir(requested) ?? requested;
  const stamps = [SPEC_FILE, WEIGHTS_FILE].map((f) => {
    if (!existsSync(join(dir, f))) throw new Error(`${dir}: not a complete catface model directory (no ${f})`);
    const s = statSync(join(dir, f));
    return `${f}:${s.size}:${s.mtimeMs}`;
  });
  return [resolve(dir), ...stamps].join('\n');
}

/** Reads a model directory: its spec and the model with its weights loaded, in eval mode (owned by the caller). */
export function readModelDir(requested: string): { spec: ModelSpec; model: CATFace } {
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
  const weights = loadSafetensors(weightsPath).tensors;
  const model = CATFace.create(spec);
  try {
    model.loadStateDict(weights, { source: weightsPath });
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    torch.dispose([...weights.values()]);
  }
  return { spec, model: model.eval() };
}
