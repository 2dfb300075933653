// A worker for the WorkerPool test: answers `{ id, value }` with `{ id, doubled }`, or dies on `{ die: true }`.
import { parentPort } from 'node:worker_threads';

parentPort?.on('message', (request: { id: number; value?: number; die?: boolean }) => {
  if (request.die) process.exit(3);
  parentPort?.postMessage({ id: request.id, doubled: (request.value ?? 0) * 2 });
});
