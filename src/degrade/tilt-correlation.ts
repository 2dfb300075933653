// The spatial correlation of turbulent tilt (Chimitt & Chan): C(s) = [I0(s) + I2(s)] / I0(0) with
// I_n(s) = ∫₀^∞ z^(−14/3) J_n(2sz) J2(z)² dz and s the separation of two points in aperture diameters.
// The integrand behaves like z^(−2/3)/64 at 0 (J2(z)² ~ z⁴/64); substituting z = u³ on [0, 1] makes it smooth.
// Beyond z = 1 it decays like z^(−17/3), so truncating at z = 80 leaves < 1e-8 of I0(0). Tabulated once per
// (sMax, points), cached in memory and optionally in a JSON file.
import { existsSync, readFileSync } from 'node:fs';
import { writeFileDurably } from '../io/durable.js';
import { besselJ, besselJOverPower } from './bessel.js';

const Z_SPLIT = 1;
const Z_MAX = 80;
const U_INTERVALS = 600;

/** Composite Simpson rule of f over [a, b] with an even number of intervals. */
function simpson(f: (x: number) => number, a: number, b: number, intervals: number): number {
  const n = intervals % 2 === 0 ? intervals : intervals + 1;
  const h = (b - a) / n;
  let sum = f(a) + f(b);
  for (let i = 1; i < n; i++) sum += (i % 2 === 0 ? 2 : 4) * f(a + i * h);
  return (sum * h) / 3;
}

/** I_n(s) for n = 0 or 2 and s ≥ 0, by Simpson quadrature with a step resolving J_n(2sz)'s oscillation. */
export function tiltIntegral(n: 0 | 2, s: number): number {
  if (!(s >= 0) || !Number.isFinite(s)) throw new RangeError(`tiltIntegral: separation must be finite and ≥ 0, got ${s}`);
  // On [0, 1], z = u³: z^(−14/3) J2(z)² dz = 3 (J2(z)/z²)² du.
  const near = simpson(
    (u) => {
      const z = u * u * u;
      const g = besselJOverPower(2, z);
      return 3 * g * g * besselJ(n, 2 * s * z);
    },
    0,
    1,
    U_INTERVALS,
  );
  const step = Math.min(0.02, Math.PI / (24 * Math.max(2 * s, 1)));
  const far = simpson(
    (z) => {
      const j2 = besselJ(2, z);
      return z ** (-14 / 3) * j2 * j2 * besselJ(n, 2 * s * z);
    },
    Z_SPLIT,
    Z_MAX,
    Math.ceil((Z_MAX - Z_SPLIT) / step),
  );
  return near + far;
}

/** C(s) sampled at s = i·sMax/(points−1), i = 0…points−1; C(0) = 1. */
export interface TiltCorrelationTable {
  sMax: number;
  values: Float64Array;
}

const memory = new Map<string, TiltCorrelationTable>();

/**
 * The tilt-correlation table on [0, sMax]. Computed once per (sMax, points) in this process; with `cacheFile`
 * it is also read from / written to that JSON file (atomically), so later processes skip the quadrature.
 */
export function tiltCorrelationTable(sMax: number, points = 257, cacheFile?: string): TiltCorrelationTable {
  if (!(sMax > 0) || !Number.isFinite(sMax)) throw new RangeError(`tiltCorrelationTable: sMax must be finite and > 0, got ${sMax}`);
  if (!Number.isInteger(points) || points < 2) throw new RangeError(`tiltCorrelationTable: points must be an integer ≥ 2, got ${points}`);
  const key = `${sMax}:${points}`;
  const cached = memory.get(key);
  if (cached) return cached;
  const fromDisk = cacheFile ? readCache(cacheFile, key) : undefined;
  const table = fromDisk ?? computeTable(sMax, points);
  memory.set(key, table);
  if (cacheFile && !fromDisk) writeCache(cacheFile, key, table);
  return table;
}

function computeTable(sMax: number, points: number): TiltCorrelationTable {
  const values = new Float64Array(points);
  const i00 = tiltIntegral(0, 0);
  for (let i = 0; i < points; i++) {
    const s = (i * sMax) / (points - 1);
    values[i] = i === 0 ? 1 : (tiltIntegral(0, s) + tiltIntegral(2, s)) / i00;
  }
  return { sMax, values };
}

/** C(s) by linear interpolation in the table; s beyond sMax is an error (the table was made too short). */
export function tiltCorrelation(table: TiltCorrelationTable, s: number): number {
  const { sMax, values } = table;
  if (!(s >= 0) || s > sMax * (1 + 1e-9)) throw new RangeError(`tiltCorrelation: s = ${s} outside the table [0, ${sMax}]`);
  const x = (Math.min(s, sMax) / sMax) * (values.length - 1);
  const i = Math.min(Math.floor(x), values.length - 2);
  const f = x - i;
  return values[i] * (1 - f) + values[i + 1] * f;
}

type CacheFile = Record<string, { sMax: number; values: number[] }>;

function readCacheFile(path: string): CacheFile {
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as CacheFile;
  } catch (err) {
    throw new Error(`tilt-correlation cache ${path}: not valid JSON (${(err as Error).message}); delete it to rebuild`);
  }
}

function readCache(path: string, key: string): TiltCorrelationTable | undefined {
  const entry = readCacheFile(path)[key];
  if (!entry) return undefined;
  if (!Array.isArray(entry.values) || entry.values.some((v) => typeof v !== 'number')) {
    throw new Error(`tilt-correlation cache ${path}: entry ${key} is malformed; delete the file to rebuild`);
  }
  return { sMax: entry.sMax, values: Float64Array.from(entry.values) };
}

function writeCache(path: string, key: string, table: TiltCorrelationTable): void {
  const all = readCacheFile(path);
  all[key] = { sMax: table.sMax, values: [...table.values] };
  writeFileDurably(path, JSON.stringify(all));
}
