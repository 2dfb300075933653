// One message channel to a worker, whether it is a child process or a worker thread, so the service moves its
// model work between the two by changing `spawnWorker` below. Worker threads, now that the addon keeps its
// state per environment: one process, no second copy of Node and libtorch, messages without a pipe. A child
// process isolates a native crash from the HTTP server; `spawnWorker = spawnProcess` brings that back.
import { fork } from 'node:child_process';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export interface WorkerPort {
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once when the worker is gone, with why. */
  onExit(listener: (why: string) => void): void;
  kill(): Promise<void>;
}

export function spawnProcess(entry: string, args: string[]): WorkerPort {
  const child = fork(entry, args, { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    send: (message) => child.send(message as object),
    onMessage: (listener) => child.on('message', listener),
    onExit: (listener) => {
      child.once('exit', (code, signal) => listener(signal ?? `code ${code}`));
      child.once('error', (err) => listener(err.message));
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill();
      await exited;
    },
  };
}

export function spawnThread(entry: string, args: string[]): WorkerPort {
  const worker = new Worker(entry, { argv: args, workerData: { catfaceWorker: true } });
  return {
    send: (message) => worker.postMessage(message),
    onMessage: (listener) => worker.on('message', listener),
    onExit: (listener) => {
      worker.once('exit', (code) => listener(`code ${code}`));
      worker.once('error', (err) => listener(err.message));
    },
    kill: async () => {
      await worker.terminate();
    },
  };
}

/** How the service starts its model workers. */
export const spawnWorker = spawnThread;

/** The worker side of the channel: the parent process or thread (null when this is not a worker). */
export function parentChannel(): { send(message: unknown): void; onMessage(listener: (message: unknown) => void): void } | null {
  if (!isMainThread && parentPort && workerData?.catfaceWorker) {
    const port = parentPort;
    return { send: (m) => port.postMessage(m), onMessage: (l) => port.on('message', l) };
  }
  if (process.send) {
    const send = process.send.bind(process);
    process.on('disconnect', () => process.exit(0));
    return { send: (m) => send(m as object), onMessage: (l) => process.on('message', l) };
  }
  return null;
}
