// Loads the libtorch addon and gives typed access to its few entry points. Every operator goes through
// `call`, which looks the ATen schema up once and converts arguments by it (see native/dispatch.cc).

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

/** Methods the addon puts on every tensor handle (the TypeScript `Tensor` extends it). */
export declare class TensorHandle {
  dispose(): void;
  _isDisposed(): boolean;
  _sizes(): number[];
  _strides(): number[];
  _dtype(): DType;
  _device(): string;
  _numel(): number;
  _dim(): number;
  _requiresGrad(): boolean;
  _setRequiresGrad(flag: boolean): this;
  _grad(): TensorHandle | null;
  _setGrad(grad: TensorHandle | null): void;
  _isLeaf(): boolean;
  _gradFn(): string | null;
  _retainGrad(): this;
  _backward(gradient: TensorHandle | null, retainGraph: boolean, createGraph: boolean): void;
  _item(): number | boolean;
  _toBytes(): ArrayBuffer;
  _copyFromBytes(bytes: ArrayBufferView): void;
  _isContiguous(): boolean;
  _sameStorage(other: TensorHandle): boolean;
  _version(): number;
}

export type OpArg = unknown;

interface Addon {
  TensorHandle: typeof TensorHandle;
  setTensorClass(cls: new () => TensorHandle): void;
  externalBytes(): number;
  findOp(name: string, overload: string): number;
  call(id: number, args: OpArg[]): unknown;
  callInPlace(id: number, args: OpArg[]): void;
  callAsync(id: number, args: OpArg[]): Promise<unknown>;
  schema(id: number): string;
  fromBytes(bytes: ArrayBufferView, dtype: DType, shape: number[], device?: string): TensorHandle;
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

const opIds = new Map<string, number>();

/** The addon's id for an ATen operator, e.g. `opId('aten::add.Tensor')`; looked up once. */
export function opId(qualified: string): number {
  let id = opIds.get(qualified);
  if (id === undefined) {
    const dot = qualified.indexOf('.');
    id = dot < 0 ? addon.findOp(qualified, '') : addon.findOp(qualified.slice(0, dot), qualified.slice(dot + 1));
    opIds.set(qualified, id);
  }
  return id;
}

/** Calls an ATen operator with positional arguments (`undefined` takes the schema default). */
export function callOp(qualified: string, args: OpArg[]): unknown {
  return addon.call(opId(qualified), args);
}

/** Calls an ATen operator whose result aliases an argument (`add_`, `_foreach_mul_`…) and discards it. */
export function callOpInPlace(qualified: string, args: OpArg[]): void {
  addon.callInPlace(opId(qualified), args);
}

/** The same as `callOp`, on libuv's thread pool: the event loop stays free while libtorch works. */
export function callOpAsync(qualified: string, args: OpArg[]): Promise<unknown> {
  try {
    return addon.callAsync(opId(qualified), args);
  } catch (err) {
    return Promise.reject(err); // bad arguments reject like failures inside the op
  }
}

/** The ATen schema of an operator, e.g. for documentation. */
export function opSchema(qualified: string): string {
  return addon.schema(opId(qualified));
}
