// Loads the libtorch addon and gives typed access to its few entry points. Every operator goes through
// `call`, which looks the ATen schema up once and converts arguments by it (see native/dispatch.cc). Tensors
// cross the boundary as slot handles (numbers) in the addon's per-environment table; `Tensor` wraps them.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { threadsEnvProblem } from './threads-env.js';

export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool'
  | 'complex64'
  | 'complex128';

export type OpArg = unknown;

/** A tensor's index in the addon's table of the current environment; -1 once disposed. */
export type Handle = number;

interface Addon {
  /** The symbol under which a JS Tensor keeps its handle (read by the addon for tensor arguments). */
  handleKey: symbol;
  release(h: Handle): void;
  externalBytes(): number;
  liveHandles(): number;
  sizes(h: Handle): number[];
  strides(h: Handle): number[];
  dtype(h: Handle): DType;
  device(h: Handle): string;
  numel(h: Handle): number;
  dim(h: Handle): number;
  requiresGrad(h: Handle): boolean;
  setRequiresGrad(h: Handle, flag: boolean): void;
  grad(h: Handle): Handle | null;
  setGrad(h: Handle, grad: unknown): void;
  isLeaf(h: Handle): boolean;
  gradFn(h: Handle): string | null;
  retainGrad(h: Handle): void;
  backward(h: Handle, gradient: unknown, retainGraph: boolean, createGraph: boolean): void;
  item(h: Handle): number | boolean;
  toBytes(h: Handle): ArrayBuffer;
  copyFromBytes(h: Handle, bytes: ArrayBufferView): void;
  isContiguous(h: Handle): boolean;
  sameStorage(h: Handle, other: unknown): boolean;
  version(h: Handle): number;
  findOp(name: string, overload: string): number;
  opInfo(id: number): [returns: string, tensorArgs: number[]];
  call(id: number, args: OpArg[], ...handles: Handle[]): unknown;
  callInPlace(id: number, args: OpArg[], ...handles: Handle[]): void;
  callAsync(id: number, args: OpArg[]): Promise<unknown>;
  schema(id: number): string;
  fromBytes(bytes: ArrayBufferView, dtype: DType, shape: number[], device?: string): Handle;
  setGradEnabled(flag: boolean): boolean;
  isGradEnabled(): boolean;
  manualSeed(seed: number): void;
  getRngState(): Buffer;
  setRngState(state: Uint8Array): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  cudaAvailable(): boolean;
  cudaDeviceCount(): number;
  parallelInfo(): string;
  torchVersion: string;
}

function findAddon(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'build', 'Release', 'catface.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(
    'catface: the native addon (build/Release/catface.node) is not built. Run `npm ci` (or `npm run build:native`) ' +
      'after installing libtorch: `sudo apt-get install -y libtorch-dev libopenblas0-openmp`.',
  );
}

const threadsProblem = threadsEnvProblem();
if (threadsProblem) throw new RangeError(threadsProblem);
export const addon: Addon = createRequire(import.meta.url)(findAddon()) as Addon;

type Wrap = (raw: unknown) => unknown;

/** Makes a JS Tensor for a handle (null stays null); set once by tensor.ts, which owns the class. */
let wrapHandle: (h: Handle | null) => unknown = () => {
  throw new Error('catface: the Tensor class was not registered');
};
/** A Tensor's handle, or -2 for any other value (the addon then reads the argument itself and explains). */
let handleOf: (value: unknown) => Handle = () => -2;
export function setTensorWrapper(wrap: (h: Handle | null) => unknown, handle: (value: unknown) => Handle): void {
  wrapHandle = wrap;
  handleOf = handle;
}
/** The JS Tensor for a handle that an addon function returned. */
export function wrapTensor(h: Handle | null): unknown {
  return wrapHandle(h);
}

const wrapByLetter: Record<string, Wrap> = {
  T: (raw) => wrapHandle(raw as Handle | null),
  L: (raw) => (raw as (Handle | null)[]).map((h) => wrapHandle(h)),
  V: (raw) => raw,
};

// How to turn an op's raw result into JS values, from its return letters (see ReturnLetters in dispatch.cc):
// one return is the value itself, several come as an array.
function wrapperFor(letters: string): Wrap {
  const each = [...letters].map((c) => wrapByLetter[c]);
  if (each.length === 1) return each[0];
  if (!/[TL]/.test(letters)) return wrapByLetter.V;
  return (raw) => (raw as unknown[]).map((r, i) => each[i](r));
}

interface OpEntry {
  id: number;
  wrap: Wrap;
  /** Positions of the Tensor arguments: their handles travel alongside the arguments (no lookup in C++). */
  tensors: number[];
}
const ops = new Map<string, OpEntry>();

function opEntry(qualified: string): OpEntry {
  let entry = ops.get(qualified);
  if (entry === undefined) {
    const dot = qualified.indexOf('.');
    const id = dot < 0 ? addon.findOp(qualified, '') : addon.findOp(qualified.slice(0, dot), qualified.slice(dot + 1));
    const [returns, tensors] = addon.opInfo(id);
    entry = { id, wrap: wrapperFor(returns), tensors };
    ops.set(qualified, entry);
  }
  return entry;
}

// The addon reads the handles of the first three Tensor arguments from the extra parameters.
function run(fn: Addon['call'], entry: OpEntry, args: OpArg[]): unknown {
  const t = entry.tensors;
  switch (t.length) {
    case 0:
      return fn(entry.id, args);
    case 1:
      return fn(entry.id, args, handleOf(args[t[0]]));
    case 2:
      return fn(entry.id, args, handleOf(args[t[0]]), handleOf(args[t[1]]));
    default:
      return fn(entry.id, args, handleOf(args[t[0]]), handleOf(args[t[1]]), handleOf(args[t[2]]));
  }
}

/** Calls an ATen operator with positional arguments (`undefined` takes the schema default). */
export function callOp(qualified: string, args: OpArg[]): unknown {
  const entry = opEntry(qualified);
  return entry.wrap(run(addon.call, entry, args));
}

/** Calls an ATen operator whose result aliases an argument (`add_`, `_foreach_mul_`…) and discards it. */
export function callOpInPlace(qualified: string, args: OpArg[]): void {
  run(addon.callInPlace, opEntry(qualified), args);
}

/** The same as `callOp`, on libuv's thread pool: the event loop stays free while libtorch works. */
export function callOpAsync(qualified: string, args: OpArg[]): Promise<unknown> {
  try {
    const entry = opEntry(qualified);
    return addon.callAsync(entry.id, args).then(entry.wrap);
  } catch (err) {
    return Promise.reject(err); // bad arguments reject like failures inside the op
  }
}

/** The ATen schema of an operator, e.g. for documentation. */
export function opSchema(qualified: string): string {
  return addon.schema(opEntry(qualified).id);
}
