// The margin softmax head of face recognition (SPEC §4): class centres W ∈ R^{E×classes}, cosine logits and a
// margin on the target class. AdaFace adapts the margin to image quality (the feature norm against running
// statistics); ArcFace (angular margin) and CosFace (additive cosine margin) are the same head with fixed margins.
import { Module } from '../nn/module.js';
import type { Tensor } from '../torch/index.js';
import * as torch from '../torch/index.js';

export type MarginKind = 'adaface' | 'arcface' | 'cosface';

export interface MarginHeadConfig {
  /** Number of identities (columns of W). Required. */
  classes: number;
  /** Which margin: 'adaface' (default), 'arcface' or 'cosface'. */
  kind?: MarginKind;
  /** Embedding size E (rows of W). Default 512. */
  embeddingSize?: number;
  /** Logit scale s. Default 64. */
  scale?: number;
  /** Margin m. Default 0.4 (AdaFace), 0.5 (ArcFace), 0.35 (CosFace). */
  margin?: number;
  /** AdaFace quality concentration h. Default 0.333. */
  h?: number;
  /** AdaFace running-statistics momentum α. Default 0.01. */
  momentum?: number;
  /** Clamp of cosθ to [−1+ε, 1−ε] and of angles to [ε, π−ε]; also the σ guard. Default 1e-3. */
  eps?: number;
  /** AdaFace initial running mean μ and std σ of the feature norm. Defaults 20 and 100. */
  initialMean?: number;
  initialStd?: number;
}

/** The one place the margin head's defaults live (SPEC §4); the training config's schema shows these. */
export const MARGIN_HEAD_DEFAULTS = {
  kind: 'adaface' as MarginKind,
  embeddingSize: 512,
  scale: 64,
  /** m per kind. */
  margin: { adaface: 0.4, arcface: 0.5, cosface: 0.35 } as Record<MarginKind, number>,
  h: 0.333,
  momentum: 0.01,
  eps: 1e-3,
  initialMean: 20,
  initialStd: 100,
};
const d = MARGIN_HEAD_DEFAULTS;
const normClip = [0.001, 100] as const;

function positive(name: string, value: number, integer = false): number {
  if (!(Number.isFinite(value) && value > 0) || (integer && !Number.isInteger(value))) {
    throw new RangeError(`MarginHead: config.${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
  }
  return value;
}

export class MarginHead extends Module {
  readonly kind: MarginKind;
  readonly classes: number;
  readonly embeddingSize: number;
  readonly scale: number;
  readonly margin: number;
  readonly h: number;
  readonly momentum: number;
  readonly eps: number;
  /** Class centres [E, classes]; columns are L2-normalised at every use. */
  readonly kernel: Tensor;
  /** AdaFace running mean and std of the clipped feature norm (0-d buffers, saved in the state dict). */
  readonly mu: Tensor | null = null;
  readonly sigma: Tensor | null = null;
  /**
   * Sums a tensor over every part of the global batch, in place (data-parallel training sets it to an
   * all-reduce), so AdaFace's norm statistics are the global batch's; null: this batch is the whole batch.
   */
  sumAcrossBatch: ((t: Tensor) => void) | null = null;

  constructor(config: MarginHeadConfig) {
    super();
    this.kind = config.kind ?? d.kind;
    if (!(this.kind in d.margin)) throw new RangeError(`MarginHead: config.kind must be adaface, arcface or cosface, got '${this.kind}'`);
    this.classes = positive('classes', config.classes, true);
    this.embeddingSize = positive('embeddingSize', config.embeddingSize ?? d.embeddingSize, true);
    this.scale = positive('scale', config.scale ?? d.scale);
    this.margin = config.margin ?? d.margin[this.kind];
    if (!(Number.isFinite(this.margin) && this.margin >= 0))
      throw new RangeError(`MarginHead: config.margin must be ≥ 0, got ${this.margin}`);
    this.h = positive('h', config.h ?? d.h);
    this.momentum = positive('momentum', config.momentum ?? d.momentum);
    if (this.momentum > 1) throw new RangeError(`MarginHead: config.momentum must be in (0, 1], got ${this.momentum}`);
    this.eps = positive('eps', config.eps ?? d.eps);
    this.kernel = this.param('kernel', torch.empty([this.embeddingSize, this.classes]).uniform_(-1, 1));
    if (this.kind === 'adaface') {
      this.mu = this.buffer('mu', torch.tensor(config.initialMean ?? d.initialMean));
      this.sigma = this.buffer('sigma', torch.tensor(positive('initialStd', config.initialStd ?? d.initialStd)));
    }
  }

  /**
   * Scaled logits [B, classes] with the margin applied to each row's target class. `embedding` [B, E] is the unit
   * embedding, `norm` [B, 1] or [B] the feature norm before normalisation (AdaFace's quality proxy), `labels`
   * [B] int64. In training mode AdaFace first updates its running norm statistics with this batch.
   */
  logits(embedding: Tensor, norm: Tensor, labels: Tensor): Tensor {
    const b = this.checkInputs(embedding, norm, labels);
    const eps = this.eps;
    const cosine = embedding.matmul(torch.F.normalize(this.kernel, 2, 0)).clamp(-1 + eps, 1 - eps);
    const index = labels.unsqueeze(1);
    const target = this.marginTarget(cosine.gather(1, index), norm.reshape(b));
    return cosine.scatter(1, index, target).mul(this.scale);
  }

  /**
   * The target class's cosine with its margin: cosθ − m (CosFace), cos(θ + m) (ArcFace), cos(θ − m·ẑ) − (m + m·ẑ)
   * (AdaFace, with ẑ from `norm` [B]; updates the running statistics in training). `cosTarget` [B, 1], unscaled.
   */
  marginTarget(cosTarget: Tensor, norm: Tensor): Tensor {
    if (this.kind === 'cosface') return cosTarget.sub(this.margin);
    const eps = this.eps;
    let angleMargin: torch.TensorLike = this.margin;
    let additiveMargin: torch.TensorLike = 0;
    if (this.kind === 'adaface') {
      const quality = this.quality(norm, norm.shape[0]);
      angleMargin = quality.mul(-this.margin).unsqueeze(1);
      additiveMargin = quality.mul(this.margin).add(this.margin).unsqueeze(1);
    }
    return cosTarget
      .acos()
      .add(angleMargin)
      .clamp(eps, Math.PI - eps)
      .cos()
      .sub(additiveMargin);
  }

  /** AdaFace's running mean and std of the feature norm (null for ArcFace and CosFace), for logs and tests. */
  normStatistics(): { mean: number; std: number } | null {
    return this.mu && this.sigma ? { mean: this.mu.item(), std: this.sigma.item() } : null;
  }

  /** Cross-entropy of the margin logits (the training loss). */
  forward(embedding: Tensor, norm: Tensor, labels: Tensor): Tensor {
    return torch.F.crossEntropy(this.logits(embedding, norm, labels), labels);
  }

  /** AdaFace's ẑ = clip(h·(n − μ)/(σ + ε), −1, 1) with n the clipped, detached norm; updates μ, σ in training. */
  private quality(norm: Tensor, batch: number): Tensor {
    const mu = this.mu as Tensor;
    const sigma = this.sigma as Tensor;
    const n = norm.clamp(normClip[0], normClip[1]).detach();
    if (this.training) {
      if (batch < 2) throw new RangeError('MarginHead(adaface): a training batch needs ≥ 2 samples (the norm std is unbiased)');
      torch.noGrad(() => {
        const { mean, std } = this.batchMoments(n);
        mu.mul_(1 - this.momentum).add_(mean.mul(this.momentum));
        sigma.mul_(1 - this.momentum).add_(std.mul(this.momentum));
      });
    }
    return n.sub(mu).div(sigma.add(this.eps)).mul(this.h).clamp(-1, 1);
  }

  /** Mean and unbiased std of the norms over the (global) batch; across ranks from sums in float64. */
  private batchMoments(n: Tensor): { mean: Tensor; std: Tensor } {
    if (!this.sumAcrossBatch) return { mean: n.mean(), std: n.std() };
    const x = n.double();
    const sums = torch.stack([x.sum(), x.square().sum(), torch.tensor(x.numel(), { dtype: 'float64' })]);
    this.sumAcrossBatch(sums);
    const [total, squares, count] = sums.toArray() as number[];
    const mean = total / count;
    const variance = Math.max(0, (squares - total * mean) / (count - 1));
    return { mean: torch.tensor(mean), std: torch.tensor(Math.sqrt(variance)) };
  }

  private checkInputs(embedding: Tensor, norm: Tensor, labels: Tensor): number {
    const [b, e] = embedding.shape;
    if (embedding.ndim !== 2 || e !== this.embeddingSize) {
      throw new RangeError(`MarginHead: embedding must be [B, ${this.embeddingSize}], got [${embedding.shape}]`);
    }
    if (norm.numel() !== b || norm.ndim > 2) throw new RangeError(`MarginHead: norm must be [${b}, 1] or [${b}], got [${norm.shape}]`);
    if (labels.ndim !== 1 || labels.shape[0] !== b || labels.dtype !== 'int64') {
      throw new RangeError(`MarginHead: labels must be int64 [${b}], got ${labels.dtype} [${labels.shape}]`);
    }
    return b;
  }
}
