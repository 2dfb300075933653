// Runs before the addon build: fails early, with the fix, when libtorch's headers are not installed.
const fs = require('node:fs');
const path = require('node:path');

const root = process.env.LIBTORCH;
const header = root ? path.join(root, 'include', 'ATen', 'ATen.h') : '/usr/include/ATen/ATen.h';
if (!fs.existsSync(header)) {
  const fix = root
    ? `LIBTORCH=${root} has no include/ATen/ATen.h; point LIBTORCH at an unpacked libtorch (the folder with include/ and lib/).`
    : 'Install it with: sudo apt-get install -y libtorch-dev libopenblas0-openmp   (or run ./setup.sh), ' +
      'or set LIBTORCH to an unpacked libtorch folder.';
  console.error(`catface: libtorch was not found (${header} is missing).\n${fix}`);
  process.exit(1);
}

// The c10d binding includes Gloo's headers (ProcessGroupGloo.hpp needs them); Debian ships them in libgloo-dev.
const glooHeaders = [root && path.join(root, 'include', 'gloo', 'context.h'), '/usr/include/gloo/context.h'].filter(Boolean);
if (!glooHeaders.some((h) => fs.existsSync(h))) {
  console.error(
    `catface: Gloo's headers were not found (${glooHeaders.join(' or ')}); the distributed binding needs them.\n` +
      'Install them with: sudo apt-get install -y libgloo-dev   (or run ./setup.sh).',
  );
  process.exit(1);
}
