// The typed Tensor: a JS object owning one libtorch tensor. Methods mirror PyTorch's names (camelCase) and
// semantics, including broadcasting, type promotion and autograd; each is one ATen call.
import { addon, callOp, callOpInPlace, type DType, type Handle, setTensorWrapper } from './native.js';
import { track } from './scope.js';

export type { DType } from './native.js';

/** A tensor, or a plain number that broadcasts like PyTorch's Python scalars. */
export type TensorLike = Tensor | number;
export type Shape = readonly number[];
/** Nested JS arrays of numbers/booleans, as `toArray()` returns and `tensor()` accepts. */
export type NestedArray = number | boolean | NestedArray[];

export type TypedArrayFor<D extends DType> = D extends 'float32' | 'complex64'
  ? Float32Array
  : D extends 'float64' | 'complex128'
    ? Float64Array
    : D extends 'int64'
      ? BigInt64Array
      : D extends 'int32'
        ? Int32Array
        : D extends 'int16'
          ? Int16Array
          : D extends 'int8'
            ? Int8Array
            : D extends 'float16' | 'bfloat16'
              ? Uint16Array
              : Uint8Array;

export type AnyTypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint16Array | Uint8Array;

export function typedArrayFor(dtype: DType, buffer: ArrayBuffer): AnyTypedArray {
  switch (dtype) {
    case 'float32':
    case 'complex64':
      return new Float32Array(buffer);
    case 'float64':
    case 'complex128':
      return new Float64Array(buffer);
    case 'int64':
      return new BigInt64Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    case 'int16':
      return new Int16Array(buffer);
    case 'int8':
      return new Int8Array(buffer);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buffer);
    default:
      return new Uint8Array(buffer);
  }
}

// The property under which a Tensor keeps its handle: a symbol the addon made, so it reads it for tensor
// arguments and nothing else can collide with it.
declare const HANDLE_TYPE: unique symbol;
const HANDLE = addon.handleKey as typeof HANDLE_TYPE;
// Only `wrap` may construct: a second Tensor on one handle would free it twice.
const CREATE = Symbol('catface.createTensor');

// A tensor that left every scope (made outside `tidy`, returned from the outermost one, or kept) and is then
// forgotten without `dispose()` is freed when V8 collects it. Scoped and disposed tensors never register here,
// so the usual path costs no finalizer.
const orphans = new FinalizationRegistry<Handle>((h) => addon.release(h));

/** Wraps one result of an ATen call. */
export function asTensor(value: unknown): Tensor {
  return value as Tensor;
}

function op(name: string, args: unknown[]): Tensor {
  return callOp(name, args) as Tensor;
}

const DTYPES: ReadonlySet<string> = new Set<DType>([
  'float32',
  'float64',
  'float16',
  'bfloat16',
  'int64',
  'int32',
  'int16',
  'int8',
  'uint8',
  'bool',
  'complex64',
  'complex128',
]);

function isTensor(x: unknown): x is Tensor {
  return x instanceof Tensor;
}

function normDim(dim: number | readonly number[] | undefined): number[] | undefined {
  if (dim === undefined) return undefined;
  return typeof dim === 'number' ? [dim] : [...dim];
}

export class Tensor {
  /** The index of this tensor in the addon's table; -1 once disposed. */
  [HANDLE]: Handle;
  /** Set by `keep()`: scopes leave this tensor alone. */
  kept?: boolean;
  /** Registered with `orphans`. */
  private watched: boolean;

  /** Tensors come from the factory functions and ops; `new Tensor()` throws. */
  constructor(token?: typeof CREATE, h: Handle = -1) {
    if (token !== CREATE) throw new TypeError('Tensor: use the factory functions (tensor, zeros, fromArray…), not `new`');
    this[HANDLE] = h;
    this.kept = false;
    this.watched = false;
    if (!track(this)) this.untracked();
  }

  /** Called when no scope owns this tensor any more: from then on V8's collector may free it. */
  untracked(): void {
    if (this.watched || this[HANDLE] < 0) return;
    this.watched = true;
    orphans.register(this, this[HANDLE], this);
  }

  /** Frees the native tensor now (its storage goes when no other tensor views it); a second call does nothing. */
  dispose(): void {
    const h = this[HANDLE];
    if (h < 0) return;
    this[HANDLE] = -1;
    if (this.watched) orphans.unregister(this);
    addon.release(h);
  }
  /** The autograd version counter (bumped by in-place ops). */
  _version(): number {
    return addon.version(this[HANDLE]);
  }

  // ---- metadata -------------------------------------------------------------------------------------------
  get shape(): number[] {
    return addon.sizes(this[HANDLE]);
  }
  get dtype(): DType {
    return addon.dtype(this[HANDLE]);
  }
  get device(): string {
    return addon.device(this[HANDLE]);
  }
  get ndim(): number {
    return addon.dim(this[HANDLE]);
  }
  get isDisposed(): boolean {
    return this[HANDLE] < 0;
  }
  numel(): number {
    return addon.numel(this[HANDLE]);
  }
  size(dim?: number): number {
    if (dim === undefined) return addon.numel(this[HANDLE]);
    const s = addon.sizes(this[HANDLE]);
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length) throw new RangeError(`size(${dim}): tensor has ${s.length} dimensions`);
    return s[d];
  }
  stride(): number[] {
    return addon.strides(this[HANDLE]);
  }
  isContiguous(): boolean {
    return addon.isContiguous(this[HANDLE]);
  }
  get isFloatingPoint(): boolean {
    const d = addon.dtype(this[HANDLE]);
    return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
  }
  get isComplex(): boolean {
    const d = addon.dtype(this[HANDLE]);
    return d === 'complex64' || d === 'complex128';
  }
  /** True when both share memory (views of one another). */
  sharesStorageWith(other: Tensor): boolean {
    return addon.sameStorage(this[HANDLE], other);
  }
  toString(): string {
    return this.isDisposed ? 'Tensor(disposed)' : `Tensor(${this.dtype}[${this.shape.join(', ')}], ${this.device})`;
  }

  // ---- autograd --------------------------------------------------------------------------------------------
  get requiresGrad(): boolean {
    return addon.requiresGrad(this[HANDLE]);
  }
  set requiresGrad(flag: boolean) {
    addon.setRequiresGrad(this[HANDLE], flag);
  }
  /** Sets requiresGrad and returns the tensor (PyTorch's `requires_grad_`). */
  requiresGrad_(flag = true): this {
    addon.setRequiresGrad(this[HANDLE], flag);
    return this;
  }
  /** The accumulated gradient (a new handle each call), or null. */
  get grad(): Tensor | null {
    return wrap(addon.grad(this[HANDLE]));
  }
  set grad(g: Tensor | null) {
    addon.setGrad(this[HANDLE], g);
  }
  get isLeaf(): boolean {
    return addon.isLeaf(this[HANDLE]);
  }
  /** Name of the autograd node that made this tensor, e.g. 'AddBackward0'; null for leaves. */
  get gradFn(): string | null {
    return addon.gradFn(this[HANDLE]);
  }
  retainGrad(): this {
    addon.retainGrad(this[HANDLE]);
    return this;
  }
  /** Backpropagates; as in PyTorch, `retainGraph` defaults to `createGraph` (higher-order gradients need the graph). */
  backward(gradient?: Tensor, options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    addon.backward(this[HANDLE], gradient ?? null, options.retainGraph ?? options.createGraph ?? false, options.createGraph ?? false);
  }
  detach(): Tensor {
    return op('aten::detach', [this]);
  }

  // ---- data out --------------------------------------------------------------------------------------------
  /** The single value of a one-element tensor. */
  item(): number {
    const v = addon.item(this[HANDLE]);
    return typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }
  /** A copy of the elements, row-major, in the matching TypedArray (complex: interleaved re/im). */
  dataSync(): AnyTypedArray {
    return typedArrayFor(addon.dtype(this[HANDLE]), addon.toBytes(this[HANDLE]));
  }
  /** A copy of the raw little-endian bytes, row-major. */
  toBytes(): Uint8Array {
    return new Uint8Array(addon.toBytes(this[HANDLE]));
  }
  /** The elements as float64 numbers (int64 converted exactly up to 2^53). */
  toFloat64Array(): Float64Array {
    if (this.isComplex) throw new TypeError('toFloat64Array: complex tensor; take real() / imag() first');
    const data = addon.dtype(this[HANDLE]) === 'float64' ? this : this.to('float64');
    const out = new Float64Array(addon.toBytes(data[HANDLE]));
    if (data !== this) data.dispose();
    return out;
  }
  /** The elements as nested JS arrays (numbers; booleans for bool tensors). */
  toArray(): NestedArray {
    const shape = this.shape;
    const flat: (number | boolean)[] =
      addon.dtype(this[HANDLE]) === 'bool' ? Array.from(this.dataSync() as Uint8Array, (v) => v !== 0) : Array.from(this.toFloat64Array());
    if (shape.length === 0) return flat[0];
    let pos = 0;
    const build = (d: number): NestedArray[] => {
      const out: NestedArray[] = [];
      for (let i = 0; i < shape[d]; i++) out.push(d === shape.length - 1 ? flat[pos++] : build(d + 1));
      return out;
    };
    return build(0);
  }
  /** Overwrites the elements from a TypedArray of the same byte length (no autograd). */
  copyFromArray(values: ArrayBufferView): this {
    addon.copyFromBytes(this[HANDLE], values);
    return this;
  }

  // ---- conversion --------------------------------------------------------------------------------------------
  /**
   * Converts dtype and/or device, like PyTorch's `to`: when nothing changes the result shares this tensor's
   * storage (a new handle, so disposing either leaves the other usable); otherwise it is a copy.
   */
  to(dtypeOrDevice: DType | string, device?: string): Tensor {
    const dtype = DTYPES.has(dtypeOrDevice) ? dtypeOrDevice : null;
    const dev = dtype === null ? dtypeOrDevice : (device ?? null);
    return op('aten::to.dtype_layout', [this, dtype, null, dev, null, false, false]);
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  long(): Tensor {
    return this.to('int64');
  }
  int(): Tensor {
    return this.to('int32');
  }
  bool(): Tensor {
    return this.to('bool');
  }
  cpu(): Tensor {
    return this.to('cpu');
  }
  cuda(index = 0): Tensor {
    return this.to(`cuda:${index}`);
  }
  clone(): Tensor {
    return op('aten::clone', [this]);
  }
  contiguous(): Tensor {
    return op('aten::contiguous', [this]);
  }

  // ---- shape ------------------------------------------------------------------------------------------------
  reshape(...shape: number[] | [Shape]): Tensor {
    return op('aten::reshape', [this, flatShape(shape)]);
  }
  view(...shape: number[] | [Shape]): Tensor {
    return op('aten::view', [this, flatShape(shape)]);
  }
  permute(...dims: number[] | [Shape]): Tensor {
    return op('aten::permute', [this, flatShape(dims)]);
  }
  transpose(dim0: number, dim1: number): Tensor {
    return op('aten::transpose.int', [this, dim0, dim1]);
  }
  /** Transpose of a 2-D tensor. */
  t(): Tensor {
    return op('aten::t', [this]);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return op('aten::flatten.using_ints', [this, startDim, endDim]);
  }
  unflatten(dim: number, sizes: Shape): Tensor {
    return op('aten::unflatten.int', [this, dim, [...sizes]]);
  }
  squeeze(dim?: number): Tensor {
    return dim === undefined ? op('aten::squeeze', [this]) : op('aten::squeeze.dim', [this, dim]);
  }
  unsqueeze(dim: number): Tensor {
    return op('aten::unsqueeze', [this, dim]);
  }
  expand(...shape: number[] | [Shape]): Tensor {
    return op('aten::expand', [this, flatShape(shape)]);
  }
  expandAs(other: Tensor): Tensor {
    return op('aten::expand_as', [this, other]);
  }
  repeat(...repeats: number[] | [Shape]): Tensor {
    return op('aten::repeat', [this, flatShape(repeats)]);
  }
  repeatInterleave(repeats: number, dim?: number): Tensor {
    return op('aten::repeat_interleave.self_int', [this, repeats, dim ?? null]);
  }
  split(sizeOrSections: number | Shape, dim = 0): Tensor[] {
    return (
      typeof sizeOrSections === 'number'
        ? callOp('aten::split.Tensor', [this, sizeOrSections, dim])
        : callOp('aten::split_with_sizes', [this, [...sizeOrSections], dim])
    ) as Tensor[];
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return callOp('aten::chunk', [this, chunks, dim]) as Tensor[];
  }
  unbind(dim = 0): Tensor[] {
    return callOp('aten::unbind.int', [this, dim]) as Tensor[];
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return op('aten::narrow', [this, dim, start, length]);
  }
  /** Elements start..end (exclusive) with a step along `dim`, like `x[:, start:end:step]`. */
  slice(dim: number, start?: number, end?: number, step = 1): Tensor {
    return op('aten::slice.Tensor', [this, dim, start ?? null, end ?? null, step]);
  }
  /** The `index`-th entry along `dim` (the dimension disappears), like `x[:, i]`. */
  select(dim: number, index: number): Tensor {
    return op('aten::select.int', [this, dim, index]);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return op('aten::index_select', [this, dim, index]);
  }
  /** Advanced indexing `x[i0, i1, …]` with index tensors (null keeps a dimension whole). */
  index(indices: (Tensor | null)[]): Tensor {
    return op('aten::index.Tensor', [this, indices]);
  }
  /** Out-of-place `x[indices] = values` (accumulate adds instead). */
  indexPut(indices: (Tensor | null)[], values: Tensor, accumulate = false): Tensor {
    return op('aten::index_put', [this, indices, values, accumulate]);
  }
  gather(dim: number, index: Tensor): Tensor {
    return op('aten::gather', [this, dim, index]);
  }
  scatter(dim: number, index: Tensor, src: TensorLike): Tensor {
    return isTensor(src) ? op('aten::scatter.src', [this, dim, index, src]) : op('aten::scatter.value', [this, dim, index, src]);
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return op('aten::scatter_add', [this, dim, index, src]);
  }
  maskedFill(mask: Tensor, value: TensorLike): Tensor {
    return isTensor(value) ? op('aten::masked_fill.Tensor', [this, mask, value]) : op('aten::masked_fill.Scalar', [this, mask, value]);
  }
  maskedSelect(mask: Tensor): Tensor {
    return op('aten::masked_select', [this, mask]);
  }
  flip(...dims: number[] | [Shape]): Tensor {
    return op('aten::flip', [this, flatShape(dims)]);
  }
  roll(shifts: number | Shape, dims: number | Shape): Tensor {
    return op('aten::roll', [this, typeof shifts === 'number' ? [shifts] : [...shifts], typeof dims === 'number' ? [dims] : [...dims]]);
  }
  tril(diagonal = 0): Tensor {
    return op('aten::tril', [this, diagonal]);
  }
  triu(diagonal = 0): Tensor {
    return op('aten::triu', [this, diagonal]);
  }
  diagonal(offset = 0, dim1 = 0, dim2 = 1): Tensor {
    return op('aten::diagonal', [this, offset, dim1, dim2]);
  }

  // ---- elementwise maths (broadcasting) ----------------------------------------------------------------------
  // alpha is left out when 1 (the schema default): one argument less to convert on the hot path
  add(other: TensorLike, alpha = 1): Tensor {
    const args = alpha === 1 ? [this, other] : [this, other, alpha];
    return op(isTensor(other) ? 'aten::add.Tensor' : 'aten::add.Scalar', args);
  }
  sub(other: TensorLike, alpha = 1): Tensor {
    const args = alpha === 1 ? [this, other] : [this, other, alpha];
    return op(isTensor(other) ? 'aten::sub.Tensor' : 'aten::sub.Scalar', args);
  }
  /** `other - this` */
  rsub(other: number): Tensor {
    return op('aten::rsub.Scalar', [this, other, 1]);
  }
  mul(other: TensorLike): Tensor {
    return isTensor(other) ? op('aten::mul.Tensor', [this, other]) : op('aten::mul.Scalar', [this, other]);
  }
  div(other: TensorLike, roundingMode?: 'trunc' | 'floor'): Tensor {
    if (roundingMode) {
      return isTensor(other)
        ? op('aten::div.Tensor_mode', [this, other, roundingMode])
        : op('aten::div.Scalar_mode', [this, other, roundingMode]);
    }
    return isTensor(other) ? op('aten::div.Tensor', [this, other]) : op('aten::div.Scalar', [this, other]);
  }
  remainder(other: TensorLike): Tensor {
    return isTensor(other) ? op('aten::remainder.Tensor', [this, other]) : op('aten::remainder.Scalar', [this, other]);
  }
  pow(exponent: TensorLike): Tensor {
    return isTensor(exponent) ? op('aten::pow.Tensor_Tensor', [this, exponent]) : op('aten::pow.Tensor_Scalar', [this, exponent]);
  }
  neg(): Tensor {
    return op('aten::neg', [this]);
  }
  abs(): Tensor {
    return op('aten::abs', [this]);
  }
  exp(): Tensor {
    return op('aten::exp', [this]);
  }
  expm1(): Tensor {
    return op('aten::expm1', [this]);
  }
  log(): Tensor {
    return op('aten::log', [this]);
  }
  log1p(): Tensor {
    return op('aten::log1p', [this]);
  }
  log2(): Tensor {
    return op('aten::log2', [this]);
  }
  sqrt(): Tensor {
    return op('aten::sqrt', [this]);
  }
  rsqrt(): Tensor {
    return op('aten::rsqrt', [this]);
  }
  square(): Tensor {
    return op('aten::square', [this]);
  }
  reciprocal(): Tensor {
    return op('aten::reciprocal', [this]);
  }
  sin(): Tensor {
    return op('aten::sin', [this]);
  }
  cos(): Tensor {
    return op('aten::cos', [this]);
  }
  tan(): Tensor {
    return op('aten::tan', [this]);
  }
  asin(): Tensor {
    return op('aten::asin', [this]);
  }
  acos(): Tensor {
    return op('aten::acos', [this]);
  }
  atan(): Tensor {
    return op('aten::atan', [this]);
  }
  atan2(other: Tensor): Tensor {
    return op('aten::atan2', [this, other]);
  }
  sinh(): Tensor {
    return op('aten::sinh', [this]);
  }
  cosh(): Tensor {
    return op('aten::cosh', [this]);
  }
  tanh(): Tensor {
    return op('aten::tanh', [this]);
  }
  sigmoid(): Tensor {
    return op('aten::sigmoid', [this]);
  }
  relu(): Tensor {
    return op('aten::relu', [this]);
  }
  erf(): Tensor {
    return op('aten::erf', [this]);
  }
  floor(): Tensor {
    return op('aten::floor', [this]);
  }
  ceil(): Tensor {
    return op('aten::ceil', [this]);
  }
  round(): Tensor {
    return op('aten::round', [this]);
  }
  trunc(): Tensor {
    return op('aten::trunc', [this]);
  }
  frac(): Tensor {
    return op('aten::frac', [this]);
  }
  sign(): Tensor {
    return op('aten::sign', [this]);
  }
  clamp(min?: number | null, max?: number | null): Tensor {
    return op('aten::clamp', [this, min ?? null, max ?? null]);
  }
  clampMin(min: number): Tensor {
    return op('aten::clamp_min', [this, min]);
  }
  clampMax(max: number): Tensor {
    return op('aten::clamp_max', [this, max]);
  }
  minimum(other: Tensor): Tensor {
    return op('aten::minimum', [this, other]);
  }
  maximum(other: Tensor): Tensor {
    return op('aten::maximum', [this, other]);
  }
  lerp(end: Tensor, weight: TensorLike): Tensor {
    return isTensor(weight) ? op('aten::lerp.Tensor', [this, end, weight]) : op('aten::lerp.Scalar', [this, end, weight]);
  }
  isnan(): Tensor {
    return op('aten::isnan', [this]);
  }
  isinf(): Tensor {
    return op('aten::isinf', [this]);
  }
  isfinite(): Tensor {
    return op('aten::isfinite', [this]);
  }
  nanToNum(nan = 0, posinf?: number, neginf?: number): Tensor {
    return op('aten::nan_to_num', [this, nan, posinf ?? null, neginf ?? null]);
  }

  // ---- comparisons and logic -----------------------------------------------------------------------------
  eq(other: TensorLike): Tensor {
    return isTensor(other) ? op('aten::eq.Tensor', [this, other]) : op('aten::eq.Scalar', [this, other]);
  }
  ne(other: TensorLike): Tensor {
    return isTensor(other) ? op('aten::ne.Tensor', [this, other]) : op('aten::ne.Scalar', [this, other]);
  }
  lt(other: TensorLike): Tensor {
    return isTensor(other) ? op('aten::lt.Tensor', [this, other]) : op('aten::lt.Scalar', [this, other]);
  }
  le(other: TensorLike): Tensor {
    return isTensor(other) ? op('aten::le.Tensor', [this, other]) : op('aten::le.Scalar', [this, other]);
  }
  gt(other: TensorLike): Tensor {
    return isTensor(other) ? op('aten::gt.Tensor', [this, other]) : op('aten::gt.Scalar', [this, other]);
  }
  ge(other: TensorLike): Tensor {
    return isTensor(other) ? op('aten::ge.Tensor', [this, other]) : op('aten::ge.Scalar', [this, other]);
  }
  logicalAnd(other: Tensor): Tensor {
    return op('aten::logical_and', [this, other]);
  }
  logicalOr(other: Tensor): Tensor {
    return op('aten::logical_or', [this, other]);
  }
  logicalNot(): Tensor {
    return op('aten::logical_not', [this]);
  }
  allclose(other: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
    return callOp('aten::allclose', [this, other, rtol, atol, false]) as boolean;
  }
  equal(other: Tensor): boolean {
    return callOp('aten::equal', [this, other]) as boolean;
  }

  // ---- reductions ------------------------------------------------------------------------------------------
  sum(dim?: number | Shape, keepdim = false): Tensor {
    return dim === undefined ? op('aten::sum', [this, null]) : op('aten::sum.dim_IntList', [this, normDim(dim), keepdim, null]);
  }
  mean(dim?: number | Shape, keepdim = false): Tensor {
    return dim === undefined ? op('aten::mean', [this, null]) : op('aten::mean.dim', [this, normDim(dim), keepdim, null]);
  }
  prod(dim?: number, keepdim = false): Tensor {
    return dim === undefined ? op('aten::prod', [this, null]) : op('aten::prod.dim_int', [this, dim, keepdim, null]);
  }
  /** Standard deviation; `correction` 1 (default) is the unbiased estimator. */
  std(dim?: number | Shape, { correction = 1, keepdim = false } = {}): Tensor {
    return op('aten::std.correction', [this, normDim(dim) ?? null, correction, keepdim]);
  }
  var(dim?: number | Shape, { correction = 1, keepdim = false } = {}): Tensor {
    return op('aten::var.correction', [this, normDim(dim) ?? null, correction, keepdim]);
  }
  /** Maximum of all elements, or [values, indices] along `dim`. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): [Tensor, Tensor];
  max(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    return dim === undefined ? op('aten::max', [this]) : (callOp('aten::max.dim', [this, dim, keepdim]) as [Tensor, Tensor]);
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): [Tensor, Tensor];
  min(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    return dim === undefined ? op('aten::min', [this]) : (callOp('aten::min.dim', [this, dim, keepdim]) as [Tensor, Tensor]);
  }
  amax(dim: number | Shape, keepdim = false): Tensor {
    return op('aten::amax', [this, normDim(dim), keepdim]);
  }
  amin(dim: number | Shape, keepdim = false): Tensor {
    return op('aten::amin', [this, normDim(dim), keepdim]);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return op('aten::argmax', [this, dim ?? null, keepdim]);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return op('aten::argmin', [this, dim ?? null, keepdim]);
  }
  /** p-norm over all elements or over `dim`. */
  norm(p = 2, dim?: number | Shape, keepdim = false): Tensor {
    return op('aten::linalg_vector_norm', [this, p, normDim(dim) ?? null, keepdim, null]);
  }
  logsumexp(dim: number | Shape, keepdim = false): Tensor {
    return op('aten::logsumexp', [this, normDim(dim), keepdim]);
  }
  cumsum(dim: number): Tensor {
    return op('aten::cumsum', [this, dim, null]);
  }
  cumprod(dim: number): Tensor {
    return op('aten::cumprod', [this, dim, null]);
  }
  all(): Tensor {
    return op('aten::all', [this]);
  }
  any(): Tensor {
    return op('aten::any', [this]);
  }
  /** [values, indices] of the k largest (or smallest) entries along `dim`. */
  topk(k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] {
    return callOp('aten::topk', [this, k, dim, largest, sorted]) as [Tensor, Tensor];
  }
  /** [values, indices] sorted along `dim`. */
  sort(dim = -1, descending = false): [Tensor, Tensor] {
    return callOp('aten::sort', [this, dim, descending]) as [Tensor, Tensor];
  }
  argsort(dim = -1, descending = false): Tensor {
    return op('aten::argsort', [this, dim, descending]);
  }

  // ---- linear algebra -------------------------------------------------------------------------------------
  matmul(other: Tensor): Tensor {
    return op('aten::matmul', [this, other]);
  }
  mm(other: Tensor): Tensor {
    return op('aten::mm', [this, other]);
  }
  bmm(other: Tensor): Tensor {
    return op('aten::bmm', [this, other]);
  }
  dot(other: Tensor): Tensor {
    return op('aten::dot', [this, other]);
  }
  outer(other: Tensor): Tensor {
    return op('aten::outer', [this, other]);
  }

  // ---- complex ------------------------------------------------------------------------------------------
  real(): Tensor {
    return op('aten::real', [this]);
  }
  imag(): Tensor {
    return op('aten::imag', [this]);
  }
  angle(): Tensor {
    return op('aten::angle', [this]);
  }
  conj(): Tensor {
    return op('aten::conj_physical', [this]);
  }

  // ---- in place (no new tensor; returns this) ------------------------------------------------------------
  private inPlace(name: string, args: unknown[]): this {
    args.unshift(this);
    callOpInPlace(name, args);
    return this;
  }
  add_(other: TensorLike, alpha = 1): this {
    return isTensor(other) ? this.inPlace('aten::add_.Tensor', [other, alpha]) : this.inPlace('aten::add_.Scalar', [other, alpha]);
  }
  sub_(other: TensorLike, alpha = 1): this {
    return isTensor(other) ? this.inPlace('aten::sub_.Tensor', [other, alpha]) : this.inPlace('aten::sub_.Scalar', [other, alpha]);
  }
  mul_(other: TensorLike): this {
    return isTensor(other) ? this.inPlace('aten::mul_.Tensor', [other]) : this.inPlace('aten::mul_.Scalar', [other]);
  }
  div_(other: TensorLike): this {
    return isTensor(other) ? this.inPlace('aten::div_.Tensor', [other]) : this.inPlace('aten::div_.Scalar', [other]);
  }
  /** this += value · t1 · t2 */
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    return this.inPlace('aten::addcmul_', [t1, t2, value]);
  }
  /** this += value · t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    return this.inPlace('aten::addcdiv_', [t1, t2, value]);
  }
  lerp_(end: Tensor, weight: number): this {
    return this.inPlace('aten::lerp_.Scalar', [end, weight]);
  }
  clamp_(min?: number | null, max?: number | null): this {
    return this.inPlace('aten::clamp_', [min ?? null, max ?? null]);
  }
  fill_(value: number): this {
    return this.inPlace('aten::fill_.Scalar', [value]);
  }
  zero_(): this {
    return this.inPlace('aten::zero_', []);
  }
  copy_(src: Tensor): this {
    return this.inPlace('aten::copy_', [src, false]);
  }
  maskedFill_(mask: Tensor, value: number): this {
    return this.inPlace('aten::masked_fill_.Scalar', [mask, value]);
  }
  uniform_(from = 0, to = 1): this {
    return this.inPlace('aten::uniform_', [from, to, null]);
  }
  normal_(mean = 0, std = 1): this {
    return this.inPlace('aten::normal_', [mean, std, null]);
  }
}

function flatShape(args: number[] | [Shape]): number[] {
  return args.length === 1 && Array.isArray(args[0]) ? [...(args[0] as Shape)] : (args as number[]);
}

/** The Tensor for a handle the addon returned (null stays null). */
function wrap(h: Handle | null): Tensor | null {
  return h === null ? null : new Tensor(CREATE, h);
}
setTensorWrapper(wrap, (value) => (value instanceof Tensor ? value[HANDLE] : -2));
