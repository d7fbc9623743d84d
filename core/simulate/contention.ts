// Workers slowing each other: the rate of a worker when n compute at once, the work an op did, and the contention fitted to a run.
import type { Timeline } from '../trace/timeline';
import { OP } from '../trace/timeline';

const { F, B, W, R, SEND, OPT, COMPRESS, DECOMPRESS } = OP;

/** Ops that keep a worker's thread busy (waiting for a tensor and the link's latency do not). */
export const needsCore = (k: number): boolean => k === F || k === B || k === W || k === R || k === OPT || k === SEND || k === COMPRESS || k === DECOMPRESS;

/** A worker's speed when `n` workers compute at once: a share of the cores, slowed by each other worker's contention. */
export function workerRate(n: number, cores: number, contention: number): number {
  if (n <= 1) return 1;
  return Math.min(1, cores / n) / (1 + contention * (n - 1));
}

/** How many workers compute, as a step function: `n[j]` from `at[j]` to `at[j + 1]`. */
export interface BusyProfile {
  at: number[];
  n: number[];
}

/** The busy count over the run's ops in steps `use` (all replicas: they share the machine). */
export function busyProfile(tl: Timeline, use: ReadonlySet<number>): BusyProfile {
  const t = tl.ops;
  const edges: [number, number][] = [];
  for (let i = 0; i < t.length; i++) if (use.has(t.step[i]) && needsCore(t.kind[i])) edges.push([t.start[i], 1], [t.start[i] + t.dur[i], -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const at: number[] = [];
  const n: number[] = [];
  let c = 0;
  for (const [x, d] of edges) {
    c += d;
    if (at.length && at[at.length - 1] === x) n[n.length - 1] = c;
    else {
      at.push(x);
      n.push(c);
    }
  }
  return { at, n };
}

/** The work an op spanning [start, start + dur) did at full speed: the integral of its rate, in dur's unit. */
export function opWork(p: BusyProfile, start: number, dur: number, cores: number, contention: number): number {
  const end = start + dur;
  if (!(end > start)) return dur;
  let lo = 0;
  let hi = p.at.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (p.at[mid] <= start) lo = mid;
    else hi = mid - 1;
  }
  let work = 0;
  for (let j = lo; j < p.at.length && p.at[j] < end; j++) {
    const x0 = Math.max(start, p.at[j]);
    const x1 = Math.min(end, j + 1 < p.at.length ? p.at[j + 1] : end);
    if (x1 > x0) work += (x1 - x0) * workerRate(p.n[j], cores, contention);
  }
  return work;
}

/** Contention values tried by the fit. */
const GRID = Array.from({ length: 41 }, (_, i) => i * 0.025);

/**
 * The contention that makes ops of the same work agree: the same virtual stage's ops of one kind (F, B, W, R; B and W
 * apart by whether they add to earlier gradients; OPT) did the same work, so their work under the right contention
 * varies least. The smallest value within 2 % of the least variation is kept: a run without overlap gives 0.
 */
export function fitContention(tl: Timeline, use: ReadonlySet<number>, cores: number, profile = busyProfile(tl, use)): number {
  const t = tl.ops;
  const groups = new Map<string, number[]>();
  const firstOf = new Map<string, number>();
  const base = (i: number) => `${t.stage[i]}/${t.replica[i]}/${t.chunk[i]}/${t.kind[i]}`;
  for (let i = 0; i < t.length; i++) {
    if (!use.has(t.step[i])) continue;
    const k = `${t.step[i]}/${base(i)}`;
    if ((firstOf.get(k) ?? Infinity) > t.start[i]) firstOf.set(k, t.start[i]);
  }
  for (let i = 0; i < t.length; i++) {
    const k = t.kind[i];
    if (!use.has(t.step[i]) || !(k === F || k === B || k === W || k === R || k === OPT) || !(t.dur[i] > 0)) continue;
    const first = (k === B || k === W) && firstOf.get(`${t.step[i]}/${base(i)}`) === t.start[i];
    const key = `${base(i)}/${first ? 1 : 0}`;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  }
  const usable = [...groups.values()].filter((g) => g.length >= 3);
  if (!usable.length) return 0;
  const spread = (kappa: number): number => {
    let sum = 0;
    for (const g of usable) {
      const w = g.map((i) => opWork(profile, t.start[i], t.dur[i], cores, kappa));
      const m = w.reduce((a, b) => a + b, 0) / w.length;
      for (const x of w) sum += (x / m - 1) ** 2;
    }
    return sum;
  };
  const s = GRID.map(spread);
  const best = Math.min(...s);
  return GRID[s.findIndex((x) => x <= best * 1.02)];
}
