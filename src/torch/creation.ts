// Creating tensors: from JS data, constants, ranges and random draws.
import { addon, callOp, wrapTensor } from './native.js';
import type { AnyTypedArray, DType, NestedArray, Shape, Tensor } from './tensor.js';

export interface CreateOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

function finish(t: Tensor, options: CreateOptions): Tensor {
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

function dtypeOfTypedArray(data: AnyTypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  throw new TypeError('fromTypedArray: unsupported TypedArray (Uint16Array needs an explicit float16/bfloat16 dtype)');
}

/** A tensor of `dtype` and `shape` holding a copy of raw little-endian bytes (row-major). */
export function fromBytes(bytes: ArrayBufferView, dtype: DType, shape: Shape, options: CreateOptions = {}): Tensor {
  return finish(wrapTensor(addon.fromBytes(bytes, dtype, [...shape], options.device)) as Tensor, options);
}

/** A tensor holding a copy of a TypedArray's elements; `shape` defaults to 1-D. */
export function fromTypedArray(data: AnyTypedArray, shape?: Shape, options: CreateOptions = {}): Tensor {
  const natural =
    options.dtype === 'float16' || options.dtype === 'bfloat16' || options.dtype === 'bool' ? options.dtype : dtypeOfTypedArray(data);
  const dims = shape ? [...shape] : [data.length];
  const t = wrapTensor(addon.fromBytes(data, natural, dims, options.device)) as Tensor;
  if (options.dtype && options.dtype !== natural) {
    const converted = t.to(options.dtype);
    t.dispose();
    return finish(converted, options);
  }
  return finish(t, options);
}

function inferShape(data: NestedArray, path = 'data'): number[] {
  if (!Array.isArray(data)) return [];
  if (data.length === 0) return [0];
  const inner = inferShape(data[0], `${path}[0]`);
  for (let i = 1; i < data.length; i++) {
    const s = inferShape(data[i], `${path}[${i}]`);
    if (s.length !== inner.length || s.some((v, j) => v !== inner[j])) {
      throw new RangeError(`tensor: ragged nested array at ${path}[${i}] (shape [${s}] vs [${inner}])`);
    }
  }
  return [data.length, ...inner];
}

/** A tensor from a number, boolean or nested arrays of them (float32 unless `dtype` says otherwise). */
export function tensor(data: NestedArray | AnyTypedArray, options: CreateOptions = {}): Tensor {
  if (ArrayBuffer.isView(data)) return fromTypedArray(data as AnyTypedArray, undefined, options);
  const shape = inferShape(data);
  const flat = (Array.isArray(data) ? ((data as unknown[]).flat(Number.POSITIVE_INFINITY as 1) as (number | boolean)[]) : [data]).map(
    (v, i) => {
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v !== 'number') throw new TypeError(`tensor: element ${i} is ${typeof v}, expected a number or boolean`);
      return v;
    },
  );
  const dtype = options.dtype ?? 'float32';
  const t = fromTypedArray(Float64Array.from(flat), shape, { device: options.device });
  const converted = dtype === 'float64' ? t : t.to(dtype);
  if (converted !== t) t.dispose();
  return finish(converted, options);
}

function create(name: string, args: unknown[], options: CreateOptions): Tensor {
  return finish(callOp(name, [...args, options.dtype ?? 'float32', null, options.device ?? null, null]) as Tensor, options);
}

export function zeros(shape: Shape, options: CreateOptions = {}): Tensor {
  return create('aten::zeros', [[...shape]], options);
}
export function ones(shape: Shape, options: CreateOptions = {}): Tensor {
  return create('aten::ones', [[...shape]], options);
}
export function empty(shape: Shape, options: CreateOptions = {}): Tensor {
  return finish(
    callOp('aten::empty.memory_format', [[...shape], options.dtype ?? 'float32', null, options.device ?? null, null, null]) as Tensor,
    options,
  );
}
export function full(shape: Shape, value: number, options: CreateOptions = {}): Tensor {
  return create('aten::full', [[...shape], value], options);
}
export function zerosLike(t: Tensor, options: CreateOptions = {}): Tensor {
  return finish(callOp('aten::zeros_like', [t, options.dtype ?? null, null, options.device ?? null, null, null]) as Tensor, options);
}
export function onesLike(t: Tensor, options: CreateOptions = {}): Tensor {
  return finish(callOp('aten::ones_like', [t, options.dtype ?? null, null, options.device ?? null, null, null]) as Tensor, options);
}
export function fullLike(t: Tensor, value: number, options: CreateOptions = {}): Tensor {
  return finish(callOp('aten::full_like', [t, value, options.dtype ?? null, null, options.device ?? null, null, null]) as Tensor, options);
}
/** start, start+step, … < end (float32 unless `dtype`). */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  const [from, to] = end === undefined ? [0, start] : [start, end];
  if (step === 0) throw new RangeError('arange: step must not be 0');
  return create('aten::arange.start_step', [from, to, step], options);
}
export function linspace(start: number, end: number, steps: number, options: CreateOptions = {}): Tensor {
  return create('aten::linspace', [start, end, steps], options);
}
export function eye(n: number, m = n, options: CreateOptions = {}): Tensor {
  return create('aten::eye.m', [n, m], options);
}
/** Uniform on [0, 1). */
export function rand(shape: Shape, options: CreateOptions = {}): Tensor {
  return create('aten::rand', [[...shape]], options);
}
/** Standard normal. */
export function randn(shape: Shape, options: CreateOptions = {}): Tensor {
  return create('aten::randn', [[...shape]], options);
}
/** Integers uniform on [low, high) (int64 unless `dtype`). */
export function randint(low: number, high: number, shape: Shape, options: CreateOptions = {}): Tensor {
  return create('aten::randint.low', [low, high, [...shape]], { ...options, dtype: options.dtype ?? 'int64' });
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, options: CreateOptions = {}): Tensor {
  return create('aten::randperm', [n], { ...options, dtype: options.dtype ?? 'int64' });
}
