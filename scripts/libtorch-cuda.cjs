// Prints 1 when the libtorch the addon links (LIBTORCH, else Debian's) is a CUDA build, else 0: binding.gyp then
// compiles the NCCL process group (it needs libtorch_cuda and the CUDA toolkit's headers, CUDA_HOME).
const fs = require('node:fs');
const path = require('node:path');

const lib = process.env.LIBTORCH ? path.join(process.env.LIBTORCH, 'lib') : '/usr/lib/x86_64-linux-gnu';
process.stdout.write(fs.existsSync(path.join(lib, 'libtorch_cuda.so')) ? '1' : '0');
