// `catface export`: a model directory's inference graph as an ONNX file (models/onnx-export.ts), written durably.
import { existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { writeFileDurably } from '../io/durable.js';
import { assertSeparate } from '../io/separate-paths.js';
import { readModelDir, resolveModelDir } from '../models/model-dir.js';
import { catfaceOnnxModel, ONNX_INPUT } from '../models/onnx-export.js';
import { ONNX_OPSETS } from '../nn/onnx-graph.js';
import { encodeOnnxModel } from '../nn/onnx-proto.js';
import { type Command, UsageError } from './command.js';
import { intFlag } from './flags.js';

const BATCH_RANGE = { min: 1, max: 4096 };

export const exportCommand: Command = {
  name: 'export',
  summary: 'write a model as an ONNX file (onnxruntime, onnxruntime-web, any ONNX runtime)',
  usage: [
    'catface export [--model DIR] --out model.onnx [--batch N|dynamic] [--opset 17]',
    '',
    '  --model DIR    the model directory (default: the shipped model, models/default)',
    '  --out FILE     the .onnx file to write (written whole: temp file, then rename)',
    `  --batch        a fixed batch size (${BATCH_RANGE.min}–${BATCH_RANGE.max}) or 'dynamic' (default: a named batch dimension)`,
    `  --opset N      ONNX opset, ${ONNX_OPSETS.min}–${ONNX_OPSETS.max} (default ${ONNX_OPSETS.min})`,
    '',
    `Input '${ONNX_INPUT}' [B, 3, S, S]: the aligned RGB face, pixel/127.5 − 1. Outputs: fr_embedding [B, E] and, for`,
    'a model with a fusion, fused_embedding (unit embeddings); quality [B] (the FR feature norm); attribute_logits and',
    "attributes [B, K] (sigmoid). The model's model.json is stored in the file's metadata as catface.model.",
  ].join('\n'),
  run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        out: { type: 'string' },
        batch: { type: 'string', default: 'dynamic' },
        opset: { type: 'string', default: String(ONNX_OPSETS.min) },
      },
    });
    if (!values.out) throw new UsageError('--out FILE is required (the .onnx file to write)');
    const batch = values.batch === 'dynamic' ? 'dynamic' : intFlag(values.batch, 'batch', BATCH_RANGE);
    const opset = intFlag(values.opset, 'opset', ONNX_OPSETS);
    if (existsSync(values.out) && statSync(values.out).isDirectory())
      throw new UsageError(`--out ${values.out} is a directory; give the .onnx file to write`);
    const dir = resolveModelDir(values.model);
    assertSeparate([{ role: '--out', path: values.out }], [{ role: '--model', path: dir }]);
    const { spec, model } = readModelDir(dir);
    try {
      const start = performance.now();
      const graph = catfaceOnnxModel(model, {
        batch,
        opset,
        metadata: { 'catface.model': JSON.stringify(spec) },
      });
      writeFileDurably(values.out, encodeOnnxModel(graph));
      const mb = statSync(values.out).size / 2 ** 20;
      console.log(
        `${values.out}: ${mb.toFixed(1)} MB, opset ${opset}, batch ${batch}, ${graph.nodes.length} nodes, ` +
          `input ${ONNX_INPUT} [${graph.inputs[0].shape}], outputs ${graph.outputs.map((o) => `${o.name} [${o.shape}]`).join(', ')} ` +
          `(${((performance.now() - start) / 1000).toFixed(1)} s)`,
      );
    } finally {
      model.dispose();
    }
    return 0;
  },
};
