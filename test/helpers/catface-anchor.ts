// Access to the PyTorch reference of CATFace (shared/anchors/pytorch_catface_bench.py) from parity tests: its
// class definitions are executed in the oracle snippet (everything above its benchmark section), and a module's
// state dict travels to Python and back under a prefix.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Module } from '../../src/nn/module.js';
import type { Tensor } from '../../src/torch/index.js';
import * as torch from '../../src/torch/index.js';
import { pythonUnavailable } from './oracle.js';

const here = dirname(fileURLToPath(import.meta.url));
// Tests run from dist/test/helpers; the anchors sit beside the repository in shared/.
export const anchorPath = join(here, '..', '..', '..', '..', 'shared', 'anchors', 'pytorch_catface_bench.py');

/** Why the anchor cannot be used, or null. */
export const anchorUnavailable: string | null =
  pythonUnavailable ?? (existsSync(anchorPath) ? null : `the PyTorch anchor ${anchorPath} is absent: CATFace parity tests skipped`);

/** Python that defines the anchor's classes (IBlock, SelfAttention, EmbedHead, MultiBranch, AdaFace, MFFNL, CATF,
 * distill) with its command-line arguments set to `args`. */
export function anchorPrelude(args: string[]): string {
  return [
    `_src = open(${JSON.stringify(anchorPath)}).read().split('\\nnet = MultiBranch()')[0]`,
    `sys.argv = ['anchor'] + ${JSON.stringify(args)}`,
    `exec(compile(_src, ${JSON.stringify(anchorPath)}, 'exec'), globals())`,
    'torch.set_num_threads(1)',
  ].join('\n');
}

/** A module's state dict as oracle inputs named `<prefix>.<key>`; in Python, `prefixed(inp, prefix)` gets it back. */
export function stateInputs(module: Module, prefix: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of module.stateDict()) out[`${prefix}.${k}`] = v;
  return out;
}

export const pythonHelpers = `
def prefixed(d, prefix):
    return {k[len(prefix) + 1:]: v for k, v in d.items() if k.startswith(prefix + '.')}
def put(prefix, d):
    for k, v in d.items():
        out[prefix + '.' + k] = v.detach().clone() if v is not None else None
def grads(prefix, module):
    for k, p in module.named_parameters():
        if p.grad is not None:
            out[prefix + '.' + k] = p.grad.detach().clone()
`;

/** Moves every weight and running statistic off its initial value, so that all of them matter in the check. */
export function perturb(module: Module): void {
  torch.noGrad(() => {
    for (const [name, t] of module.stateDict()) {
      if (!t.isFloatingPoint) continue;
      if (name.endsWith('running_var')) t.copy_(torch.rand(t.shape).add(0.5));
      else t.add_(torch.randn(t.shape).mul(0.1));
    }
  });
}
