// `catface train --config run.json`: two-stage CATFace training (SPEC §5, §7) with checkpoints, resume,
// validation and a JSONL metrics log; exports the trained model directory to <outDir>/model.
import { parseArgs } from 'node:util';
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
    '',
    '  --config <file>     training config (JSON); see configs/demo.json, and --schema for every field',
    '  --resume            continue from the newest checkpoint in the run directory (exactly: same losses);',
    "                      refused when the config differs from the run's <outDir>/run.json (differences listed)",
    '  --force             start over in an outDir holding an earlier run (deleting its checkpoints, metrics and',
    '                      model), or --resume despite config differences',
    '  --stop-after <n>    stop after global step n (checkpointed), e.g. to split a run into sessions',
    '  --schema            print every config field with its type, default and meaning',
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
    const result = await runTraining(config, { resume: values.resume, force: values.force, stopAfter });
    console.log(
      result.modelDir
        ? `trained ${result.step} steps; model written to ${result.modelDir}`
        : `stopped after step ${result.step}; resume with: catface train --config ${values.config} --resume`,
    );
    return 0;
  },
};
