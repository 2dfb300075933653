// From a validated TrainConfig to the modules the loop trains: the multi-branch network, the FR margin head,
// the stage-2 fusion with its fused head and margin head; and the model directory's spec and weights.
import { MarginHead, type MarginHeadConfig } from '../losses/margin-head.js';
import { dlibToMultiBranch } from '../models/dlib-multi-branch.js';
import { type DlibResNet, loadFaceApiDlibResNet } from '../models/dlib-resnet.js';
import { createFusion } from '../models/fusion.js';
import type { Fusion, FusionConfig } from '../models/fusion-base.js';
import { type BranchNetwork, createMultiBranchNet, iresnetToMultiBranch, type MultiBranchConfig } from '../models/multi-branch.js';
import { loadPretrainedIResNet } from '../models/pretrained.js';
import { loadSafetensors } from '../nn/safetensors.js';
import { MODEL_FORMAT, MODEL_FORMAT_VERSION, type ModelSpec } from '../serve/model-dir.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';
import type { TrainConfig } from './config.js';

export interface TrainModules {
  network: BranchNetwork;
  /** The frozen pretrained network (dlib backbone with loss.lambdaTeacher > 0), or null. */
  teacher: DlibResNet | null;
  frHead: MarginHead;
  fusion: Fusion;
  fusedHead: MarginHead;
  networkConfig: MultiBranchConfig;
  fusionConfig: FusionConfig;
}

/** Builds (and, with model.pretrained, initialises) every module of a run for `classes` identities. */
export function buildModules(config: TrainConfig, classes: number): TrainModules {
  const m = config.model;
  const networkConfig: MultiBranchConfig = {
    backbone: m.backbone,
    depth: m.depth,
    widths: m.widths,
    inputSize: config.data.imageSize,
    attributes: config.data.attributes.length,
    embeddingSize: m.embeddingSize,
    dropout: m.dropout,
    attentionReduction: m.attentionReduction,
    shortcut: m.shortcut,
  };
  const network = createMultiBranchNet(networkConfig);
  let teacher: DlibResNet | null = null;
  if (m.pretrained === 'faceapi') {
    const dlib = loadFaceApiDlibResNet();
    network.loadStateDict(dlibToMultiBranch(dlib.stateDict()), { strict: false, source: "face-api.js's dlib ResNet-34" });
    if (config.loss.lambdaTeacher > 0) teacher = dlib.requiresGrad_(false);
    else dlib.dispose();
  } else if (m.pretrained) {
    torch.tidy(() => {
      const source = m.pretrained as string;
      // insightface or AdaFace names, any wrapper prefix; stage 4 goes to both branches
      const { model } = loadPretrainedIResNet(loadSafetensors(source).tensors, { source });
      try {
        network.loadStateDict(iresnetToMultiBranch(model.stateDict()), { strict: false, source });
      } finally {
        model.dispose();
      }
    });
  }
  for (const [name, p] of network.namedParameters()) if (m.frozen.some((prefix) => name.startsWith(prefix))) p.requiresGrad = false;
  const margin: MarginHeadConfig = {
    classes,
    kind: config.loss.head,
    embeddingSize: m.embeddingSize,
    scale: config.loss.scale,
    h: config.loss.h,
    ...(config.loss.margin === null ? {} : { margin: config.loss.margin }),
  };
  const fusionConfig: FusionConfig = {
    kind: m.fusion,
    channels: network.config.widths[3],
    height: network.mapSide,
    width: network.mapSide,
    heads: m.heads,
    groups: m.groups,
    expandRatio: m.expandRatio,
    head: { embeddingSize: m.embeddingSize, dropout: m.dropout },
  };
  return {
    network,
    teacher,
    frHead: new MarginHead(margin),
    fusion: createFusion(fusionConfig),
    fusedHead: new MarginHead(margin),
    networkConfig,
    fusionConfig,
  };
}

/** The model.json of a run's exported model directory. */
export function modelSpec(
  config: TrainConfig,
  modules: TrainModules,
  provenance: Record<string, unknown>,
  verifyThreshold: number | null = null,
): ModelSpec {
  const withFusion = config.stage2.steps > 0;
  return {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    imageSize: config.data.imageSize,
    alignment: { template: config.model.backbone === 'dlib' ? 'dlib' : 'arcface', size: config.data.imageSize },
    attributes: [...config.data.attributes],
    network: modules.networkConfig,
    fusion: withFusion ? modules.fusionConfig : null,
    defaultEmbedding: withFusion ? 'fused' : 'fr',
    verifyThreshold,
    provenance,
  };
}

/** The inference weights: `network.*` and, when stage 2 ran, `fusion.*` (live tensors, not copies). */
export function modelWeights(modules: TrainModules, withFusion: boolean): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of modules.network.stateDict()) out.set(`network.${k}`, v);
  if (withFusion) for (const [k, v] of modules.fusion.stateDict()) out.set(`fusion.${k}`, v);
  return out;
}
