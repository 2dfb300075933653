// Run as a script by torch-threads.test.ts: the main thread and two worker threads load the addon and run the
// same autograd loop at the same time (a barrier starts them together), then each reports its result and its
// live tensor count; the workers leave a few tensors undisposed on purpose, which their exit must free.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import * as torch from '../../src/torch/index.js';

const STEPS = 300;

/** A small fixed-input training loop (no RNG: the generator is shared by the process). */
function run(): { loss: number; grad: number[]; live: number } {
  torch.setNumThreads(1);
  const before = torch.liveTensorCount();
  const w = torch.tidy(() => torch.keep(torch.linspace(-1, 1, 16).reshape(4, 4))).requiresGrad_(true);
  let loss = 0;
  for (let i = 0; i < STEPS; i++) {
    loss = torch.tidy(() => {
      const x = torch
        .arange(0, 32)
        .reshape(8, 4)
        .mul(0.01 * ((i % 7) + 1));
      const l = torch.F.softmax(x.matmul(w), -1).mul(x.matmul(w).tanh()).sum();
      l.backward();
      return l.item();
    });
  }
  const grad = w.grad as torch.Tensor;
  const out = { loss, grad: [...grad.toFloat64Array()], live: 0 };
  torch.dispose([grad, w]);
  out.live = torch.liveTensorCount() - before;
  return out;
}

/** Blocks until all three threads arrived, so their loops overlap. */
function barrier(counter: Int32Array): void {
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
  for (let seen = Atomics.load(counter, 0); seen < 3; seen = Atomics.load(counter, 0)) Atomics.wait(counter, 0, seen);
}

// `node --test dist/test/` also loads this file: it runs only when asked to (by torch-threads.test.ts).
if (isMainThread && process.argv[2] === '--run') {
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const workers = [0, 1].map(() => new Worker(new URL(import.meta.url), { workerData: counter }));
  const results = workers.map(
    (w) =>
      new Promise<unknown>((resolve, reject) => {
        let result: unknown;
        w.on('message', (m) => {
          result = m;
        });
        w.on('error', reject);
        w.on('exit', (code) => (code === 0 ? resolve(result) : reject(new Error(`worker exited with code ${code}`))));
      }),
  );
  barrier(counter);
  const main = run();
  const fromWorkers = await Promise.all(results);
  console.log(`RESULT ${JSON.stringify({ main, workers: fromWorkers })}`);
} else if (!isMainThread) {
  const counter = workerData as Int32Array;
  barrier(counter);
  const result = run();
  for (let i = 0; i < 5; i++) torch.ones([64, 64]).add(i); // left for the worker's exit to free
  parentPort?.postMessage(result);
}
