// Discrete Fourier transforms over the last two dimensions (images), as torch.fft.
import { callOp } from './native.js';
import type { Tensor } from './tensor.js';

type Norm = 'backward' | 'ortho' | 'forward';

function op(name: string, args: unknown[]): Tensor {
  return callOp(name, args) as Tensor;
}

/** A 2-D transform over `dim` (default the last two), with output sizes `s` and a normalisation mode. */
type Transform2d = (input: Tensor, s?: readonly [number, number], dim?: readonly [number, number], norm?: Norm) => Tensor;

function transform2d(name: string): Transform2d {
  return (input, s, dim = [-2, -1], norm = 'backward') => op(name, [input, s ? [...s] : null, [...dim], norm]);
}

/** 2-D FFT; real input gives a complex result. */
export const fft2: Transform2d = transform2d('aten::fft_fft2');
export const ifft2: Transform2d = transform2d('aten::fft_ifft2');
/** FFT of real input keeping the non-negative frequencies of the last dimension. */
export const rfft2: Transform2d = transform2d('aten::fft_rfft2');
/** Inverse of rfft2; pass `s` to recover odd sizes exactly. */
export const irfft2: Transform2d = transform2d('aten::fft_irfft2');

export function fft(input: Tensor, n?: number, dim = -1, norm: Norm = 'backward'): Tensor {
  return op('aten::fft_fft', [input, n ?? null, dim, norm]);
}
export function ifft(input: Tensor, n?: number, dim = -1, norm: Norm = 'backward'): Tensor {
  return op('aten::fft_ifft', [input, n ?? null, dim, norm]);
}
/** Moves the zero frequency to the centre. */
export function fftshift(input: Tensor, dim: readonly number[] = [-2, -1]): Tensor {
  return op('aten::fft_fftshift', [input, [...dim]]);
}
export function ifftshift(input: Tensor, dim: readonly number[] = [-2, -1]): Tensor {
  return op('aten::fft_ifftshift', [input, [...dim]]);
}
/** Sample frequencies of an n-point FFT with spacing d. */
export function fftfreq(n: number, d = 1): Tensor {
  return op('aten::fft_fftfreq', [n, d, 'float32', null, null, null]);
}
