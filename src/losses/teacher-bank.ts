// Contrastive distillation against a bank of the frozen teacher's embeddings (an extension of SPEC §4's teacher
// distillation, not in the paper). The cosine term pulls a student embedding towards its own photo's teacher
// embedding; this one also pushes it away from every other training photo's, so what the student learns is
// what tells people apart, not the whole embedding alike. Each student row's logits are its cosines with the
// bank's unit embeddings over a temperature; its target is its own photo's row; other photos of the same person
// are left out of the softmax (they are neither the target nor an impostor).

import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

/** Stands in for −∞ in the masked logits (cosines over a temperature stay far above it). */
const EXCLUDED = -1e4;

export interface TeacherBank {
  /** The frozen teacher's unit embeddings of every training photo [N, E]. */
  embeddings: Tensor;
  /** Each photo's identity [N] (int64); −1 for a person with no other photo, who shares with nobody. */
  identities: Tensor;
}

/**
 * Cross-entropy of `student` [B, E] (any norm) against the bank, the target of row b being bank row `rows[b]`
 * [B] (int64); mean over the batch.
 */
export function teacherBankLoss(student: Tensor, bank: TeacherBank, rows: Tensor, temperature: number): Tensor {
  if (!(temperature > 0)) throw new RangeError(`teacher bank: temperature must be > 0, got ${temperature}`);
  const [n, e] = bank.embeddings.shape;
  if (student.shape.length !== 2 || student.shape[1] !== e)
    throw new RangeError(`teacher bank: student embeddings [${student.shape}] do not match the bank's [${n}, ${e}]`);
  const logits = torch.F.normalize(student, 2, 1).matmul(bank.embeddings.detach().t()).div(temperature);
  const own = bank.identities.indexSelect(0, rows).unsqueeze(1);
  const self = torch.arange(0, n, 1, { dtype: 'int64' }).unsqueeze(0).eq(rows.unsqueeze(1));
  const samePerson = bank.identities.unsqueeze(0).eq(own).logicalAnd(own.ge(0)).logicalAnd(self.logicalNot());
  return torch.F.crossEntropy(logits.maskedFill(samePerson, EXCLUDED), rows);
}
