// Zernike polynomials in Noll's ordering and normalisation ((1/π)∫_disk Z_i Z_j = δ_ij), and Noll's (1976)
// closed-form covariance of Kolmogorov phase expanded on them — the statistics the turbulence blur draws from.

/** Radial order n and signed azimuthal frequency m of Noll index j ≥ 1 (m < 0: sine term, m > 0: cosine). */
export function nollToNM(j: number): { n: number; m: number } {
  if (!Number.isInteger(j) || j < 1) throw new RangeError(`nollToNM: index must be an integer ≥ 1, got ${j}`);
  let next = 1;
  for (let n = 0; ; n++) {
    for (let am = n % 2; am <= n; am += 2) {
      if (am === 0) {
        if (next === j) return { n, m: 0 };
        next += 1;
        continue;
      }
      // Two modes share |m|: the even index is the cosine, the odd one the sine.
      for (const idx of [next, next + 1]) {
        if (idx === j) return { n, m: idx % 2 === 0 ? am : -am };
      }
      next += 2;
    }
  }
}

function factorial(k: number): number {
  let f = 1;
  for (let i = 2; i <= k; i++) f *= i;
  return f;
}

/** R_n^|m|(ρ), the radial polynomial. */
export function zernikeRadial(n: number, m: number, rho: number): number {
  const am = Math.abs(m);
  let sum = 0;
  for (let k = 0; k <= (n - am) / 2; k++) {
    const c = ((k % 2 === 0 ? 1 : -1) * factorial(n - k)) / (factorial(k) * factorial((n + am) / 2 - k) * factorial((n - am) / 2 - k));
    sum += c * rho ** (n - 2 * k);
  }
  return sum;
}

/** Z_j at polar coordinates (ρ ≤ 1, θ), Noll-normalised. */
export function zernike(j: number, rho: number, theta: number): number {
  const { n, m } = nollToNM(j);
  const radial = Math.sqrt(n + 1) * zernikeRadial(n, m, rho);
  if (m === 0) return radial;
  return Math.SQRT2 * radial * (m > 0 ? Math.cos(m * theta) : Math.sin(-m * theta));
}

/**
 * Zernike modes `first`…`first+count−1` sampled on a size×size grid whose centred disk of diameter `diameter`
 * samples is the pupil: returns [count × size²] row-major values (zero outside the disk) and the pupil mask.
 */
export function zernikeGrid(first: number, count: number, size: number, diameter: number): { modes: Float64Array; pupil: Float64Array } {
  const modes = new Float64Array(count * size * size);
  const pupil = new Float64Array(size * size);
  const centre = (size - 1) / 2;
  const radius = diameter / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = (x - centre) / radius;
      const dy = (y - centre) / radius;
      const rho = Math.hypot(dx, dy);
      if (rho > 1) continue;
      const p = y * size + x;
      pupil[p] = 1;
      const theta = Math.atan2(dy, dx);
      for (let i = 0; i < count; i++) modes[i * size * size + p] = zernike(first + i, rho, theta);
    }
  }
  return { modes, pupil };
}

/** Γ(x) for real x not a non-positive integer: Stirling's series after shifting x ≥ 10, reflection below 0.5. */
export function gamma(x: number): number {
  if (x < 0.5) return Math.PI / (Math.sin(Math.PI * x) * gamma(1 - x));
  let shift = 1;
  let y = x;
  while (y < 10) {
    shift *= y;
    y += 1;
  }
  const y2 = y * y;
  const series = 1 / (12 * y) - 1 / (360 * y * y2) + 1 / (1260 * y * y2 * y2) - 1 / (1680 * y * y2 * y2 * y2);
  return Math.exp((y - 0.5) * Math.log(y) - y + 0.5 * Math.log(2 * Math.PI) + series) / shift;
}

/** Noll's constant [Γ(14/3) ((24/5) Γ(6/5))^(5/6) Γ(11/6)²] / (2π²) ≈ 2.2698. */
const NOLL_K = (gamma(14 / 3) * ((24 / 5) * gamma(6 / 5)) ** (5 / 6) * gamma(11 / 6) ** 2) / (2 * Math.PI ** 2);

/** E[a_i a_j] in rad² for D/r0 = 1 (scale by (D/r0)^(5/3)); zero unless m_i = m_j and the parity matches. */
export function nollCovarianceEntry(i: number, j: number): number {
  const a = nollToNM(i);
  const b = nollToNM(j);
  if (Math.abs(a.m) !== Math.abs(b.m)) return 0;
  if (a.m !== 0 && (i - j) % 2 !== 0) return 0; // a sine mode never correlates with a cosine mode
  if (a.n === 0 || b.n === 0) throw new RangeError('nollCovarianceEntry: piston (j = 1) has infinite variance under Kolmogorov statistics');
  const am = Math.abs(a.m);
  const sign = ((a.n + b.n - 2 * am) / 2) % 2 === 0 ? 1 : -1;
  const numerator = NOLL_K * sign * Math.sqrt((a.n + 1) * (b.n + 1)) * gamma((a.n + b.n - 5 / 3) / 2);
  const denominator = gamma((a.n - b.n + 17 / 3) / 2) * gamma((b.n - a.n + 17 / 3) / 2) * gamma((a.n + b.n + 23 / 3) / 2);
  return numerator / denominator;
}

/** The covariance matrix [count × count] (row-major) of modes first…first+count−1, D/r0 = 1, rad². */
export function nollCovariance(first: number, count: number): Float64Array {
  const out = new Float64Array(count * count);
  for (let r = 0; r < count; r++) for (let c = 0; c < count; c++) out[r * count + c] = nollCovarianceEntry(first + r, first + c);
  return out;
}
