// `catface train --config run.json`: two-stage CATFace training (SPEC §5, §7) with checkpoints, resume,
// validation and a JSONL metrics log; exports the trained model directory to <outDir>/model. With
// --nproc-per-node it is torchrun: it launches one `catface train` per rank, and each rank (RANK/WORLD_SIZE in
// its environment) joins the Gloo group and trains its shard.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { destroyProcessGroup, initProcessGroup, LAUNCH_DEFAULTS, launch, readWorld } from '../distributed/index.js';
import { detectorChoice } from '../serve/face-detectors.js';
import { loadTrainConfig, trainConfigReference } from '../train/config.js';
import { runTraining } from '../train/run.js';
import type { Command } from './command.js';
import { UsageError } from './command.js';
import { intFlag } from './flags.js';

export const trainCommand: Command = {
  name: 'train',
  summary: 'train CATFace (stage 1 multi-branch, stage 2 CATF) from a config file',
  usage: [
    'catface train --config <file.json> [--resume] [--force] [--stop-after <step>]',
    '              [--nproc-per-node N [--nnodes M --node-rank R --master-addr A --master-port P]]',
    '',
    '  --config <file>     training config (JSON); see configs/demo.json, and --schema for every field',
    '  --resume            continue from the newest checkpoint in the run directory (exactly: same losses);',
    "                      refused when the config differs from the run's <outDir>/run.json (differences listed)",
    '  --force             start over in an outDir holding an earlier run (deleting its checkpoints, metrics and',
    '                      model), or --resume despite config differences',
    '  --stop-after <n>    stop after global step n (checkpointed), e.g. to split a run into sessions',
    '  --schema            print every config field with its type, default and meaning',
    '  --nproc-per-node N  data-parallel: N processes on this node (1–256), each with its share of the cores; as',
    '                      torchrun, it sets MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK per rank. Each',
    '                      rank takes stage*.batchSize images per step (global batch N×M×batchSize); rank 0 writes',
    '                      checkpoints, metrics and the model; a rank that dies stops the others',
    `  --nnodes M          nodes taking part (default ${LAUNCH_DEFAULTS.nnodes}); run the same command on each with its --node-rank`,
    `  --node-rank R       this node's index, 0…M−1 (default ${LAUNCH_DEFAULTS.nodeRank}); node 0 hosts the rendezvous`,
    `  --master-addr A     node 0's address (default ${LAUNCH_DEFAULTS.masterAddr})`,
    `  --master-port P     the rendezvous port on node 0 (default ${LAUNCH_DEFAULTS.masterPort})`,
    '',
    'Writes <outDir>/run.json (the config and its hash), <outDir>/checkpoints/step-N/, <outDir>/metrics.jsonl and,',
    'at the end, <outDir>/model/. A fresh run into an outDir holding an earlier run is refused: use --resume, a new',
    'outDir or --force. outDir must not be or lie inside data.train. The model is',
    '(model.json + weights.safetensors, loadable by FaceModel.load). A NaN/Inf loss stops the run with',
    'an error and keeps the last good checkpoint.',
  ].join('\n'),
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        resume: { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        'stop-after': { type: 'string' },
        schema: { type: 'boolean', default: false },
        'nproc-per-node': { type: 'string' },
        nnodes: { type: 'string' },
        'node-rank': { type: 'string' },
        'master-addr': { type: 'string' },
        'master-port': { type: 'string' },
      },
    });
    if (values.schema) {
      console.log(trainConfigReference());
      return 0;
    }
    if (!values.config) throw new UsageError('--config <file.json> is required');
    let stopAfter: number | undefined;
    if (values['stop-after'] !== undefined) {
      stopAfter = intFlag(values['stop-after'], 'stop-after', { min: 1, max: Number.MAX_SAFE_INTEGER });
    }
    const config = loadTrainConfig(values.config);
    if (values['nproc-per-node'] !== undefined) return launchRanks(argv, values);
    for (const flag of ['nnodes', 'node-rank', 'master-addr', 'master-port'] as const)
      if (values[flag] !== undefined) throw new UsageError(`--${flag} needs --nproc-per-node`);
    const world = process.env.WORLD_SIZE ? readWorld() : null;
    const group =
      world && world.worldSize > 1
        ? await initProcessGroup({ backend: 'gloo', timeoutMs: config.distributed.timeoutSeconds * 1000 })
        : null;
    let result: Awaited<ReturnType<typeof runTraining>>;
    try {
      result = await runTraining(config, {
        resume: values.resume,
        force: values.force,
        stopAfter,
        group,
        detector: detectorChoice('onnx'),
      });
    } finally {
      destroyProcessGroup();
    }
    if (group && group.rank !== 0) return 0;
    console.log(
      result.modelDir
        ? `trained ${result.step} steps; model written to ${result.modelDir}`
        : `stopped after step ${result.step}; resume with: catface train --config ${values.config} --resume`,
    );
    return 0;
  },
};

const launcherFlags = new Set(['--nproc-per-node', '--nnodes', '--node-rank', '--master-addr', '--master-port']);

/** torchrun's part: checks the launcher flags, then runs this command without them once per local rank. */
async function launchRanks(argv: string[], values: Record<string, unknown>): Promise<number> {
  const flag = (name: string, min: number, max: number, fallback: number) =>
    values[name] === undefined ? fallback : intFlag(values[name] as string, name, { min, max });
  const nnodes = flag('nnodes', 1, 65536, LAUNCH_DEFAULTS.nnodes);
  const options = {
    nprocPerNode: flag('nproc-per-node', 1, 256, 1),
    nnodes,
    nodeRank: flag('node-rank', 0, nnodes - 1, LAUNCH_DEFAULTS.nodeRank),
    masterAddr: (values['master-addr'] as string | undefined) ?? LAUNCH_DEFAULTS.masterAddr,
    masterPort: flag('master-port', 1, 65535, LAUNCH_DEFAULTS.masterPort),
  };
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [name] = argv[i].split('=');
    if (launcherFlags.has(name)) {
      if (!argv[i].includes('=')) i++; // its value
      continue;
    }
    args.push(argv[i]);
  }
  const script = join(dirname(fileURLToPath(import.meta.url)), 'main.js');
  return launch({ ...options, script, args: ['train', ...args] });
}
