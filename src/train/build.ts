// From a validated TrainConfig to the modules the loop trains: the CATFace model (multi-branch network and
// stage-2 fusion), the FR margin head and the fused embedding's margin head, and the frozen pretrained teacher
// when the loss distils from it. `catfaceConfig` is the one place the training config's fields become the
// model's constructor configs.
import { MarginHead, type MarginHeadConfig } from '../losses/margin-head.js';
import { CATFace, type CATFaceConfig } from '../models/catface.js';
import { dlibToMultiBranch } from '../models/dlib-multi-branch.js';
import { type DlibResNet, loadFaceApiDlibResNet } from '../models/dlib-resnet.js';
import { readModelDir } from '../models/model-dir.js';
import { iresnetToMultiBranch } from '../models/multi-branch.js';
import { loadPretrainedIResNet } from '../models/pretrained.js';
import { loadSafetensors } from '../nn/safetensors.js';
import * as torch from '../torch/index.js';
import type { ClassParallelHead } from './class-parallel.js';
import type { TrainConfig } from './config.js';

export interface TrainModules {
  /** The network and the fusion: what the model directory saves. */
  model: CATFace;
  /** The frozen pretrained network (dlib backbone with loss.lambdaTeacher > 0); absent otherwise. */
  teacher?: DlibResNet;
  /** Whole heads, or this rank's slices of them with loss.partialFc (run.ts). */
  frHead: MarginHead | ClassParallelHead;
  fusedHead: MarginHead | ClassParallelHead;
}

/** The model's configs from the training config (the fusion is built even when stage 2 has no steps, so a resume can add them). */
export function catfaceConfig(config: TrainConfig): CATFaceConfig {
  const { pretrained: _, frozen: __, init: ___, fusion: kind, heads, groups, expandRatio, ...network } = config.model;
  return {
    network: { ...network, inputSize: config.data.imageSize, attributes: config.data.attributes.length },
    fusion: { kind, heads, groups, expandRatio, head: { embeddingSize: network.embeddingSize, dropout: network.dropout } },
  };
}

/** Loads the network weights (and BatchNorm statistics) of a model directory into `model.network`, strictly. */
function startFromModelDir(model: CATFace, dir: string): void {
  const { model: saved } = readModelDir(dir);
  try {
    torch.tidy(() => model.network.loadStateDict(saved.network.stateDict(), { source: `model.init ${dir}` }));
  } finally {
    saved.dispose();
  }
}

/** Builds (and, with model.pretrained, initialises) every module of a run for `classes` identities. */
export function buildModules(config: TrainConfig, classes: number): TrainModules {
  const model = CATFace.create(catfaceConfig(config));
  const source = config.model.pretrained;
  let teacher: DlibResNet | null = null;
  if (source === 'faceapi') {
    const dlib = loadFaceApiDlibResNet();
    model.network.loadStateDict(dlibToMultiBranch(dlib.stateDict()), { strict: false, source: "face-api.js's dlib ResNet-34" });
    if (config.loss.lambdaTeacher > 0) teacher = dlib.requiresGrad_(false);
    else dlib.dispose();
  } else if (source) {
    torch.tidy(() => {
      // insightface or AdaFace names, any wrapper prefix; stage 4 goes to both branches
      const { model: ir } = loadPretrainedIResNet(loadSafetensors(source).tensors, { source });
      try {
        model.network.loadStateDict(iresnetToMultiBranch(ir.stateDict()), { strict: false, source });
      } finally {
        ir.dispose();
      }
    });
  }
  if (config.model.init) startFromModelDir(model, config.model.init);
  for (const [name, p] of model.network.namedParameters())
    if (config.model.frozen.some((prefix) => name.startsWith(prefix))) p.requiresGrad = false;
  const margin: MarginHeadConfig = {
    classes,
    kind: config.loss.head,
    embeddingSize: config.model.embeddingSize,
    scale: config.loss.scale,
    h: config.loss.h,
    ...(config.loss.margin === null ? {} : { margin: config.loss.margin }),
  };
  return { model, ...(teacher ? { teacher } : {}), frHead: new MarginHead(margin), fusedHead: new MarginHead(margin) };
}
