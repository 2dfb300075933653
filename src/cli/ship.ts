// `catface ship`: writes the model directory catface ships as its default (models/default): the model's
// weights in fp16 (half the size; loaded back into float32), its model.json with the verification threshold,
// and manifest.json — what produced it (config, commit), on which data split, and its validation figures.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileDurably } from '../io/durable.js';
import { CATFace } from '../models/catface.js';
import { dlibToMultiBranch } from '../models/dlib-multi-branch.js';
import { loadFaceApiDlibResNet } from '../models/dlib-resnet.js';
import { type ModelMeta, readModelDir, saveModelDir } from '../models/model-dir.js';
import { createMultiBranchNet } from '../models/multi-branch.js';
import { type Command, UsageError } from './command.js';

/** face-api.js's dlib network alone as a model (FR branch = the pretrained descriptor; no fusion) and its meta. */
function pretrainedModel(): { model: CATFace; meta: ModelMeta } {
  const network = createMultiBranchNet({ backbone: 'dlib', inputSize: 150, embeddingSize: 128, attributes: 1 });
  const dlib = loadFaceApiDlibResNet();
  network.loadStateDict(dlibToMultiBranch(dlib.stateDict()), { strict: false, source: "face-api.js's dlib ResNet-34" });
  dlib.dispose();
  const meta: ModelMeta = {
    alignment: { template: 'dlib', size: 150 },
    attributes: ['male'],
    defaultEmbedding: 'fr',
    verifyThreshold: null,
    provenance: { source: "face-api.js's dlib ResNet-34 weights (@vladmandic/face-api npm package), untrained SB head" },
  };
  return { model: new CATFace(network, null), meta };
}

/** A trained model directory's model and the meta fields of its spec. */
function modelAndMeta(dir: string): { model: CATFace; meta: ModelMeta } {
  const { spec, model } = readModelDir(dir);
  const { alignment, attributes, defaultEmbedding, verifyThreshold, provenance } = spec;
  return { model, meta: { ...(alignment ? { alignment } : {}), attributes, defaultEmbedding, verifyThreshold, provenance } };
}

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));

export const shipCommand: Command = {
  name: 'ship',
  summary: 'write a model as the shipped default (fp16 weights, threshold, manifest.json)',
  usage: [
    'catface ship (--model DIR | --pretrained) --out DIR [--config FILE] [--split FILE] [--eval FILE] [--training FILE]',
    '             [--threshold T --far F] [--embedding fr|fused]',
    '',
    '  --model DIR      a trained model directory (runs/<run>/model)',
    "  --pretrained     face-api.js's dlib network alone (FR embedding only; attributes untrained)",
    '  --config FILE    the training config that produced the model (copied into the manifest)',
    '  --split FILE     split.json of catface lfw prepare (counts and folds go into the manifest)',
    '  --eval FILE      validation figures (catface eval photos --json output) for the manifest',
    "  --training FILE  JSON of how the model was trained and chosen (wall times, held-out figures): the manifest's `training`",
    '  --threshold T    cosine threshold of `verify`, calibrated on validation pairs at FAR F',
    "  --embedding fr|fused  the embedding the shipped model computes by default (default: the model's own;",
    '                   choose it on held-out training people, never on validation)',
  ].join('\n'),
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        pretrained: { type: 'boolean', default: false },
        out: { type: 'string' },
        config: { type: 'string' },
        split: { type: 'string' },
        eval: { type: 'string' },
        training: { type: 'string' },
        threshold: { type: 'string' },
        far: { type: 'string' },
        embedding: { type: 'string' },
      },
    });
    if (!values.out) throw new UsageError('--out DIR is required');
    if (!values.model === !values.pretrained) throw new UsageError('give either --model DIR or --pretrained');
    const threshold = values.threshold === undefined ? null : Number(values.threshold);
    if (threshold !== null && !(threshold >= -1 && threshold <= 1))
      throw new UsageError(`--threshold must be in [-1, 1], got '${values.threshold}'`);
    const far = values.far === undefined ? null : Number(values.far);
    if ((threshold === null) !== (far === null)) throw new UsageError('--threshold and --far go together');
    const { model, meta } = values.pretrained ? pretrainedModel() : modelAndMeta(values.model as string);
    if (values.embedding !== undefined) {
      if (values.embedding !== 'fr' && values.embedding !== 'fused') {
        model.dispose();
        throw new UsageError(`--embedding must be fr or fused, got '${values.embedding}'`);
      }
      if (values.embedding === 'fused' && !model.fusion) {
        model.dispose();
        throw new UsageError('--embedding fused: the model has no fusion (stage 2 was not trained)');
      }
      meta.defaultEmbedding = values.embedding;
    }
    try {
      saveModelDir(values.out, model, { ...meta, verifyThreshold: threshold }, { float16: true });
    } finally {
      model.dispose();
    }
    let commit = 'unknown';
    try {
      commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    } catch {}
    let split: unknown = null;
    if (values.split) {
      const { validationPeople: _v, holdoutPeople: _h, ...counts } = readJson(values.split) as Record<string, unknown>;
      split = counts;
    }
    const manifest = {
      model: values.pretrained ? "face-api.js's dlib ResNet-34 alone (interim default)" : `trained: ${values.model}`,
      defaultEmbedding: meta.defaultEmbedding,
      commit,
      config: values.config ? readJson(values.config) : null,
      split,
      training: values.training ? readJson(values.training) : null,
      verifyThreshold:
        threshold === null
          ? null
          : { cosine: threshold, targetFar: far, calibratedOn: 'validation pairs (all pairs among the validation photos, clean)' },
      validation: values.eval && existsSync(values.eval) ? readJson(values.eval) : null,
      writtenAt: new Date().toISOString(),
    };
    writeFileDurably(join(values.out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    console.log(`wrote ${values.out} (model.json, weights.safetensors in fp16, manifest.json)`);
    return 0;
  },
};
