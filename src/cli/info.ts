// `catface info`: the engine's build, threads and devices — the first thing to check on a new machine.

import { parseArgs } from 'node:util';
import { buildInfo, cudaAvailable, cudaDeviceCount, getNumThreads } from '../torch/index.js';
import type { Command } from './command.js';

export const info: Command = {
  name: 'info',
  summary: 'show the libtorch build, threads and devices',
  usage: 'catface info\n\nPrints the libtorch version, intra-op threads (set CATFACE_THREADS to change) and CUDA devices.',
  run(argv) {
    parseArgs({ args: argv, options: {} }); // no options: an unknown flag is refused, not ignored
    const build = buildInfo();
    console.log(`libtorch ${build.torch}`);
    console.log(`threads  ${getNumThreads()}`);
    console.log(`cuda     ${cudaAvailable() ? `${cudaDeviceCount()} device(s)` : 'not available'}`);
    console.log(build.parallel.trim());
    return 0;
  },
};
