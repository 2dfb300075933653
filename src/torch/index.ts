// The typed tensor library over libtorch: `import * as torch from 'catface/torch'` style access.
export * from './autograd.js';
export * from './creation.js';
export * as fft from './fft.js';
export * as F from './functional.js';
export { cat, eigh, einsum, stack, svd, where } from './functional.js';
export { callOp, callOpAsync, callOpInPlace, opSchema } from './native.js';
export * from './runtime.js';
export { dispose, keep, tidy, trackedCount, unkeep } from './scope.js';
export { type DType, type NestedArray, type Shape, Tensor, type TensorLike, typedArrayFor } from './tensor.js';
