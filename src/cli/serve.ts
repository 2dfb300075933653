// `catface serve`: the HTTP face service with its gallery and web page.
import { parseArgs } from 'node:util';
import { resolveModelDir } from '../models/model-dir.js';
import { TokenAuth } from '../serve/http/auth.js';
import { startService } from '../serve/http/service.js';
import { usearchIndex } from '../serve/usearch-index.js';
import { type Command, UsageError } from './command.js';
import { parseBackend, parseDetector } from './photos.js';

function integer(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${flag} must be an integer in [${min}, ${max}], got '${value}'`);
  return n;
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'HTTP face service: verify, identify, analyze, embed, a persistent gallery and a web page',
  usage: [
    'catface serve [--port 8080] [--host 127.0.0.1] [--model DIR] [--gallery FILE] [--token-file FILE]',
    '              [--scoring best|mean] [--approximate-from N] [--workers 1] [--queue 32] [--max-upload-mb 10]',
    '              [--max-megapixels 40] [--threads N] [--backend onnx|libtorch]',
    '              [--detector onnx|libtorch|human]',
    '',
    'Serves the API under /v1 (OpenAPI document at /openapi.json), Prometheus metrics at /metrics and a web page',
    'at /. --model defaults to the shipped model (models/default), --gallery to gallery.sqlite in the current',
    'folder. Writes (enrol, create, delete) need "Authorization: Bearer <token>" with a token from CATFACE_TOKENS',
    '(comma-separated) or --token-file / CATFACE_TOKEN_FILE (one per line); with none, writes are refused.',
    '--scoring: an identity scores the best (default) or the mean similarity of its enrolled faces.',
    "--threads N: the engine's intra-op threads (default: $CATFACE_THREADS or every core; 1 is often fastest on a busy machine).",
    "--backend: the engine of the model's forward: onnx (default: onnxruntime-node on the graph of `catface export`,",
    'made in memory at start) or libtorch; decoding, detection and alignment are the same.',
    '--detector: BlazeFace + FaceMesh on onnx (default: onnxruntime) or libtorch, or human (the same on tfjs-wasm).',
    '--approximate-from N: search through an HNSW index (usearch) once the gallery holds N faces (default: always exact).',
    'SIGINT/SIGTERM stop gracefully: requests in flight are answered, then the process exits.',
  ].join('\n'),
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string', default: '8080' },
        host: { type: 'string', default: '127.0.0.1' },
        model: { type: 'string' },
        gallery: { type: 'string', default: 'gallery.sqlite' },
        'token-file': { type: 'string' },
        scoring: { type: 'string', default: 'best' },
        'approximate-from': { type: 'string' },
        workers: { type: 'string', default: '1' },
        queue: { type: 'string', default: '32' },
        'max-upload-mb': { type: 'string', default: '10' },
        'max-megapixels': { type: 'string', default: '40' },
        threads: { type: 'string' },
        backend: { type: 'string', default: 'onnx' },
        detector: { type: 'string', default: 'onnx' },
      },
    });
    const scoring = values.scoring;
    if (scoring !== 'best' && scoring !== 'mean') throw new UsageError(`--scoring must be 'best' or 'mean', got '${scoring}'`);
    const backend = parseBackend(values.backend);
    const detector = parseDetector(values.detector);
    const service = await startService({
      host: values.host,
      port: integer(values.port, 'port', 0, 65535),
      galleryFile: values.gallery,
      gallery: {
        scoring,
        approximate:
          values['approximate-from'] === undefined
            ? undefined
            : { create: usearchIndex, from: integer(values['approximate-from'], 'approximate-from', 1, 1e9) },
      },
      auth: TokenAuth.fromEnvironment(process.env, values['token-file']),
      limits: { maxUploadBytes: integer(values['max-upload-mb'], 'max-upload-mb', 1, 1024) * 1024 * 1024 },
      pool: {
        modelDir: resolveModelDir(values.model),
        backend,
        recognizer: {
          maxPixels: integer(values['max-megapixels'], 'max-megapixels', 1, 1000) * 1_000_000,
          threads: values.threads === undefined ? undefined : integer(values.threads, 'threads', 1, 256),
          detector,
        },
        workers: integer(values.workers, 'workers', 1, 64),
        maxQueue: integer(values.queue, 'queue', 0, 100_000),
      },
    });
    console.log(`catface serve: listening on ${service.url} (gallery ${values.gallery}); loading the model…`);
    const stopped = new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        console.log(`catface serve: ${signal}, finishing requests in flight…`);
        service.close().then(resolve, resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    try {
      await service.ready;
      console.log(`catface serve: ready at ${service.url}`);
    } catch (err) {
      await service.close();
      throw err;
    }
    await stopped;
    return 0;
  },
};
