// Builds the stage-2 fusion named by `config.kind` (default CATF).
import { AddFusion, ConcatFusion, CrossAttentionFusion, NoFusion, SEFusion } from './baseline-fusions.js';
import { CATF } from './catf.js';
import { type Fusion, type FusionConfig, resolveFusionOptions } from './fusion-base.js';

export function createFusion(config: FusionConfig): Fusion {
  const { kind } = resolveFusionOptions(config);
  switch (kind) {
    case 'none':
      return new NoFusion(config);
    case 'concat':
      return new ConcatFusion(config);
    case 'add':
      return new AddFusion(config);
    case 'se':
      return new SEFusion(config);
    case 'cross':
      return new CrossAttentionFusion(config);
    case 'catf':
    case 'catf-no-mffnl':
    case 'catf-no-caf':
      return new CATF(config);
  }
}
