// face-api's pretrained dlib ResNet-34 (from its npm weights, run by catface on libtorch) as the photo
// pipeline's model: real-face embeddings for tests before a trained CATFace model directory exists.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DLIB_INPUT_SIZE, type DlibResNet, dlibResNetFromFaceApi, type TfjsManifest } from '../../src/models/dlib-resnet.js';
import type { CropModel } from '../../src/serve/face-recognizer.js';
import * as torch from '../../src/torch/index.js';

const require = createRequire(import.meta.url);

/** face-api's dlib descriptor network with its npm weights. */
export function loadFaceApiDlib(): DlibResNet {
  const dir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  const manifestPath = join(dir, 'face_recognition_model-weights_manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as TfjsManifest;
  const shards = new Map(manifest.flatMap((g) => g.paths).map((p) => [p, new Uint8Array(readFileSync(join(dir, p)))] as const));
  return dlibResNetFromFaceApi(manifest, shards, manifestPath);
}

/** The dlib network as a CropModel: 150×150 dlib face chips → unit 128-d embeddings, norm as quality. */
export function dlibCropModel(network: DlibResNet): CropModel {
  const size = DLIB_INPUT_SIZE;
  network.eval();
  return {
    spec: { attributes: [], verifyThreshold: null },
    alignment: { template: 'dlib', size },
    async analyzeCrops(crops) {
      const out = torch.tidy(() => {
        const batch = torch.stack(crops.map((c) => torch.fromTypedArray(c, [size, size, 3]).permute(2, 0, 1).float()));
        return torch.noGrad(() => network.forward(batch));
      });
      const values = out.dataSync() as Float32Array;
      out.dispose();
      const dim = values.length / crops.length;
      return crops.map((_, i) => {
        const e = values.slice(i * dim, (i + 1) * dim);
        const norm = Math.hypot(...e);
        return { embedding: e.map((v) => v / norm), quality: norm, attributes: {} };
      });
    },
  };
}
