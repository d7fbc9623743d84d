// Partitions of layers into stages: uniform, the optimal split (PipeDream's planner DP: least bottleneck under a memory limit), neighbours, divisors.
import { formatBytes } from '../text';

/** Splits `layers` into `stages` contiguous runs as evenly as possible, earlier stages taking the remainder. */
export function uniformBalance(layers: number, stages: number): number[] {
  const base = Math.floor(layers / stages);
  return Array.from({ length: stages }, (_, s) => base + (s < layers % stages ? 1 : 0));
}

/** The divisors of n up to `max`, in order: O(max), whatever n is (a list of every divisor of 10^9 does not fit in memory). */
export function divisors(n: number, max = n): number[] {
  const out: number[] = [];
  for (let d = 1; d <= Math.min(max, n); d++) if (n % d === 0) out.push(d);
  return out;
}

export interface PartitionInput {
  /** Time of each layer per micro-batch, ms: F + B, plus R when the plan recomputes. */
  layerMs: readonly number[];
  /**
   * boundaryMs[k] (0 < k < L): time to move the activation forward and its gradient back across a stage
   * boundary placed before layer k; both stages on either side pay it. Other entries are ignored.
   */
  boundaryMs?: readonly number[];
  stages: number;
  /** Peak bytes stage `stage` needs when it holds layers [first, end); used only with `memoryLimitBytes`. */
  stageBytes?: (stage: number, first: number, end: number) => number;
  memoryLimitBytes?: number;
}

export type PartitionResult =
  | { ok: true; balance: number[]; bottleneckMs: number; stageMs: number[] }
  | { ok: false; reason: string };

function prefixSums(xs: readonly number[]): Float64Array {
  const p = new Float64Array(xs.length + 1);
  for (let i = 0; i < xs.length; i++) p[i + 1] = p[i] + xs[i];
  return p;
}

/** Time of the stage holding layers [first, end): its layers plus the transfers across its two boundaries. */
export function stageCostMs(input: PartitionInput, first: number, end: number): number {
  const L = input.layerMs.length;
  let t = 0;
  for (let l = first; l < end; l++) t += input.layerMs[l];
  if (first > 0) t += input.boundaryMs?.[first] ?? 0;
  if (end < L) t += input.boundaryMs?.[end] ?? 0;
  return t;
}

/** Every stage's time under a balance. */
export function stageTimesMs(input: PartitionInput, balance: readonly number[]): number[] {
  const out: number[] = [];
  let first = 0;
  for (const n of balance) {
    out.push(stageCostMs(input, first, first + n));
    first += n;
  }
  return out;
}

/** True when every stage of the balance fits the memory limit (or there is none). */
export function fitsMemory(input: PartitionInput, balance: readonly number[]): boolean {
  if (input.memoryLimitBytes === undefined || !input.stageBytes) return true;
  let first = 0;
  for (let s = 0; s < balance.length; s++) {
    if (input.stageBytes(s, first, first + balance[s]) > input.memoryLimitBytes) return false;
    first += balance[s];
  }
  return true;
}

/**
 * Min–max DP over contiguous splits: best[s][j] is the least bottleneck of layers [0, j) on stages 0..s;
 * a second pass picks, among the splits reaching it, the most even one. `cost(s, i, j)` is stage s's cost
 * holding [i, j), or Infinity when it is not allowed. O(S·L²).
 */
function minMaxSplit(L: number, S: number, cost: (s: number, i: number, j: number) => number): { balance: number[]; value: number } | null {
  const best = Array.from({ length: S }, () => new Float64Array(L + 1).fill(Infinity));
  for (let j = 1; j <= L - (S - 1); j++) best[0][j] = cost(0, 0, j);
  for (let s = 1; s < S; s++)
    for (let j = s + 1; j <= L - (S - 1 - s); j++)
      for (let i = s; i < j; i++) {
        if (best[s - 1][i] === Infinity) continue;
        const v = Math.max(best[s - 1][i], cost(s, i, j));
        if (v < best[s][j]) best[s][j] = v;
      }
  const value = best[S - 1][L];
  if (value === Infinity) return null;
  // Many splits often share the least bottleneck: of those, take the most even one (least sum of squared stage costs).
  const cap = value + Math.abs(value) * 1e-12 + 1e-12;
  const sq = Array.from({ length: S }, () => new Float64Array(L + 1).fill(Infinity));
  const from = Array.from({ length: S }, () => new Int32Array(L + 1).fill(-1));
  for (let j = 1; j <= L - (S - 1); j++) {
    const c = cost(0, 0, j);
    if (c <= cap) sq[0][j] = c * c;
  }
  for (let s = 1; s < S; s++)
    for (let j = s + 1; j <= L - (S - 1 - s); j++)
      for (let i = s; i < j; i++) {
        if (sq[s - 1][i] === Infinity) continue;
        const c = cost(s, i, j);
        if (c > cap) continue;
        const v = sq[s - 1][i] + c * c;
        if (v < sq[s][j]) {
          sq[s][j] = v;
          from[s][j] = i;
        }
      }
  const balance = new Array<number>(S);
  let j = L;
  for (let s = S - 1; s > 0; s--) {
    const i = from[s][j];
    balance[s] = j - i;
    j = i;
  }
  balance[0] = j;
  return { balance, value };
}

/** The balance with the least bottleneck stage time whose every stage fits the memory limit, or why none does. */
export function optimalPartition(input: PartitionInput): PartitionResult {
  const L = input.layerMs.length;
  const S = input.stages;
  if (!Number.isInteger(S) || S < 1) return { ok: false, reason: `stages must be a positive integer (got ${S})` };
  if (S > L) return { ok: false, reason: `${S} stages need at least ${S} layers but the model has ${L}; use ${L} stages or fewer` };
  const sums = prefixSums(input.layerMs);
  const boundary = (k: number) => (k > 0 && k < L ? input.boundaryMs?.[k] ?? 0 : 0);
  const time = (i: number, j: number) => sums[j] - sums[i] + boundary(i) + boundary(j);
  const limit = input.memoryLimitBytes;
  const bytes = input.stageBytes;
  const limited = limit !== undefined && bytes !== undefined;
  const found = minMaxSplit(L, S, (s, i, j) => (limited && bytes(s, i, j) > limit ? Infinity : time(i, j)));
  if (found) return { ok: true, balance: found.balance, bottleneckMs: found.value, stageMs: stageTimesMs(input, found.balance) };
  // Nothing fits: report the partition that needs the least memory, so the message can say how far off the limit is.
  const least = minMaxSplit(L, S, (s, i, j) => bytes!(s, i, j))!;
  return {
    ok: false,
    reason: `no split of ${L} layers into ${S} stages keeps every stage within ${formatBytes(limit!)}; the least any needs is ${formatBytes(least.value)} (balance [${least.balance.join(',')}])`,
  };
}

/** Balances one layer away from `balance`: one layer moved across one boundary, every stage keeping at least one. */
export function neighbourBalances(balance: readonly number[]): number[][] {
  const out: number[][] = [];
  for (let s = 0; s + 1 < balance.length; s++) {
    if (balance[s] > 1) {
      const b = balance.slice();
      b[s]--;
      b[s + 1]++;
      out.push(b);
    }
    if (balance[s + 1] > 1) {
      const b = balance.slice();
      b[s]++;
      b[s + 1]--;
      out.push(b);
    }
  }
  return out;
}
