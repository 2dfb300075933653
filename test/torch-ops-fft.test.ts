// Parity with torch.fft and the complex helpers: forward values and gradients (through real views of complex
// results) of a random weighted sum. FFTs sum n terms, so tolerances are relative to the largest magnitude.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../src/torch/index.js';
import { checkParity, type OpCase } from './helpers/parity.js';

const { F, fft } = torch;
type T = torch.Tensor;
const randn = (...shape: number[]): T => torch.randn(shape);

test('FFTs equal PyTorch (values and gradients)', (t) => {
  torch.manualSeed(21);
  const x = randn(2, 6, 5);
  // safetensors stores no complex dtype: complex inputs are built from real and imaginary parts on both sides.
  const re = randn(2, 6, 5);
  const im = randn(2, 6, 5);
  // pocketfft's butterflies round differently from a direct sum only at ~1e-6 of the spectrum's scale.
  const tol = { rtol: 1e-5, atol: 1e-5 };
  const cases: OpCase[] = [
    {
      name: 'fft2',
      inputs: { x },
      js: ({ x }) => [fft.fft2(x), fft.fft2(x, undefined, undefined, 'ortho'), fft.fft2(x, [4, 8]), fft.fft2(x, undefined, [0, 2])],
      py: "(torch.fft.fft2(x), torch.fft.fft2(x, norm='ortho'), torch.fft.fft2(x, (4, 8)), torch.fft.fft2(x, dim=(0, 2)))",
      ...tol,
    },
    {
      name: 'ifft2',
      inputs: { re, im },
      js: ({ re, im }) => [fft.ifft2(F.complex(re, im)), fft.ifft2(F.complex(re, im), undefined, undefined, 'forward')],
      py: "(lambda z: (torch.fft.ifft2(z), torch.fft.ifft2(z, norm='forward')))(torch.complex(re, im))",
      ...tol,
    },
    {
      name: 'rfft2',
      inputs: { x },
      js: ({ x }) => [fft.rfft2(x), fft.irfft2(fft.rfft2(x), [6, 5]), fft.irfft2(fft.rfft2(x))],
      py: '(torch.fft.rfft2(x), torch.fft.irfft2(torch.fft.rfft2(x), (6, 5)), torch.fft.irfft2(torch.fft.rfft2(x)))',
      ...tol,
    },
    {
      name: 'fft1d',
      inputs: { x, re, im },
      js: ({ x, re, im }) => [fft.fft(x), fft.fft(x, 8, 1), fft.ifft(F.complex(re, im), undefined, 0)],
      py: '(torch.fft.fft(x), torch.fft.fft(x, 8, 1), torch.fft.ifft(torch.complex(re, im), dim=0))',
      ...tol,
    },
    {
      name: 'shift',
      inputs: { x },
      js: ({ x }) => [fft.fftshift(x), fft.ifftshift(x), fft.fftshift(x, [1]), fft.fftfreq(5), fft.fftfreq(6, 0.5)],
      py: '(torch.fft.fftshift(x, (-2, -1)), torch.fft.ifftshift(x, (-2, -1)), torch.fft.fftshift(x, (1,)), torch.fft.fftfreq(5), torch.fft.fftfreq(6, 0.5))',
    },
  ];
  checkParity(t, cases);
});

test('complex helpers equal PyTorch (values and gradients)', (t) => {
  torch.manualSeed(22);
  const cases: OpCase[] = [
    {
      name: 'complex_parts',
      inputs: { re: randn(3, 4), im: randn(3, 4) },
      js: ({ re, im }) => {
        const c = F.complex(re, im);
        return [c, c.real(), c.imag(), c.abs(), c.angle(), c.conj(), c.mul(c)];
      },
      py: '(lambda c: (c, c.real, c.imag, c.abs(), c.angle(), torch.conj_physical(c), c * c))(torch.complex(re, im))',
    },
    {
      name: 'polar',
      inputs: { r: torch.rand([3, 4]).add(0.1), th: randn(3, 4) },
      js: ({ r, th }) => {
        const c = F.polar(r, th);
        return [c, c.abs(), c.angle()];
      },
      py: '(lambda c: (c, c.abs(), c.angle()))(torch.polar(r, th))',
      rtol: 1e-5,
      atol: 2e-6, // angle = atan2(r·sin θ, r·cos θ) rounds once more than θ
    },
    {
      name: 'spectrum',
      inputs: { x: randn(1, 8, 8) },
      js: ({ x }) => {
        const s = fft.fftshift(fft.fft2(x));
        return [s.abs().add(1).log(), s.angle()];
      },
      py: '(lambda s: ((s.abs() + 1).log(), s.angle()))(torch.fft.fftshift(torch.fft.fft2(x), (-2, -1)))',
      rtol: 1e-5,
      atol: 1e-5, // phases of near-zero coefficients are ill-conditioned; values are O(1)
    },
  ];
  checkParity(t, cases);
});

test('complex tensors convert clearly to JS', () => {
  const c = F.complex(torch.tensor([1, 2]), torch.tensor([3, -4]));
  assert.equal(c.dtype, 'complex64');
  assert.deepEqual(Array.from(c.dataSync() as Float32Array), [1, 3, 2, -4]);
  assert.throws(() => c.toArray(), /complex tensor; take real\(\) \/ imag\(\) first/);
  assert.throws(() => c.select(0, 0).item(), /complex values have no JS number/);
});
