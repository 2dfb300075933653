// DataParallel's overlapped averaging (libtorch's DDP reducer, all-reducing buckets during backward) on 2 Gloo
// ranks: 6 SGD steps give exactly the weights of averaging after backward; a step that leaves a parameter without
// a gradient falls back to averaging after backward (still exactly equal) and makes the reducer search for unused
// parameters, after which a parameter unused on one rank only is still averaged alike on both.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from './helpers/free-port.js';
import { lastJson, rankEnv, start } from './helpers/rank-process.js';

const here = dirname(fileURLToPath(import.meta.url));
const rankScript = join(here, 'helpers', 'overlap-rank.js');

type RankResult = {
  rank: number;
  onVsOff: number;
  moved: number;
  buckets: number[];
  findsUnused: boolean;
  sums: number[];
  varyingSums?: number[];
  varyingFindsUnused?: boolean;
};

async function twoRanks(scenario: string): Promise<RankResult[]> {
  const port = await freePort();
  const ranks = [0, 1].map((rank) => start(process.execPath, [rankScript, scenario], rankEnv(port, rank)).done);
  return (await Promise.all(ranks)).map((ran, rank) => lastJson(ran, `rank ${rank}`) as unknown as RankResult);
}

test('overlap on and off give exactly the same weights over 6 steps, the same on both ranks', { timeout: 120000 }, async () => {
  const [r0, r1] = await twoRanks('used');
  for (const r of [r0, r1]) {
    assert.equal(r.onVsOff, 0, `rank ${r.rank}: overlapped and after-backward averaging differ by ${r.onVsOff}`);
    assert.ok(r.moved > 1e-3, `rank ${r.rank}: training moved the weights by only ${r.moved}`);
    assert.equal(r.findsUnused, false);
    // 4 MiB of weights: DDP's 1 MiB first bucket and 1 MiB caps give several buckets, so there is something to overlap
    assert.ok(r.buckets.length >= 4, `buckets ${r.buckets}`);
    assert.equal(
      r.buckets.reduce((a, b) => a + b, 0),
      4 * (512 * 512 + 512) * 4,
    );
  }
  // different data on each rank: only averaging makes their weights agree
  assert.deepEqual(r1.sums, r0.sums);
});

test('a parameter without a gradient: that step averages after backward, then the reducer finds unused parameters', {
  timeout: 120000,
}, async () => {
  const [r0, r1] = await twoRanks('unused');
  for (const r of [r0, r1]) {
    assert.equal(r.onVsOff, 0, `rank ${r.rank}: overlapped and after-backward averaging differ by ${r.onVsOff}`);
    assert.ok(r.moved > 1e-3);
    assert.equal(r.findsUnused, true, 'the step without a gradient for the last layer remade the reducer with findUnused');
    assert.equal(r.varyingFindsUnused, true);
  }
  assert.deepEqual(r1.sums, r0.sums);
  // step 7 leaves the last layer out on rank 1 only: the reducer still averages it (rank 1 contributing zero)
  assert.deepEqual(r1.varyingSums, r0.varyingSums);
  assert.notDeepEqual(r0.varyingSums, r0.sums);
});
