// torchrun's launcher for one node: one process per local rank with MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE and its own share of the cores (CATFACE_THREADS, OMP_NUM_THREADS). A rank that
// exits with an error or a signal stops the others (SIGTERM, then SIGKILL after a grace period), and the
// launcher says which rank it was.
import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface LaunchOptions {
  /** Processes on this node. */
  nprocPerNode: number;
  nnodes?: number;
  nodeRank?: number;
  masterAddr?: string;
  masterPort?: number;
  /** The script every rank runs (with `args`), under this Node. */
  script: string;
  args: string[];
  /** Intra-op threads per rank (default: $CATFACE_THREADS, else the cores divided among the local ranks). */
  threadsPerRank?: number;
  /** Where the launcher's own messages go. */
  stream?: NodeJS.WritableStream;
  /** Seconds between SIGTERM and SIGKILL when stopping the surviving ranks. */
  graceSeconds?: number;
}

export const LAUNCH_DEFAULTS = { nnodes: 1, nodeRank: 0, masterAddr: '127.0.0.1', masterPort: 29500, graceSeconds: 10 } as const;

/** Runs the ranks of this node to the end; resolves with 0 when every one succeeded, else 1. */
export function launch(options: LaunchOptions): Promise<number> {
  const nnodes = options.nnodes ?? LAUNCH_DEFAULTS.nnodes;
  const nodeRank = options.nodeRank ?? LAUNCH_DEFAULTS.nodeRank;
  const local = options.nprocPerNode;
  const stream = options.stream ?? process.stderr;
  if (!Number.isInteger(nodeRank) || nodeRank < 0 || nodeRank >= nnodes)
    throw new RangeError(`--node-rank ${nodeRank} is not one of the ${nnodes} node(s) (0…${nnodes - 1})`);
  const threads =
    options.threadsPerRank ?? (Number(process.env.CATFACE_THREADS) || Math.max(1, Math.floor(availableParallelism() / local)));
  const children: ChildProcess[] = [];
  let failed: string | null = null;
  let stopping = false;

  const stopOthers = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
    setTimeout(
      () => {
        for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      },
      1000 * (options.graceSeconds ?? LAUNCH_DEFAULTS.graceSeconds),
    ).unref();
  };
  const forward = (signal: NodeJS.Signals) => () => stopOthers(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);

  return new Promise((resolve) => {
    let running = local;
    for (let localRank = 0; localRank < local; localRank++) {
      const rank = nodeRank * local + localRank;
      const child = spawn(process.execPath, [options.script, ...options.args], {
        stdio: 'inherit',
        env: {
          ...process.env,
          MASTER_ADDR: options.masterAddr ?? LAUNCH_DEFAULTS.masterAddr,
          MASTER_PORT: String(options.masterPort ?? LAUNCH_DEFAULTS.masterPort),
          RANK: String(rank),
          WORLD_SIZE: String(local * nnodes),
          LOCAL_RANK: String(localRank),
          LOCAL_WORLD_SIZE: String(local),
          CATFACE_THREADS: String(threads),
          OMP_NUM_THREADS: String(threads),
        },
      });
      children.push(child);
      child.on('exit', (code, signal) => {
        if ((code !== 0 || signal) && failed === null && !stopping) {
          failed = `rank ${rank} (pid ${child.pid}) ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`;
          stream.write(`catface: ${failed}; stopping the other ranks\n`);
          stopOthers('SIGTERM');
        } else if (code !== 0 || signal) failed ??= `rank ${rank} exited with ${signal ?? code}`;
        if (--running === 0) {
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
          resolve(failed === null && !stopping ? 0 : 1);
        }
      });
    }
  });
}
