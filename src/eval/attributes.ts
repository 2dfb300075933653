// Soft-biometric attribute metrics (SPEC §8): per attribute, accuracy and balanced accuracy (the mean of
// the true-positive and true-negative rates, which a skewed attribute such as Bald cannot inflate).

export interface AttributeMetrics {
  name: string;
  accuracy: number;
  balancedAccuracy: number;
  positives: number;
  negatives: number;
}

/**
 * `predictions` and `labels` are [samples, attributes] row-major; a prediction counts as positive when it
 * exceeds `threshold` (0 for logits, 0.5 for probabilities). Labels must be 0 or 1.
 */
export function attributeMetrics(
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
  names: readonly string[],
  threshold = 0,
): AttributeMetrics[] {
  const k = names.length;
  if (k === 0) throw new RangeError('attributeMetrics: no attribute names');
  if (predictions.length !== labels.length || predictions.length % k !== 0) {
    throw new RangeError(`attributeMetrics: ${predictions.length} predictions and ${labels.length} labels for ${k} attributes`);
  }
  const samples = predictions.length / k;
  return names.map((name, a) => {
    let tp = 0;
    let tn = 0;
    let positives = 0;
    for (let s = 0; s < samples; s++) {
      const y = labels[s * k + a];
      if (y !== 0 && y !== 1) throw new RangeError(`attributeMetrics: label of sample ${s}, attribute '${name}' is ${y} (must be 0 or 1)`);
      const predicted = predictions[s * k + a] > threshold ? 1 : 0;
      if (y === 1) {
        positives++;
        tp += predicted;
      } else tn += 1 - predicted;
    }
    const negatives = samples - positives;
    const rates = [positives > 0 ? tp / positives : null, negatives > 0 ? tn / negatives : null].filter((r): r is number => r !== null);
    return {
      name,
      accuracy: (tp + tn) / samples,
      balancedAccuracy: rates.reduce((x, y) => x + y, 0) / rates.length,
      positives,
      negatives,
    };
  });
}
