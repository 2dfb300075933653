// The package's entry points by name (package.json `exports`), as README's Library section imports them: each
// resolves to the same module the source tree builds, and README's example runs through them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as nn from '../src/nn/index.js';
import * as torch from '../src/torch/index.js';

// a specifier held in a variable: TypeScript leaves the package self-reference to Node's resolver
const load = (specifier: string) => import(specifier);

test("'catface', 'catface/torch' and 'catface/nn' resolve by package name", async () => {
  const [root, byNameTorch, byNameNn] = await Promise.all([load('catface'), load('catface/torch'), load('catface/nn')]);
  assert.equal(byNameTorch.Tensor, torch.Tensor);
  assert.equal(byNameNn.Module, nn.Module);
  assert.equal(root.torch.Tensor, torch.Tensor);
  assert.equal(root.nn.Linear, nn.Linear);
  assert.equal(typeof root.FaceModel, 'function');
});

test("README's library example runs through 'catface/torch'", async () => {
  const t: typeof torch = await load('catface/torch');
  const x = t.randn([8, 3, 64, 64], { requiresGrad: true });
  const y = t.tidy(() =>
    t.F.conv2d(x, t.randn([16, 3, 3, 3]), null, { padding: 1 })
      .relu()
      .mean(),
  );
  y.backward();
  const grad = x.grad as torch.Tensor;
  assert.deepEqual(grad.shape, [8, 3, 64, 64]);
  t.dispose([x, y, grad]);
});
