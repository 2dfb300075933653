// Pretrained IR-ResNet weights from insightface (`iresnet`, names as ours) or AdaFace (`net.py`: input_layer,
// body.N.res_layer/shortcut_layer, output_layer), given as named tensors (read the safetensors file first).
// The architecture is read off the tensors, so a checkpoint of any depth, width or input size loads.
// Converting the published files to safetensors (python3 with torch and the `safetensors` package):
//   import torch; from safetensors.torch import save_file
//   ckpt = torch.load('adaface_ir101_webface12m.ckpt', map_location='cpu')   # or insightface's backbone.pth
//   state = ckpt.get('state_dict', ckpt)                                       # Lightning nests it; .pth is flat
//   state = {k: v.contiguous() for k, v in state.items() if torch.is_tensor(v)}
//   save_file(state, 'ir101.safetensors')                                      # `model.`/`head.` prefixes are handled here
// AdaFace models take BGR inputs, insightface's RGB, both normalised as (x/255 − 0.5)/0.5.
import { zeros } from '../torch/creation.js';
import type { Tensor } from '../torch/tensor.js';
import { adafaceConfig, IResNet, type IResNetConfig, iresnetConfig } from './iresnet.js';

export type PretrainedFormat = 'insightface' | 'adaface';

export interface PretrainedIResNet {
  model: IResNet;
  format: PretrainedFormat;
  config: IResNetConfig;
  /** Keys outside the backbone that were set aside (an AdaFace checkpoint's `head.kernel`, …). */
  ignored: string[];
}

const WRAPPERS = ['model.', 'module.', 'backbone.'];
const RES_LAYER = ['bn1', 'conv1', 'bn2', 'prelu', 'conv2', 'bn3'];
const INPUT_LAYER: Record<string, string> = { 0: 'conv1', 1: 'bn1', 2: 'prelu' };
const OUTPUT_LAYER: Record<string, string> = { 0: 'bn2', 3: 'fc', 4: 'features' };

/** Strips a training wrapper's prefix (Lightning's `model.`, DataParallel's `module.`); other keys are set aside. */
function unwrap(state: Map<string, Tensor>): { backbone: Map<string, Tensor>; ignored: string[] } {
  const prefix = WRAPPERS.find((p) => [...state.keys()].some((k) => k.startsWith(`${p}conv1.`) || k.startsWith(`${p}input_layer.`)));
  if (!prefix) return { backbone: state, ignored: [] };
  const backbone = new Map<string, Tensor>();
  const ignored: string[] = [];
  for (const [k, v] of state) {
    if (k.startsWith(prefix)) backbone.set(k.slice(prefix.length), v);
    else ignored.push(k);
  }
  return { backbone, ignored };
}

function detectFormat(state: Map<string, Tensor>, source: string): PretrainedFormat {
  if (state.has('conv1.weight')) return 'insightface';
  if (state.has('input_layer.0.weight')) return 'adaface';
  const sample = [...state.keys()].slice(0, 5).join(', ');
  throw new Error(
    `${source}: not an IR-ResNet checkpoint: neither 'conv1.weight' (insightface) nor 'input_layer.0.weight' (AdaFace) is present (keys: ${sample}, …)`,
  );
}

function shapeOf(state: Map<string, Tensor>, key: string, source: string): number[] {
  const t = state.get(key);
  if (!t) throw new Error(`${source}: missing '${key}'`);
  return t.shape;
}

/** Renames AdaFace `net.py` keys to insightface's; `blocksPerStage` maps the flat body index to layerS.J. */
function adafaceToInsightface(state: Map<string, Tensor>, blocksPerStage: number[], source: string): Map<string, Tensor> {
  const flat: [number, number][] = blocksPerStage.flatMap((n, s) => Array.from({ length: n }, (_, j) => [s + 1, j] as [number, number]));
  const out = new Map<string, Tensor>();
  for (const [key, value] of state) {
    const parts = key.split('.');
    let renamed: string | undefined;
    if (parts[0] === 'input_layer' && INPUT_LAYER[parts[1]]) renamed = [INPUT_LAYER[parts[1]], ...parts.slice(2)].join('.');
    else if (parts[0] === 'output_layer' && OUTPUT_LAYER[parts[1]]) renamed = [OUTPUT_LAYER[parts[1]], ...parts.slice(2)].join('.');
    else if (parts[0] === 'body') {
      const [stage, block] = flat[Number(parts[1])] ?? [];
      const inner =
        parts[2] === 'res_layer' ? RES_LAYER[Number(parts[3])] : parts[2] === 'shortcut_layer' ? `downsample.${parts[3]}` : undefined;
      if (stage !== undefined && inner !== undefined) renamed = [`layer${stage}`, block, inner, ...parts.slice(4)].join('.');
    }
    if (!renamed) throw new Error(`${source}: unexpected AdaFace key '${key}' (not part of net.py's IR backbone)`);
    out.set(renamed, value);
  }
  return out;
}

/** Blocks per stage, read off the keys ('layer2.5.conv1.weight' or AdaFace's flat 'body.12.…' with widths). */
function countBlocks(state: Map<string, Tensor>, format: PretrainedFormat, source: string): { layers: number[]; widths: number[] } {
  if (format === 'insightface') {
    const layers: number[] = [];
    const widths: number[] = [];
    for (let s = 1; state.has(`layer${s}.0.conv1.weight`); s++) {
      let n = 0;
      while (state.has(`layer${s}.${n}.conv1.weight`)) n++;
      layers.push(n);
      widths.push(shapeOf(state, `layer${s}.0.conv1.weight`, source)[0]);
    }
    return { layers, widths };
  }
  // AdaFace: a new stage starts where a block's stride-2 conv changes width, or at a shortcut-bearing block.
  const widths: number[] = [];
  const layers: number[] = [];
  for (let i = 0; state.has(`body.${i}.res_layer.1.weight`); i++) {
    const width = shapeOf(state, `body.${i}.res_layer.1.weight`, source)[0];
    const firstOfStage = i === 0 || width !== widths[widths.length - 1];
    if (firstOfStage) {
      widths.push(width);
      layers.push(1);
    } else layers[layers.length - 1]++;
  }
  return { layers, widths };
}

/** The IResNet config a checkpoint was trained with (depth, widths, input size, embedding size, style). */
export function inferIResNetConfig(state: Map<string, Tensor>, source = 'checkpoint'): { format: PretrainedFormat; config: IResNetConfig } {
  const { backbone } = unwrap(state);
  const format = detectFormat(backbone, source);
  const { layers, widths } = countBlocks(backbone, format, source);
  if (layers.length === 0) throw new Error(`${source}: no residual blocks found`);
  const fcKey = format === 'insightface' ? 'fc.weight' : 'output_layer.3.weight';
  const [embeddingSize, fcIn] = shapeOf(backbone, fcKey, source);
  const side = Math.sqrt(fcIn / widths[widths.length - 1]);
  if (!Number.isInteger(side))
    throw new Error(`${source}: ${fcKey} has ${fcIn} inputs, not ${widths[widths.length - 1]}·side² for a square map`);
  // Inputs that map onto `side` after the stride-2 stages: the usual one is side·2^stages (112 for 7).
  const inputSize = side * 2 ** widths.length;
  const overrides = { widths, inputSize, embeddingSize };
  const base = format === 'adaface' ? adafaceConfig('ir18', overrides) : iresnetConfig('ir18', overrides);
  return { format, config: { ...base, layers } };
}

/**
 * Builds an IResNet from a pretrained state (insightface or AdaFace names, optionally under a `model.` /
 * `module.` / `backbone.` prefix) and loads it strictly. Missing `num_batches_tracked` buffers (older
 * checkpoints) start at 0 as in PyTorch. `overrides` change non-structural settings (e.g. dropout).
 */
export function loadPretrainedIResNet(
  state: Map<string, Tensor>,
  options: { source?: string; overrides?: Partial<Pick<IResNetConfig, 'dropout'>> } = {},
): PretrainedIResNet {
  const source = options.source ?? 'checkpoint';
  const { backbone, ignored } = unwrap(state);
  const { format, config: inferred } = inferIResNetConfig(backbone, source);
  const config = { ...inferred, ...options.overrides };
  const named = format === 'adaface' ? adafaceToInsightface(backbone, [...config.layers], source) : backbone;
  const model = new IResNet(config);
  const complete = new Map(named);
  const created: Tensor[] = [];
  for (const key of model.stateDict().keys()) {
    if (key.endsWith('.num_batches_tracked') && !complete.has(key)) {
      const zero = zeros([], { dtype: 'int64' });
      created.push(zero);
      complete.set(key, zero);
    }
  }
  try {
    model.loadStateDict(complete, { source });
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    for (const t of created) t.dispose();
  }
  return { model, format, config, ignored };
}
