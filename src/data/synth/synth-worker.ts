// Worker thread of `generateSynthDataset`: renders and writes the images of the identities it is given.
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import { renderIdentity, type SynthJob } from './synth-dataset.js';

sharp.concurrency(1);

parentPort?.on('message', async (job: SynthJob) => {
  try {
    for (const index of job.indices) {
      await renderIdentity(job.out, job.config, index);
      parentPort?.postMessage({ done: index });
    }
    parentPort?.postMessage({ finished: true });
  } catch (error) {
    parentPort?.postMessage({ error: String((error as Error).stack ?? error) });
  }
});
