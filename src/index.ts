// The package's public entry: `import { FaceModel, runTraining, … } from 'catface'`. The tensor library and the
// layer library come as namespaces (`torch`, `nn`); every other area's public API is re-exported by name.
// Sections follow the source paths' order and are separated by blank lines, so biome's import sorting keeps
// each section comment on its section.

// image conventions (SPEC §1)
export { pixelsToNormalized } from './common/image-convention.js';

// data
export { alignFace, templateFor } from './data/align/align-face.js';
export { alignFolder } from './data/align/align-folder.js';
export { detectAndAlign } from './data/align/align-image.js';
export type { FaceDataset, FaceSample, ImageLocator } from './data/dataset.js';
export { decodeImage } from './data/decode.js';
export { DataError } from './data/errors.js';
export { Loader, type LoaderBatch, type LoaderConfig } from './data/loader/loader.js';
export { DEFAULT_ATTRIBUTES, readAttributesCsv } from './data/readers/attributes.js';
export { readCelebA } from './data/readers/celeba.js';
export { readImageFolder } from './data/readers/image-folder.js';
export { type FacePair, type PairList, readLfwPairs, readPairList } from './data/readers/pairs.js';
export { readRecordIO, writeRecordIO } from './data/readers/recordio.js';
export { readVerificationBin, type VerificationSet } from './data/readers/verification-bin.js';
export { generateSynthDataset } from './data/synth/synth-dataset.js';

// degradations (SPEC §6)
export { type DegradedBatch, Degrader, type DegraderConfig } from './degrade/degrader.js';
export { Turbulence } from './degrade/turbulence.js';

// evaluation (SPEC §8)
export { attributeMetrics } from './eval/attributes.js';
export { bootstrap, pairedBootstrap } from './eval/bootstrap.js';
export { type Embedder, type EmbedOutput, embedAll, fuseFlips } from './eval/embedding.js';
export { closedSet, openSet, search } from './eval/identification.js';
export { pairScores } from './eval/pair-scores.js';
export { type Report, type ReportSection, writeReport } from './eval/report.js';
export { auc, eer, SortedScores, STANDARD_FARS, tarAtFar } from './eval/roc.js';
export { poolTemplates } from './eval/templates.js';
export { type TenFoldResult, tenFold } from './eval/tenfold.js';

// losses (SPEC §4)
export { type AttributeLossOptions, attributeLoss } from './losses/attribute-loss.js';
export { cbamMaps, type DistillationOptions, distillationLoss, mapDistance } from './losses/distillation.js';
export { MarginHead, type MarginHeadConfig, type MarginKind } from './losses/margin-head.js';

// models (SPEC §2, §3, §5)
export { AttributeHead } from './models/attribute-head.js';
export { CATF } from './models/catf.js';
export { CATFace, type CATFaceConfig } from './models/catface.js';
export { type Embedding, EmbeddingHead } from './models/embedding-head.js';
export { createFusion } from './models/fusion.js';
export { Fusion, type FusionConfig, type FusionKind, fusionKinds } from './models/fusion-base.js';
export { adafaceConfig, IResNet, type IResNetConfig, type IResNetName, iresnetConfig } from './models/iresnet.js';
export { MFFNL } from './models/mffnl.js';
export { type ModelMeta, type ModelSpec, readModelDir, saveModelDir } from './models/model-dir.js';
export { iresnetToMultiBranch, type MultiBranchConfig, MultiBranchNet, type MultiBranchOutput } from './models/multi-branch.js';
export { catfaceOnnxModel, exportOnnx, ONNX_INPUT, ONNX_OUTPUTS, type OnnxExportOptions } from './models/onnx-export.js';
export { inferIResNetConfig, loadPretrainedIResNet } from './models/pretrained.js';
export { SelfAttention } from './models/self-attention.js';

// layers, optimisers, schedules
export * as nn from './nn/index.js';
export * as optim from './nn/optim/index.js';
export * as schedulers from './nn/schedulers.js';

// inference
export { type EmbeddingKind, type FaceAnalysis, type FaceImage, FaceModel, type Verification } from './serve/face-model.js';
export { FaceModelWorker } from './serve/face-model-worker.js';
export {
  type AnalyzeOptions,
  type CropModel,
  type FaceLocation,
  FaceRecognizer,
  type PhotoAnalysis,
  type PhotoVerification,
  type RecognizedFace,
  type RecognizerOptions,
} from './serve/face-recognizer.js';

// tensors
export * as torch from './torch/index.js';

// training (SPEC §7)
export { listCheckpoints, readCheckpoint, writeCheckpoint } from './train/checkpoint.js';
export { loadTrainConfig, parseTrainConfig, type TrainConfig, trainConfigReference, trainConfigSchema } from './train/config.js';
export { type RunOptions, type RunResult, runTraining } from './train/run.js';
export { ConfigError } from './train/schema.js';
export { stage1Losses, stage2Loss } from './train/stage-losses.js';
export { type TrainerOptions, type TrainerParts, TrainingDivergedError, train } from './train/trainer.js';
