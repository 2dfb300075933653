// Load on `catface serve` over loopback (127.0.0.1 only): a mix of verify, identify and analyze on real LFW
// photos, `--requests` in all at `--concurrency` in flight, identify against a gallery of `--identities`
// synthetic identities (random unit vectors tagged with the model's fingerprint, written in one transaction).
// Bounded in count and time: it stops after --requests or --max-seconds, whichever comes first.
// Reports throughput, p50/p95/p99 latency, status counts (5xx must be 0) and the service's RSS (server +
// model worker) after warm-up and at the end. The service runs with --threads 1 (one engine thread per forward),
// --backend (libtorch or onnx) and --workers as given.
//
//   npm run bench:serve -- [--requests 10000] [--concurrency 50] [--identities 100000] [--max-seconds 900] [--model DIR]
//                          [--backend libtorch|onnx] [--workers 1]
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { resolveModelDir } from '../src/models/model-dir.js';
import { Gallery } from '../src/serve/gallery.js';
import { modelFingerprint } from '../src/serve/model-fingerprint.js';
import { writeTinyModel } from '../test/helpers/tiny-model.js';
import { positiveFlags } from './common.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', 'src', 'cli', 'main.js');
const LFW = join(here, '..', '..', '..', 'shared', 'data', 'lfw');
const TOKEN = 'bench-token';

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** RSS in MB of a process and its children (model workers, when they are processes). */
function rssMb(pid: number): number {
  // pgrep exits 1 when there is no child (workers on threads): its output is then empty.
  const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout ?? '';
  const pids = [pid, ...children.split('\n').filter(Boolean).map(Number)];
  let kb = 0;
  for (const p of pids) {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
    if (m) kb += Number(m[1]);
  }
  return kb / 1024;
}

async function startServer(modelDir: string, gallery: string, engine: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--model',
      modelDir,
      '--gallery',
      gallery,
      '--queue',
      '256',
      '--threads',
      '1',
      ...engine,
    ],
    { env: { ...process.env, CATFACE_TOKENS: TOKEN }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      out += d;
      const m = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`bench:serve: the service exited (${code}) before ready:\n${out}`)));
  });
  return { child, url };
}

function photoForm(photos: Record<string, Uint8Array<ArrayBuffer>>): FormData {
  const body = new FormData();
  for (const [name, bytes] of Object.entries(photos)) body.append(name, new Blob([bytes]), `${name}.jpg`);
  return body;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '10000' },
      concurrency: { type: 'string', default: '50' },
      identities: { type: 'string', default: '100000' },
      'max-seconds': { type: 'string', default: '900' },
      photos: { type: 'string', default: '40' },
      model: { type: 'string' },
      backend: { type: 'string', default: 'libtorch' },
      workers: { type: 'string', default: '1' },
    },
  });
  const engine = ['--backend', values.backend, '--workers', values.workers];
  const flag = positiveFlags<'requests' | 'concurrency' | 'identities' | 'max-seconds' | 'photos' | 'workers'>('bench:serve', values);
  const [requests, concurrency, identities, maxSeconds, photoCount] = (
    ['requests', 'concurrency', 'identities', 'max-seconds', 'photos'] as const
  ).map(flag);
  const work = mkdtempSync(join(tmpdir(), 'catface-bench-serve-'));
  try {
    let modelDir: string;
    try {
      modelDir = resolveModelDir(values.model);
    } catch {
      modelDir = join(work, 'model');
      writeTinyModel(modelDir);
      console.log('no --model and no default model: using a tiny random model (the timing then is mostly detection and HTTP)');
    }
    const people = readdirSync(LFW, { withFileTypes: true }).filter((d) => d.isDirectory());
    const photos = people
      .slice(0, photoCount)
      .map((d) => new Uint8Array(readFileSync(join(LFW, d.name, readdirSync(join(LFW, d.name)).sort()[0]))));

    // The gallery: embedding size from one real embedding, then `identities` random unit vectors.
    const galleryFile = join(work, 'gallery.sqlite');
    let server = await startServer(modelDir, galleryFile, engine);
    const probe = await (await fetch(`${server.url}/v1/embed`, { method: 'POST', body: photoForm({ photo: photos[0] }) })).json();
    const dim = probe.faces[0].embedding.length as number;
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    const t0 = performance.now();
    const gallery = Gallery.open(galleryFile);
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32 - 0.5;
    };
    const faces = Array.from({ length: identities }, (_, i) => {
      const v = Float32Array.from({ length: dim }, random);
      const n = Math.hypot(...v);
      return { identityId: `id-${i}`, embedding: v.map((x) => x / n), quality: null };
    });
    gallery.replace(
      { fingerprint: modelFingerprint(modelDir), dim },
      faces.map((f) => ({ id: f.identityId, metadata: null, createdAt: new Date().toISOString() })),
      faces,
    );
    gallery.close();
    console.log(`gallery: ${identities} identities × ${dim}-d written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    server = await startServer(modelDir, galleryFile, engine);
    const pid = server.child.pid as number;
    const kinds = ['verify', 'identify', 'analyze'] as const;
    const send = async (i: number): Promise<{ kind: string; status: number; ms: number }> => {
      const kind = kinds[i % 3];
      const a = photos[i % photos.length];
      const b = photos[(i * 7 + 3) % photos.length];
      const body = kind === 'verify' ? photoForm({ a, b }) : photoForm({ photo: a });
      const t = performance.now();
      const r = await fetch(`${server.url}/v1/${kind}`, { method: 'POST', body });
      await r.arrayBuffer();
      return { kind, status: r.status, ms: performance.now() - t };
    };
    // Warm-up: one of each, then the RSS baseline.
    for (let i = 0; i < 6; i++) await send(i);
    const rssBefore = rssMb(pid);
    const results: { kind: string; status: number; ms: number }[] = [];
    const deadline = performance.now() + maxSeconds * 1000;
    let next = 0;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < requests && performance.now() < deadline) results.push(await send(next++));
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const rssAfter = rssMb(pid);
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));

    const statuses: Record<string, number> = {};
    for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    const latency = (rs: typeof results) => {
      const ms = rs
        .filter((r) => r.status === 200)
        .map((r) => r.ms)
        .sort((x, y) => x - y);
      return { n: ms.length, p50: percentile(ms, 50), p95: percentile(ms, 95), p99: percentile(ms, 99) };
    };
    const result = {
      requests: results.length,
      planned: requests,
      stoppedBy: results.length < requests ? 'max-seconds' : 'count',
      concurrency,
      backend: values.backend,
      workers: flag('workers'),
      galleryIdentities: identities,
      dim,
      seconds,
      throughput: results.length / seconds,
      statuses,
      errors5xx: results.filter((r) => r.status >= 500).length,
      latencyMs: { all: latency(results), ...Object.fromEntries(kinds.map((k) => [k, latency(results.filter((r) => r.kind === k))])) },
      rssMb: { before: rssBefore, after: rssAfter },
    };
    console.log(
      `${result.requests} requests (${result.stoppedBy}) at ${concurrency} concurrent in ${seconds.toFixed(1)} s: ${result.throughput.toFixed(1)} req/s; ` +
        `p50/p95/p99 ${[result.latencyMs.all.p50, result.latencyMs.all.p95, result.latencyMs.all.p99].map((x) => x.toFixed(0)).join('/')} ms; ` +
        `statuses ${JSON.stringify(statuses)}; RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MB`,
    );
    console.log(`RESULT ${JSON.stringify(result)}`);
    if (result.errors5xx > 0) process.exitCode = 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
