// Bessel functions of the first kind J_n(x) for small integer orders, in double precision: the power series
// below x = 12 (its largest term there is ~4e3, so ~1e-12 absolute error) and Hankel's asymptotic expansion
// above, summed until its terms stop shrinking (smallest term ~e^(-2x) < 1e-10).

const SERIES_LIMIT = 12;

/** J_n(x) for an integer order n ≥ 0 and real x (J_n(-x) = (-1)^n J_n(x)). */
export function besselJ(n: number, x: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`besselJ: order must be a non-negative integer, got ${n}`);
  if (!Number.isFinite(x)) throw new RangeError(`besselJ: argument must be finite, got ${x}`);
  if (x < 0) return (n % 2 === 0 ? 1 : -1) * besselJ(n, -x);
  return x < SERIES_LIMIT ? seriesJ(n, x) : asymptoticJ(n, x);
}

/** J_n(x) / x^n, finite at x = 0 (equals 1 / (2^n n!) there). */
export function besselJOverPower(n: number, x: number): number {
  if (Math.abs(x) < SERIES_LIMIT) return seriesJ(n, x, true);
  return besselJ(n, x) / x ** n;
}

function seriesJ(n: number, x: number, dividedByPower = false): number {
  const half = x / 2;
  let term = dividedByPower ? 1 / 2 ** n : half ** n;
  for (let k = 2; k <= n; k++) term /= k;
  let sum = term;
  const q = half * half;
  for (let k = 1; k < 200; k++) {
    term *= -q / (k * (k + n));
    sum += term;
    if (Math.abs(term) < 1e-17 * Math.abs(sum) && k > half) break;
  }
  return sum;
}

function asymptoticJ(n: number, x: number): number {
  const mu = 4 * n * n;
  let p = 0;
  let q = 0;
  let term = 1; // a_k / x^k with a_k = Π_{i≤k} (mu − (2i−1)²) / (k! 8^k)
  let previous = Number.POSITIVE_INFINITY;
  for (let k = 0; k < 60; k++) {
    if (k > 0) term *= (mu - (2 * k - 1) ** 2) / (k * 8 * x);
    const size = Math.abs(term);
    if (size > previous) break; // the expansion is asymptotic: stop at its smallest term
    previous = size;
    const sign = Math.floor(k / 2) % 2 === 0 ? 1 : -1;
    if (k % 2 === 0) p += sign * term;
    else q += sign * term;
    if (size < 1e-17) break;
  }
  const chi = x - (n / 2 + 0.25) * Math.PI;
  return Math.sqrt(2 / (Math.PI * x)) * (p * Math.cos(chi) - q * Math.sin(chi));
}
