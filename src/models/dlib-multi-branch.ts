// The multi-branch network on dlib's ResNet-34 (face-api.js's recognition net, trained on ~3 M real faces):
// shared trunk = dlib's stem and its 32/64/128-channel stages; the FR and SB branches each own a copy of the
// 256-channel stage (conv256_down, conv256_1, conv256_2: 4×4 maps on a 150 chip) and a self-attention block;
// the FR head is dlib's last down block + average pool + 128-d projection, the SB head one logit per attribute.
// The self-attention starts as the identity (γ = 0), so with dlib's weights loaded by `dlibToMultiBranch` the FR
// embedding equals the standalone network's descriptor (direction; the norm is the descriptor's norm).

import { Sequential } from '../nn/containers.js';
import type { Layer } from '../nn/layer.js';
import { Module, type StateDict } from '../nn/module.js';
import type { OnnxGraph, OnnxValue } from '../nn/onnx-graph.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';
import { AttributeHead } from './attribute-head.js';
import { DLIB_INPUT_SIZE, DLIB_RGB_MEAN, DlibProjection, DlibStem, dlibBlocks } from './dlib-resnet.js';
import { type Embedding, type EmbeddingValues, unitWithNorm } from './embedding-head.js';
import type { BranchTaps, MultiBranchOutput, MultiBranchValues, ResolvedMultiBranchConfig } from './multi-branch.js';
import { SelfAttention } from './self-attention.js';

/** Blocks in the shared trunk (after the stem) and in each branch; the last block belongs to the FR head. */
const TRUNK_BLOCKS = 10;
const BRANCH_BLOCKS = 3;
const CHANNELS = 256;
/** Side of the branch maps on a 150 chip (dlib pads the stride-2 conv path to the pooled shortcut: 8 → 4). */
const MAP_SIDE = 4;
/** The `blocks` of a trunk cache that holds the chips themselves: nothing of the trunk runs before it. */
const CHIPS = -1;

function blocks(from: number, count: number): Sequential {
  const all = dlibBlocks().slice(from, from + count);
  const seq = new Sequential(...all.map(([, layer]) => layer as Layer));
  return seq;
}

/** dlib's tail: the last down block, average pool, 128-d projection → unit embedding and its norm. */
export class DlibEmbeddingHead extends Module {
  readonly down = this.module('down', dlibBlocks()[TRUNK_BLOCKS + BRANCH_BLOCKS][1]);
  readonly fc = this.module('fc', new DlibProjection(CHANNELS, 128));
  forward(map: Tensor): Embedding {
    return torch.tidy(() => {
      const f = this.fc.forward(this.down.forward(map).mean([2, 3]));
      const norm = f.norm(2, 1, true);
      return { embedding: f.div(norm), norm };
    });
  }
  toOnnx(g: OnnxGraph, map: OnnxValue): EmbeddingValues {
    return unitWithNorm(g, this.fc.toOnnx(g, g.reduce('ReduceMean', this.down.toOnnx(g, map), [2, 3], false)));
  }
}

export class DlibMultiBranchNet extends Module {
  readonly config: ResolvedMultiBranchConfig;
  readonly mapSide = MAP_SIDE;
  readonly stem: DlibStem;
  readonly trunk_blocks: Sequential;
  readonly fr_stage: Sequential;
  readonly sb_stage: Sequential;
  readonly fr_attention: SelfAttention;
  readonly sb_attention: SelfAttention;
  readonly fr_head: DlibEmbeddingHead;
  readonly sb_head: AttributeHead;
  /** Maps catface's input (x/127.5 − 1) to dlib's ((x − mean)/255): x·0.5 + (127.5 − mean)/255. */
  private readonly offset: Tensor;

  constructor(config: ResolvedMultiBranchConfig) {
    super();
    if (config.inputSize !== DLIB_INPUT_SIZE)
      throw new RangeError(`MultiBranchNet (dlib backbone): config.inputSize must be ${DLIB_INPUT_SIZE}, got ${config.inputSize}`);
    if (config.embeddingSize !== 128)
      throw new RangeError(`MultiBranchNet (dlib backbone): config.embeddingSize must be 128, got ${config.embeddingSize}`);
    this.config = { ...config, widths: [32, 64, 128, CHANNELS] };
    this.stem = this.module('stem', new DlibStem());
    this.trunk_blocks = this.module('trunk', blocks(0, TRUNK_BLOCKS));
    this.fr_stage = this.module('fr_stage', blocks(TRUNK_BLOCKS, BRANCH_BLOCKS));
    this.sb_stage = this.module('sb_stage', blocks(TRUNK_BLOCKS, BRANCH_BLOCKS));
    this.fr_attention = this.module('fr_attention', new SelfAttention(CHANNELS, { reduction: config.attentionReduction }));
    this.sb_attention = this.module('sb_attention', new SelfAttention(CHANNELS, { reduction: config.attentionReduction }));
    this.fr_head = this.module('fr_head', new DlibEmbeddingHead());
    this.sb_head = this.module('sb_head', new AttributeHead(CHANNELS, config.attributes));
    this.offset = this.buffer('input_offset', torch.tensor(DLIB_RGB_MEAN.map((m) => (127.5 - m) / 255)).view(1, 3, 1, 1), false);
  }

  /**
   * Stem and the first `blocks` trunk blocks on images [B, 3, 150, 150] in [−1, 1]; all of them (the 32/64/128
   * stages) → [B, 128, 8, 8]. Fewer: the features a trunk cache holds, finished by `trunkFrom`; −1: the images
   * themselves (a cache of chips, where the stem trains too).
   */
  trunk(images: Tensor, blocks: number = TRUNK_BLOCKS): Tensor {
    if (blocks === CHIPS) return images.mul(1);
    const s = this.config.inputSize;
    if (images.ndim !== 4 || images.shape[1] !== 3 || images.shape[2] !== s || images.shape[3] !== s) {
      throw new RangeError(`MultiBranchNet: expected images [B, 3, ${s}, ${s}], got [${images.shape}]`);
    }
    const input = images.mul(0.5).add(this.offset);
    const stem = this.stem.forward(input);
    input.dispose();
    return this.runBlocks(stem, 0, blocks);
  }

  /** The trunk blocks from `fromBlock` on, on the output of the blocks before it (`trunk(images, fromBlock)`). */
  trunkFrom(features: Tensor, fromBlock: number): Tensor {
    if (fromBlock === CHIPS) return this.trunk(features);
    return this.runBlocks(features.mul(1), fromBlock, TRUNK_BLOCKS);
  }

  private runBlocks(x: Tensor, from: number, to: number): Tensor {
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && from <= to && to <= TRUNK_BLOCKS))
      throw new RangeError(`MultiBranchNet: trunk blocks ${from}…${to} are outside 0…${TRUNK_BLOCKS}`);
    let out = x;
    for (let i = from; i < to; i++) {
      const next = this.trunk_blocks.at(i).forward(out);
      out.dispose();
      out = next;
    }
    return out;
  }

  branches(trunk: Tensor): { fr: BranchTaps; sb: BranchTaps } {
    const branch = (stage: Sequential, attention: SelfAttention): BranchTaps => {
      const features = stage.forward(trunk);
      const taps = attention.forward(features);
      features.dispose();
      return taps;
    };
    return { fr: branch(this.fr_stage, this.fr_attention), sb: branch(this.sb_stage, this.sb_attention) };
  }

  forwardBranches(images: Tensor): { fr: BranchTaps; sb: BranchTaps } {
    const trunk = this.trunk(images);
    const taps = this.branches(trunk);
    trunk.dispose();
    return taps;
  }

  /** The rest of the trunk, the branches and the heads on the features of the first `fromBlock` trunk blocks (a trunk cache's). */
  forwardFromTrunk(features: Tensor, fromBlock: number = TRUNK_BLOCKS): MultiBranchOutput {
    const trunk = this.trunkFrom(features, fromBlock);
    const { fr, sb } = this.branches(trunk);
    trunk.dispose();
    const { embedding, norm } = this.fr_head.forward(fr.map);
    return { embedding, norm, attributes: this.sb_head.forward(sb.map), fr, sb };
  }

  forward(images: Tensor): MultiBranchOutput {
    const trunk = this.trunk(images);
    const out = this.forwardFromTrunk(trunk);
    trunk.dispose();
    return out;
  }

  toOnnx(g: OnnxGraph, images: OnnxValue): MultiBranchValues {
    const input = g.add(g.mul(images, 0.5), g.weight(this.offset, 'input_offset'));
    const trunk = this.trunk_blocks.toOnnx(g, this.stem.toOnnx(g, input));
    const frMap = this.fr_attention.toOnnx(g, this.fr_stage.toOnnx(g, trunk));
    const sbMap = this.sb_attention.toOnnx(g, this.sb_stage.toOnnx(g, trunk));
    return { ...this.fr_head.toOnnx(g, frMap), attributes: this.sb_head.toOnnx(g, sbMap), frMap, sbMap };
  }
}

/**
 * Renames a DlibResNet state dict (face-api's names) to DlibMultiBranchNet's: the stem and first ten blocks to
 * the trunk, conv256_down…conv256_2 to both branches, conv256_down_out and fc to the FR head. Load the result
 * with `{ strict: false }`: the self-attention blocks and the SB head stay as initialised.
 */
export function dlibToMultiBranch(state: StateDict): StateDict {
  const names = dlibBlocks().map(([name]) => name);
  const out: StateDict = new Map();
  for (const [key, value] of state) {
    const [first, ...rest] = key.split('.');
    const tail = rest.join('.');
    const index = names.indexOf(first);
    if (first === 'conv32_down') out.set(`stem.${key}`, value);
    else if (first === 'fc') out.set(`fr_head.fc.${tail}`, value);
    else if (index < 0)
      continue; // rgb_mean: the input offset replaces it
    else if (index < TRUNK_BLOCKS) out.set(`trunk.${index}.${tail}`, value);
    else if (index < TRUNK_BLOCKS + BRANCH_BLOCKS) {
      out.set(`fr_stage.${index - TRUNK_BLOCKS}.${tail}`, value);
      out.set(`sb_stage.${index - TRUNK_BLOCKS}.${tail}`, value);
    } else out.set(`fr_head.down.${tail}`, value);
  }
  return out;
}
