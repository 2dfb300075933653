// The ablation studies of `catface ablate --study <name>`: each is a reference variant and other variants, every
// one a documented override of the base training config (plain JSON merged into it), and the paper's claims
// the study tests (SPEC §9: Tables II, VI, VII, VIII). `embedding` says which embedding the study compares:
// the fused one (stage-2 studies) or the FR branch's (stage-1 studies, run without stage 2). With
// `sharedStage1` the variants differ only in stage 2, so each seed trains stage 1 once and every variant's
// stage 2 starts from that model (model.init): the comparison is paired down to the stage-1 weights.
import { DEFAULT_ATTRIBUTES } from '../data/readers/attributes.js';
import type { ProtocolName } from './test-protocols.js';

/** A partial training config (the JSON of `catface train --config`), merged field by field into the base. */
export type ConfigPatch = { [field: string]: ConfigPatch | string | number | boolean | null | (string | number)[] };

export interface Variant {
  id: string;
  /** What the override means, for the report. */
  doc: string;
  overrides: ConfigPatch;
}

/** A paper claim: variant `better` beats variant `worse` on `protocol` (mean over seeds, 10-fold accuracy). */
export interface Claim {
  text: string;
  source: string;
  better: string;
  worse: string;
  protocol: ProtocolName;
}

export interface Study {
  name: string;
  doc: string;
  reference: string;
  embedding: 'fr' | 'fused';
  sharedStage1: boolean;
  /** Applied to every variant before its own overrides. */
  base: ConfigPatch;
  variants: Variant[];
  claims: Claim[];
}

/** Stage-1 studies evaluate the FR branch; stage 2 is skipped. */
const STAGE1_ONLY: ConfigPatch = { stage2: { steps: 0, optim: { milestones: [] } } };

const fusion = (kind: string, doc: string): Variant => ({ id: kind, doc, overrides: { model: { fusion: kind } } });

const LOW_QUALITY: ProtocolName = 'degraded vs degraded';
const CLEAN: ProtocolName = 'clean vs clean';

export const STUDIES: Study[] = [
  {
    name: 'fusion',
    doc: 'stage-2 fusion of the FR and SB branch maps (paper Table II); one stage-1 network per seed shared by every fusion',
    reference: 'none',
    embedding: 'fused',
    sharedStage1: true,
    base: {},
    variants: [
      fusion('none', 'FR map alone with a fresh fused head trained in stage 2 (the baseline without SB)'),
      fusion('concat', '[F_fr, F_sb] along channels'),
      fusion('add', 'F_fr + F_sb'),
      fusion('se', 'SE channel gating of [F_fr, F_sb]'),
      fusion('cross', 'one-way cross-attention, FR tokens query SB tokens'),
      fusion('catf', 'CATF: dual cross-attention, MFFNL, CAF (SPEC §5)'),
    ],
    claims: [
      { text: 'CATF beats the baseline without SB', source: 'Table II', better: 'catf', worse: 'none', protocol: CLEAN },
      { text: 'CATF beats concatenation', source: 'Table II', better: 'catf', worse: 'concat', protocol: CLEAN },
      { text: 'CATF beats addition', source: 'Table II', better: 'catf', worse: 'add', protocol: CLEAN },
      { text: 'CATF beats SE gating', source: 'Table II', better: 'catf', worse: 'se', protocol: CLEAN },
      { text: 'CATF beats single cross-attention', source: 'Table II', better: 'catf', worse: 'cross', protocol: CLEAN },
      { text: 'CATF beats the baseline on low-quality images', source: 'paper §1', better: 'catf', worse: 'none', protocol: LOW_QUALITY },
    ],
  },
  {
    name: 'distillation',
    doc: 'what stage 1 distils from each HQ image to its degraded twin (paper Table VI); FR branch embedding, no stage 2',
    reference: 'none',
    embedding: 'fr',
    sharedStage1: false,
    base: STAGE1_ONLY,
    variants: [
      { id: 'none', doc: 'no distillation (λ_dist = 0)', overrides: { loss: { lambdaDist: 0 } } },
      { id: 'features', doc: 'feature maps of each branch', overrides: { loss: { distillTarget: 'features' } } },
      { id: 'cbam', doc: 'CBAM-style channel and spatial maps', overrides: { loss: { distillTarget: 'cbam' } } },
      { id: 'attention', doc: 'self-attention A and V (SPEC §4)', overrides: { loss: { distillTarget: 'attention' } } },
    ],
    claims: [
      {
        text: 'self-attention distillation beats none on degraded images',
        source: 'Table VI',
        better: 'attention',
        worse: 'none',
        protocol: LOW_QUALITY,
      },
      {
        text: 'self-attention distillation beats feature distillation on degraded images',
        source: 'Table VI',
        better: 'attention',
        worse: 'features',
        protocol: LOW_QUALITY,
      },
      {
        text: 'self-attention distillation beats CBAM maps on degraded images',
        source: 'Table VI',
        better: 'attention',
        worse: 'cbam',
        protocol: LOW_QUALITY,
      },
      {
        text: 'feature distillation beats none on degraded images',
        source: 'Table VI',
        better: 'features',
        worse: 'none',
        protocol: LOW_QUALITY,
      },
    ],
  },
  {
    name: 'distance',
    doc: 'distance of the self-attention distillation (paper Table VII); FR branch embedding, no stage 2',
    reference: 'cosine',
    embedding: 'fr',
    sharedStage1: false,
    base: STAGE1_ONLY,
    variants: [
      { id: 'cosine', doc: '1 − cos of the flattened maps (SPEC §4)', overrides: { loss: { distillDistance: 'cosine' } } },
      { id: 'l2', doc: 'mean squared difference', overrides: { loss: { distillDistance: 'l2' } } },
    ],
    claims: [
      { text: 'cosine beats L2 as the distillation distance', source: 'Table VII', better: 'cosine', worse: 'l2', protocol: LOW_QUALITY },
    ],
  },
  {
    name: 'catf-parts',
    doc: 'CATF without its parts (paper Table VIII); one stage-1 network per seed shared by the variants',
    reference: 'catf',
    embedding: 'fused',
    sharedStage1: true,
    base: {},
    variants: [
      fusion('catf', 'full CATF'),
      fusion('catf-no-mffnl', 'without MFFNL (O_b = Z_b)'),
      fusion('catf-no-caf', 'without CAF (the fused map is [O_fr, O_sb])'),
    ],
    claims: [
      {
        text: 'MFFNL helps (full CATF beats CATF without MFFNL)',
        source: 'Table VIII',
        better: 'catf',
        worse: 'catf-no-mffnl',
        protocol: CLEAN,
      },
      { text: 'CAF helps (full CATF beats CATF without CAF)', source: 'Table VIII', better: 'catf', worse: 'catf-no-caf', protocol: CLEAN },
    ],
  },
  {
    name: 'loss-weights',
    doc: 'the stage-1 loss weights λ_FR, λ_SB, λ_dist (SPEC §4, §7), one at a time around the defaults 3/1/1; fused embedding',
    reference: 'default',
    embedding: 'fused',
    sharedStage1: false,
    base: {},
    variants: [
      { id: 'default', doc: 'λ_FR 3, λ_SB 1, λ_dist 1', overrides: { loss: { lambdaFR: 3, lambdaSB: 1, lambdaDist: 1 } } },
      ...[1, 10].map((v) => ({ id: `fr-${v}`, doc: `λ_FR ${v}`, overrides: { loss: { lambdaFR: v, lambdaSB: 1, lambdaDist: 1 } } })),
      ...[0, 0.3, 3].map((v) => ({ id: `sb-${v}`, doc: `λ_SB ${v}`, overrides: { loss: { lambdaFR: 3, lambdaSB: v, lambdaDist: 1 } } })),
      ...[0, 0.3, 3].map((v) => ({
        id: `dist-${v}`,
        doc: `λ_dist ${v}`,
        overrides: { loss: { lambdaFR: 3, lambdaSB: 1, lambdaDist: v } },
      })),
    ],
    claims: [],
  },
  {
    name: 'attributes',
    doc: 'the SB branch trained on the first k of the five default attributes (k = 0: no attribute loss); fused embedding',
    reference: 'k5',
    embedding: 'fused',
    sharedStage1: false,
    base: {},
    variants: [0, 1, 2, 3, 4, 5].map((k) => ({
      id: `k${k}`,
      doc:
        k === 0
          ? 'no attribute loss (λ_SB 0): the SB branch learns only from distillation'
          : `SB on ${DEFAULT_ATTRIBUTES.slice(0, k).join(', ')}`,
      overrides: {
        data: { attributes: DEFAULT_ATTRIBUTES.slice(0, Math.max(1, k)) },
        loss: { lambdaSB: k === 0 ? 0 : 1, attributeWeights: null },
      },
    })),
    claims: [
      {
        text: 'the attribute branch helps: SB on all five attributes beats SB on none',
        source: 'Table II',
        better: 'k5',
        worse: 'k0',
        protocol: CLEAN,
      },
      { text: 'the attribute branch helps on low-quality images', source: 'paper §1', better: 'k5', worse: 'k0', protocol: LOW_QUALITY },
    ],
  },
];

export function findStudy(name: string): Study {
  const study = STUDIES.find((s) => s.name === name);
  if (!study) throw new Error(`--study: unknown study '${name}' (one of ${STUDIES.map((s) => s.name).join(', ')})`);
  return study;
}

/** Fields a shared-stage-1 variant may override: only what stage 2 trains. */
export const STAGE2_FIELDS = ['model.fusion', 'model.heads', 'model.groups', 'model.expandRatio', 'stage2'];
