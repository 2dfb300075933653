// IJB-B/C template features: per-image features are averaged within each media (a video's frames, or one
// still), the media means are summed over the template's medias, and the sum is L2-normalised (SPEC §8).
import * as torch from '../torch/index.js';

export interface TemplateFeatures {
  /** Template ids in row order of `features` (ascending). */
  templateIds: Int32Array;
  /** [templates, D] unit rows (float32). Owned by the caller: dispose it. */
  features: torch.Tensor;
}

/**
 * Pools per-image features [N, D] into template features, given each image's template and media id.
 */
export function poolTemplates(imageFeatures: torch.Tensor, templateIds: Int32Array, mediaIds: Int32Array): TemplateFeatures {
  const n = templateIds.length;
  if (imageFeatures.ndim !== 2 || imageFeatures.shape[0] !== n) {
    throw new RangeError(`poolTemplates: features [${imageFeatures.shape}] do not match ${n} images (expected [${n}, D])`);
  }
  if (mediaIds.length !== n) throw new RangeError(`poolTemplates: ${n} template ids but ${mediaIds.length} media ids`);

  const templates = [...new Set(templateIds)].sort((a, b) => a - b);
  const rowOfTemplate = new Map<number, number>(templates.map((t, i) => [t, i]));
  // A media group is one (template, media) pair: the same media may appear in several templates.
  const groupOf = new Map<string, number>();
  const groupOfImage = new Int32Array(n);
  const templateOfGroup: number[] = [];
  for (let i = 0; i < n; i++) {
    const key = `${templateIds[i]}:${mediaIds[i]}`;
    let g = groupOf.get(key);
    if (g === undefined) {
      g = templateOfGroup.length;
      groupOf.set(key, g);
      templateOfGroup.push(rowOfTemplate.get(templateIds[i]) as number);
    }
    groupOfImage[i] = g;
  }
  const groups = templateOfGroup.length;
  const features = torch.tidy(() => {
    const images = imageFeatures.float();
    const d = images.shape[1];
    const groupIndex = torch.fromTypedArray(groupOfImage).long();
    const sums = torch.callOp('aten::index_add', [torch.zeros([groups, d]), 0, groupIndex, images]) as torch.Tensor;
    const counts = torch.callOp('aten::index_add', [torch.zeros([groups]), 0, groupIndex, torch.ones([n])]) as torch.Tensor;
    const mediaMeans = sums.div(counts.unsqueeze(1));
    const templateIndex = torch.fromTypedArray(Int32Array.from(templateOfGroup)).long();
    const pooled = torch.callOp('aten::index_add', [torch.zeros([templates.length, d]), 0, templateIndex, mediaMeans]) as torch.Tensor;
    return torch.F.normalize(pooled, 2, 1);
  });
  return { templateIds: Int32Array.from(templates), features };
}

/** Row indices of template ids in a pooled set; a clear error for an id that has no images. */
export function templateRows(pooled: TemplateFeatures, ids: Int32Array, what: string): Int32Array {
  const rowOf = new Map<number, number>();
  pooled.templateIds.forEach((t, i) => {
    rowOf.set(t, i);
  });
  return Int32Array.from(ids, (id, i) => {
    const row = rowOf.get(id);
    if (row === undefined) throw new RangeError(`${what}: pair ${i} names template ${id}, which has no images`);
    return row;
  });
}
