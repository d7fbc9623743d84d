// Robust fitting for calibration: outlier-proof lines, monotone curves, robust spreads and least-change corrections.
import { median } from '../analysis/utilization';

/** Robust standard deviation: 1.4826 × the median absolute deviation (that of a normal distribution's σ). */
export function robustSd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = median(xs);
  return 1.4826 * median(xs.map((x) => Math.abs(x - m)));
}

/** Theil–Sen line y ≈ a + b·x: the median of the pairwise slopes, then the median intercept (ignores up to ~29 % outliers). */
export function theilSen(xs: readonly number[], ys: readonly number[]): { a: number; b: number } {
  const slopes: number[] = [];
  for (let i = 0; i < xs.length; i++) for (let j = i + 1; j < xs.length; j++) if (xs[j] !== xs[i]) slopes.push((ys[j] - ys[i]) / (xs[j] - xs[i]));
  const b = slopes.length ? median(slopes) : 0;
  return { a: median(ys.map((y, i) => y - b * xs[i])), b };
}

/** Least-squares non-decreasing fit of `ys` (in order), by pooling adjacent violators. */
export function isotonic(ys: readonly number[], ws: readonly number[] = ys.map(() => 1)): number[] {
  const blocks: { sum: number; w: number; n: number }[] = [];
  ys.forEach((y, i) => {
    blocks.push({ sum: y * ws[i], w: ws[i], n: 1 });
    while (blocks.length > 1 && blocks[blocks.length - 2].sum / blocks[blocks.length - 2].w > blocks[blocks.length - 1].sum / blocks[blocks.length - 1].w) {
      const b = blocks.pop()!;
      const a = blocks[blocks.length - 1];
      a.sum += b.sum;
      a.w += b.w;
      a.n += b.n;
    }
  });
  return blocks.flatMap((b) => new Array<number>(b.n).fill(b.sum / b.w));
}

/**
 * Residuals of a least-squares quadratic y ≈ a + b·x + c·x², scaled by √(n / (n − 3)) for the three fitted terms;
 * none for fewer than four points.
 */
export function quadraticResiduals(xs: readonly number[], ys: readonly number[]): number[] {
  const n = xs.length;
  if (n < 4) return [];
  const rows = xs.map((x) => [1, x, x * x]);
  const K = [0, 1, 2].map((i) => [0, 1, 2].map((j) => rows.reduce((s, r) => s + r[i] * r[j], 0)));
  const r = [0, 1, 2].map((i) => rows.reduce((s, row, k) => s + row[i] * ys[k], 0));
  const [a, b, c] = solve(K, r);
  const k = Math.sqrt(n / (n - 3));
  return xs.map((x, i) => (ys[i] - a - b * x - c * x * x) * k);
}

/**
 * Which points of a cost curve (time `ys` at sizes `xs`, sorted) are outliers: off a Theil–Sen power law (a line in
 * log–log) by more than 3 robust deviations and more than 25 %. At most a third of the points are dropped, and none of
 * fewer than four.
 */
export function curveOutliers(xs: readonly number[], ys: readonly number[]): boolean[] {
  const n = xs.length;
  const out = new Array<boolean>(n).fill(false);
  if (n < 4 || ys.some((y) => !(y > 0))) return out;
  const lx = xs.map(Math.log);
  const ly = ys.map(Math.log);
  const { a, b } = theilSen(lx, ly);
  const r = ly.map((y, i) => y - (a + b * lx[i]));
  const cut = Math.max(3 * robustSd(r), Math.log(1.25));
  const worst = r.map((x, i) => [Math.abs(x), i] as const).filter(([x]) => x > cut).sort((p, q) => q[0] - p[0]);
  for (const [, i] of worst.slice(0, Math.floor(n / 3))) out[i] = true;
  return out;
}

/** leastChange's damping: rows it cannot fit together (the same layers at other times) move the factors a bounded amount. */
const LAMBDA = 0.005;

/**
 * The least change to factors ρ (all 1 before) such that Σ_g A[v][g]·ρ_g = m[v] for every row v, each factor's change
 * weighted by `w` (a larger weight moves less): ρ = 1 + W⁻¹Aᵀ(AW⁻¹Aᵀ + λI)⁻¹(m − A·1). Rows are made relative (divided
 * by m) so that every stage counts alike; λ keeps rows that contradict each other (the same layers, other times) from
 * blowing up. Factors are kept within [lo, hi].
 */
export function leastChange(A: readonly number[][], m: readonly number[], w: readonly number[], lo = 0.2, hi = 5): number[] {
  const G = w.length;
  const rows = A.map((row, v) => row.map((x) => x / m[v]));
  const r = A.map((row, v) => 1 - row.reduce((s, x) => s + x, 0) / m[v]);
  const V = rows.length;
  const K = Array.from({ length: V }, (_, i) => Array.from({ length: V }, (_, j) => rows[i].reduce((s, x, g) => s + (x * rows[j][g]) / w[g], 0) + (i === j ? LAMBDA : 0)));
  const y = solve(K, r);
  const rho = Array.from({ length: G }, (_, g) => 1 + rows.reduce((s, row, v) => s + (row[g] * y[v]) / w[g], 0));
  return rho.map((x) => Math.min(hi, Math.max(lo, x)));
}

/** Gaussian elimination with partial pivoting; a singular system gives zeros where it cannot be solved. */
export function solve(K: number[][], r: number[]): number[] {
  const n = r.length;
  const a = K.map((row, i) => [...row, r[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(a[i][c]) > Math.abs(a[p][c])) p = i;
    [a[c], a[p]] = [a[p], a[c]];
    if (Math.abs(a[c][c]) < 1e-12) continue;
    for (let i = 0; i < n; i++) {
      if (i === c) continue;
      const f = a[i][c] / a[c][c];
      for (let j = c; j <= n; j++) a[i][j] -= f * a[c][j];
    }
  }
  return a.map((row, i) => (Math.abs(row[i]) < 1e-12 ? 0 : row[n] / row[i]));
}
