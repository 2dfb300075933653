// The addon's c10d entry points (native/dist-store.cc, native/dist-group.cc, native/dist-reducer.cc), typed. Stores, process groups and
// work handles are opaque native references; the classes in this folder own them.
import type { Tensor } from '../torch/index.js';
import { addon } from '../torch/native.js';

/** An opaque native reference (a c10d store, process group, work or gradient reducer). */
export type NativeRef = { readonly __native: unique symbol };

export type ReduceOpName = 'sum' | 'product' | 'min' | 'max' | 'band' | 'bor' | 'bxor';

interface DistAddon {
  tcpStore(host: string, port: number, worldSize: number, isServer: boolean, timeoutMs: number): Promise<NativeRef>;
  fileStore(path: string, worldSize: number): NativeRef;
  prefixStore(prefix: string, store: NativeRef): NativeRef;
  storeSet(store: NativeRef, key: string, value: Uint8Array): Promise<void>;
  storeGet(store: NativeRef, key: string): Promise<Buffer>;
  storeAdd(store: NativeRef, key: string, amount: number): Promise<number>;
  storeSetTimeout(store: NativeRef, timeoutMs: number): void;
  glooGroup(store: NativeRef, rank: number, worldSize: number, timeoutMs: number): Promise<NativeRef>;
  ncclGroup?(store: NativeRef, rank: number, worldSize: number, timeoutMs: number): Promise<NativeRef>;
  groupAgreeSequence(group: NativeRef): Promise<void>;
  groupInfo(group: NativeRef): { rank: number; size: number; backend: string };
  destroyGroup(group: NativeRef): void;
  allReduce(group: NativeRef, tensors: Tensor[], op: ReduceOpName, name?: string): NativeRef;
  broadcast(group: NativeRef, tensors: Tensor[], src: number): NativeRef;
  allGather(group: NativeRef, outputs: Tensor[], input: Tensor): NativeRef;
  barrier(group: NativeRef): NativeRef;
  /** A tensor handle (wrap it with torch's wrapTensor). */
  sumOverRanks(group: NativeRef, tensor: Tensor): number;
  workWait(work: NativeRef): Promise<void>;
  workWaitSync(work: NativeRef): void;
  workDone(work: NativeRef): boolean;
  reducerNew(group: NativeRef, params: Tensor[], bucketBytes: number, findUnused: boolean): NativeRef;
  reducerPrepare(reducer: NativeRef, loss: Tensor): boolean;
  reducerBuckets(reducer: NativeRef): number[];
  reducerDispose(reducer: NativeRef): void;
}

export const dist = addon as unknown as DistAddon;
