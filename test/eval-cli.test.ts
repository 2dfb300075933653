// `catface eval ijb` on a fixture in the real IJB layout with precomputed features (--json, --out), then
// `catface report` on the saved result; and clear usage errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { saveSafetensors } from '../src/nn/safetensors.js';
import * as torch from '../src/torch/index.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

function catface(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('catface eval ijb --features --json, then catface report', () => {
  const root = mkdtempSync(join(tmpdir(), 'catface-cli-'));
  try {
    mkdirSync(join(root, 'IJBX', 'meta'), { recursive: true });
    // Templates 1…4; template 1 has two images of one media. Template scores: (1,2) 0.8, (1,3) 0, (2,3) 0.6,
    // (1,4) −1, (3,4) 0, (2,4) −0.8.
    writeFileSync(
      join(root, 'IJBX', 'meta', 'ijbx_face_tid_mid.txt'),
      ['a.jpg 1 7', 'b.jpg 1 7', 'c.jpg 2 8', 'd.jpg 3 9', 'e.jpg 4 10', ''].join('\n'),
    );
    writeFileSync(
      join(root, 'IJBX', 'meta', 'ijbx_template_pair_label.txt'),
      ['1 2 1', '1 3 0', '2 3 1', '1 4 0', '3 4 0', '2 4 1', ''].join('\n'),
    );
    const features = join(root, 'features.safetensors');
    saveSafetensors(features, {
      embeddings: torch.tensor([
        [2, 0],
        [1, 0],
        [0.8, 0.6],
        [0, 3],
        [-1, 0],
      ]),
    });
    const out = join(root, 'result.json');
    const r = catface('eval', 'ijb', '--meta', join(root, 'IJBX'), '--features', features, '--json', '--bootstrap', '0', '--out', out);
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(json.dataset, 'ijbx');
    assert.equal(json.pairs, 6);
    assert.equal(json.genuine, 3);
    // Genuine 0.8, 0.6, −0.8 vs impostor 0, −1, 0: AUC = (3 + 3 + 1) / 9.
    assert.ok(Math.abs(json.auc.value - 7 / 9) < 1e-6, String(json.auc.value));
    assert.ok(json.tarAtFar.every((t: { value: number | null }) => t.value === null));
    assert.ok(existsSync(out));
    const report = join(root, 'report');
    const rr = catface('report', '--out', report, out);
    assert.equal(rr.status, 0, rr.stderr);
    const html = readFileSync(join(report, 'index.html'), 'utf8');
    assert.match(html, /ROC — ijbx/);
    const figures = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(figures.length, 2, 'the ROC and the score histogram');
    for (const src of figures) assert.ok(existsSync(join(report, src)), src);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('catface eval: clear usage errors', () => {
  const noModel = catface('eval', 'verify', '--bin', 'x.bin');
  assert.equal(noModel.status, 2);
  assert.match(noModel.stderr, /which model\? give --model DIR or --peer faceapi/);
  const badProtocol = catface('eval', 'rank');
  assert.match(badProtocol.stderr, /unknown eval protocol 'rank'/);
  const missing = catface('eval', 'ijb', '--meta', join(tmpdir(), 'no-such-ijb'), '--features', 'f');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no \*_face_tid_mid\.txt/);
  const notResult = catface('report', '--out', join(tmpdir(), 'catface-report-x'), cli);
  assert.match(notResult.stderr, /not a JSON result file/);
});
