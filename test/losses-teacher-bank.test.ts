// The teacher-bank contrastive term (loss.lambdaTeacherBank): its value equals a hand-computed softmax cross-entropy in which other photos
// of the same person are left out, a person marked −1 shares with nobody, and bad arguments are refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { teacherBankLoss } from '../src/losses/teacher-bank.js';
import * as torch from '../src/torch/index.js';
import { parseTrainConfig } from '../src/train/config.js';
import { TRUNK_CACHE_CONFIG } from './helpers/trunk-cache-config.js';

const unit = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const bankRows = [unit([1, 0.2, 0]), unit([0.9, 0.4, 0.1]), unit([0, 1, 0.3]), unit([0.2, 0.1, 1])];
const bank = () => ({
  embeddings: torch.tensor(bankRows),
  identities: torch.tensor([0, 0, -1, 1], { dtype: 'int64' }),
});

/** −log softmax of the target among the kept rows, by hand. */
function expected(student: number[], target: number, kept: number[], temperature: number): number {
  const s = unit(student);
  const logit = (r: number) => bankRows[r].reduce((acc, x, k) => acc + x * s[k], 0) / temperature;
  const z = Math.log(kept.reduce((acc, r) => acc + Math.exp(logit(r)), 0));
  return z - logit(target);
}

test('equals the cross-entropy over the bank with the same person’s other photos left out', () => {
  const students = [
    [2, 0.5, 0.1], // photo 0 (person 0): photo 1 is the same person, left out
    [0.1, 3, 0.2], // photo 2 (a person with no other photo): every row counts
  ];
  const t = 0.1;
  const loss = torch.tidy(() => teacherBankLoss(torch.tensor(students), bank(), torch.tensor([0, 2], { dtype: 'int64' }), t).item());
  const want = (expected(students[0], 0, [0, 2, 3], t) + expected(students[1], 2, [0, 1, 2, 3], t)) / 2;
  assert.ok(Math.abs(loss - want) < 1e-4, `${loss} vs ${want}`);
});

test("a same-person photo's embedding does not move the loss; an impostor's does", () => {
  const value = (rows: number[][]) =>
    torch.tidy(() =>
      teacherBankLoss(
        torch.tensor([[1, 0.3, 0]]),
        { embeddings: torch.tensor(rows), identities: torch.tensor([0, 0, -1, 1], { dtype: 'int64' }) },
        torch.tensor([0], { dtype: 'int64' }),
        0.05,
      ).item(),
    );
  const base = value(bankRows);
  const sameMoved = value([bankRows[0], unit([1, 0.3, 0]), bankRows[2], bankRows[3]]);
  const impostorMoved = value([bankRows[0], bankRows[1], bankRows[2], unit([1, 0.3, 0])]);
  assert.ok(Math.abs(sameMoved - base) < 1e-5, `${sameMoved} vs ${base}`);
  assert.ok(impostorMoved > base + 0.5, `${impostorMoved} vs ${base}`);
});

test('the gradient reaches the student and pulls it towards its own teacher embedding', () => {
  torch.tidy(() => {
    const student = torch.tensor([[0.5, 0.5, 0.5]]).requiresGrad_(true);
    teacherBankLoss(student, bank(), torch.tensor([3], { dtype: 'int64' }), 0.1).backward();
    const g = Array.from(student.grad?.dataSync() as Float32Array);
    // a step against the gradient raises the cosine with photo 3's embedding
    const stepped = [0.5, 0.5, 0.5].map((x, k) => x - 0.1 * g[k]);
    const cos = (v: number[]) => unit(v).reduce((a, x, k) => a + x * bankRows[3][k], 0);
    assert.ok(cos(stepped) > cos([0.5, 0.5, 0.5]));
  });
});

test('refuses a non-positive temperature and a student of another width', () => {
  torch.tidy(() => {
    const rows = torch.tensor([0], { dtype: 'int64' });
    assert.throws(() => teacherBankLoss(torch.tensor([[1, 0, 0]]), bank(), rows, 0), /temperature must be > 0/);
    assert.throws(() => teacherBankLoss(torch.tensor([[1, 0]]), bank(), rows, 0.1), /do not match the bank's \[4, 3\]/);
  });
});

test('loss.lambdaTeacherBank defaults to 0 and is refused without the trunk cache that holds the bank', () => {
  const base = TRUNK_CACHE_CONFIG;
  const parsed = parseTrainConfig(base);
  assert.equal(parsed.loss.lambdaTeacherBank, 0);
  assert.equal(parsed.loss.teacherBankTemperature, 0.05);
  assert.equal(parsed.data.trunkCache?.mirrored, false);
  assert.equal(parseTrainConfig({ ...base, loss: { lambdaTeacher: 1, lambdaTeacherBank: 0.2 } }).loss.lambdaTeacherBank, 0.2);
  const noCache = { ...base, data: { train: 'y', imageSize: 150 }, loss: { lambdaTeacher: 1, lambdaTeacherBank: 0.2 } };
  assert.throws(() => parseTrainConfig(noCache), /loss\.lambdaTeacherBank.*needs data\.trunkCache/);
  assert.throws(() => parseTrainConfig({ ...base, loss: { lambdaTeacher: 1, teacherBankTemperature: 0 } }), /loss\.teacherBankTemperature/);
});
