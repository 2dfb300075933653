// Optimisers: torch.optim's SGD and AdamW with parameter groups and resumable state.
export { AdamW, type AdamWOptions } from './adamw.js';
export {
  decayGroups,
  flattenOptimizerState,
  Optimizer,
  type OptimizerState,
  type ParamGroup,
  type ParamState,
  unflattenOptimizerState,
} from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
