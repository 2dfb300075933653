// catface/distributed: torch.distributed's API (c10d stores, Gloo/NCCL process groups, collectives) over
// libtorch's own implementation, so catface ranks and PyTorch ranks can share a group.
export {
  allGather,
  allReduce,
  barrier,
  broadcast,
  DEFAULT_TIMEOUT_MS,
  destroyProcessGroup,
  getRank,
  getWorldSize,
  type InitOptions,
  initProcessGroup,
  isInitialized,
  reduceScatter,
} from './default-group.js';
export { type RankEnv, readMaster, readRankEnv, readWorld } from './env.js';
export { LAUNCH_DEFAULTS, type LaunchOptions, launch } from './launcher.js';
export { type Backend, ProcessGroup, type ReduceOp } from './process-group.js';
export { GradientReducer, type GradientReducerOptions } from './reducer.js';
export { Store, storeBarrier } from './store.js';
export { Work } from './work.js';
