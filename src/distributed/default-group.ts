// torch.distributed's module-level API over one default process group: `initProcessGroup` performs the same
// rendezvous as `init_process_group` (the store, its 'default_pg' and group prefixes, the store-based barrier,
// the sequence number), so catface and PyTorch ranks can form one group; the collectives take the default group.
import type { Tensor } from '../torch/index.js';
import { readMaster, readWorld } from './env.js';
import { type Backend, ProcessGroup, type ReduceOp } from './process-group.js';
import { Store, storeBarrier } from './store.js';
import type { Work } from './work.js';

/** torch.distributed's default_pg_timeout. */
export const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;

export interface InitOptions {
  backend?: Backend;
  /** 'env://' (default: MASTER_ADDR, MASTER_PORT), 'tcp://host:port' or 'file:///path'. */
  initMethod?: string;
  /** Defaults: $RANK and $WORLD_SIZE. */
  rank?: number;
  worldSize?: number;
  /** Of the rendezvous and of every collective (default 30 min, as PyTorch). */
  timeoutMs?: number;
  /** A store made by the caller instead of `initMethod`. */
  store?: Store;
}

let current: ProcessGroup | null = null;

function rendezvousStore(options: InitOptions, rank: number, worldSize: number, timeoutMs: number): Promise<Store> | Store {
  if (options.store) return options.store;
  const method = options.initMethod ?? 'env://';
  if (method.startsWith('file://')) return Store.file(method.slice('file://'.length), worldSize);
  let host: string;
  let port: number;
  if (method === 'env://') {
    ({ masterAddr: host, masterPort: port } = readMaster());
  } else {
    const m = /^tcp:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(method);
    if (!m) throw new RangeError(`initProcessGroup: initMethod must be env://, tcp://host:port or file:///path, got '${method}'`);
    host = m[1];
    port = Number(m[2]);
  }
  return Store.tcp(host, port, { worldSize, isServer: rank === 0, timeoutMs });
}

/** Joins the default process group (every rank calls it); resolves once all ranks are in. */
export async function initProcessGroup(options: InitOptions = {}): Promise<ProcessGroup> {
  if (current) throw new Error('initProcessGroup: the default process group is already initialised (destroyProcessGroup first)');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { rank, worldSize } = readWorld(process.env, { rank: options.rank, worldSize: options.worldSize });
  const base = await rendezvousStore(options, rank, worldSize, timeoutMs);
  base.setTimeout(timeoutMs);
  const defaultStore = base.prefixed('default_pg');
  // PyTorch names its first group '0' and then counts it: the barrier key after creating it ends in ':1'
  const group = await ProcessGroup.create(options.backend ?? 'gloo', defaultStore.prefixed('0'), rank, worldSize, timeoutMs);
  await storeBarrier(defaultStore, 'store_based_barrier_key:1', worldSize, rank, timeoutMs);
  await group.agreeSequence();
  current = group;
  return group;
}

export function isInitialized(): boolean {
  return current !== null;
}

function defaultGroup(what: string): ProcessGroup {
  if (!current) throw new Error(`${what}: the default process group is not initialised (call initProcessGroup first)`);
  return current;
}

export function getRank(): number {
  return defaultGroup('getRank').rank;
}

export function getWorldSize(): number {
  return defaultGroup('getWorldSize').size;
}

export function destroyProcessGroup(): void {
  current?.destroy();
  current = null;
}

export function allReduce(tensor: Tensor | Tensor[], op: ReduceOp = 'sum'): Work {
  return defaultGroup('allReduce').allReduce(tensor, op);
}

export function broadcast(tensor: Tensor | Tensor[], src = 0): Work {
  return defaultGroup('broadcast').broadcast(tensor, src);
}

export function allGather(outputs: Tensor[], input: Tensor): Work {
  return defaultGroup('allGather').allGather(outputs, input);
}

export function reduceScatter(output: Tensor, inputs: Tensor[], op: ReduceOp = 'sum'): Work {
  return defaultGroup('reduceScatter').reduceScatter(output, inputs, op);
}

export function barrier(): Work {
  return defaultGroup('barrier').barrier();
}
