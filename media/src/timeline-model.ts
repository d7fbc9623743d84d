// Timeline model without a DOM: ops indexed by row and lane, visible-window search, level-of-detail bucketing, the zoom window.
import type { RunView } from './protocol';
import { KINDS } from './protocol';

/** Op kinds are indices into KINDS; IDLE is the pseudo-kind of time a compute lane does nothing. */
export const KIND_COUNT = KINDS.length;
export const IDLE = KIND_COUNT;
/**
 * Lanes within a row, as in the trace: 0 compute, 1 send, 2 receive, 3 all-reduce (RunView has no lane column: it
 * follows the kind). A PyTorch trace's kernels draw as compute; its collectives, copies and sets on the last strip.
 */
export const LANE_COUNT = 4;
export const LANE_NAMES: readonly string[] = ['compute', 'send', 'receive', 'all-reduce'];
export const LANE_OF_KIND: readonly number[] = KINDS.map((k) =>
  k === 'SEND' ? 1 : k === 'RECV' ? 2 : k === 'ALLREDUCE' || k === 'COMM' || k === 'MEMCPY' || k === 'MEMSET' || k === 'SYNC' ? 3 : 0,
);
/** Above this many visible ops per pixel column, a lane is drawn as one rectangle per column run instead of one per op. */
export const MAX_OPS_PER_PX = 2;

export interface OpColumns {
  length: number;
  kind: Uint8Array;
  row: Int32Array;
  start: Float64Array;
  dur: Float64Array;
  microbatch: Int32Array;
  step: Int32Array;
  bytes: Float64Array;
}

type NumCtor = Uint8ArrayConstructor | Int32ArrayConstructor | Float64ArrayConstructor;

/** Length of a column as it arrives: a typed array, an array, or (after a JSON round trip of a typed array) an object with keys 0..n-1. */
function columnLength(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'object' && typeof (v as { length?: unknown }).length === 'number') return (v as { length: number }).length;
  if (typeof v === 'object') return Object.keys(v as object).length;
  return 0;
}

function column<C extends NumCtor>(name: string, v: unknown, Ctor: C, n: number, fill: number): InstanceType<C> {
  const out = new Ctor(n) as InstanceType<C>;
  if (v === null || v === undefined) {
    out.fill(fill);
    return out;
  }
  const len = columnLength(v);
  if (len !== n) throw new Error(`ops.${name} has ${len} entries but ops.kind has ${n}; every ops column must have one entry per op`);
  const src = v as ArrayLike<number> & Record<string, number>;
  for (let i = 0; i < n; i++) {
    const x = Number(src[i]);
    out[i] = Number.isFinite(x) ? x : fill;
  }
  return out;
}

/** The columnar ops of a RunView as typed arrays, whatever arrays they came in. Missing optional columns read as "none". */
export function toColumns(ops: RunView['ops']): OpColumns {
  const n = columnLength(ops?.kind);
  return {
    length: n,
    kind: column('kind', ops.kind, Uint8Array, n, 255),
    row: column('row', ops.row, Int32Array, n, -1),
    start: column('start', ops.start, Float64Array, n, NaN),
    dur: column('dur', ops.dur, Float64Array, n, 0),
    microbatch: column('microbatch', ops.microbatch, Int32Array, n, -1),
    step: column('step', ops.step, Int32Array, n, -1),
    bytes: column('bytes', ops.bytes, Float64Array, n, 0),
  };
}

/** The ops of one lane of one row, sorted by start, with the running maximum of their ends for the window search. */
export interface Band {
  row: number;
  lane: number;
  ops: Int32Array;
  starts: Float64Array;
  endMax: Float64Array;
}

export interface TimelineIndex {
  cols: OpColumns;
  rows: number;
  /** bands[row * LANE_COUNT + lane]. */
  bands: Band[];
  spanMs: number;
  /** Ops left out: unknown kind, row outside rows, or no start time. */
  skipped: number;
}

/** Groups ops by (row, lane) once per RunView; each group sorted by start (already sorted input costs one pass). */
export function buildIndex(cols: OpColumns, rows: number, spanMs = 0): TimelineIndex {
  const nb = rows * LANE_COUNT;
  const counts = new Int32Array(nb);
  const bandOf = new Int32Array(cols.length);
  let skipped = 0;
  let span = Number.isFinite(spanMs) && spanMs > 0 ? spanMs : 0;
  for (let i = 0; i < cols.length; i++) {
    const k = cols.kind[i];
    const r = cols.row[i];
    if (k >= KIND_COUNT || r < 0 || r >= rows || !Number.isFinite(cols.start[i])) {
      bandOf[i] = -1;
      skipped++;
      continue;
    }
    if (cols.dur[i] < 0) cols.dur[i] = 0;
    const b = r * LANE_COUNT + LANE_OF_KIND[k];
    bandOf[i] = b;
    counts[b]++;
    const end = cols.start[i] + cols.dur[i];
    if (end > span) span = end;
  }
  const bands: Band[] = [];
  for (let b = 0; b < nb; b++) bands.push({ row: Math.floor(b / LANE_COUNT), lane: b % LANE_COUNT, ops: new Int32Array(counts[b]), starts: new Float64Array(counts[b]), endMax: new Float64Array(counts[b]) });
  const fillAt = new Int32Array(nb);
  for (let i = 0; i < cols.length; i++) {
    const b = bandOf[i];
    if (b >= 0) bands[b].ops[fillAt[b]++] = i;
  }
  for (const band of bands) {
    const { ops } = band;
    let sorted = true;
    for (let j = 1; j < ops.length && sorted; j++) if (cols.start[ops[j]] < cols.start[ops[j - 1]]) sorted = false;
    if (!sorted) ops.sort((a, b) => cols.start[a] - cols.start[b] || a - b);
    let m = -Infinity;
    for (let j = 0; j < ops.length; j++) {
      const i = ops[j];
      band.starts[j] = cols.start[i];
      m = Math.max(m, cols.start[i] + cols.dur[i]);
      band.endMax[j] = m;
    }
  }
  return { cols, rows, bands, spanMs: span, skipped };
}

/** First index in [lo, hi) whose value is ≥ x (hi when none); `a` ascending. */
export function lowerBound(a: ArrayLike<number>, x: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in [lo, hi) whose value is > x (hi when none); `a` ascending. */
export function upperBound(a: ArrayLike<number>, x: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Positions [lo, hi) in the band of the ops that can touch the window [t0, t1]: none before lo ends at or after t0
 * (binary search over the running maximum of ends) and none from hi on starts at or before t1. Ops inside the range
 * may still end before t0 (a long op earlier keeps the maximum up); the drawing loop skips those.
 */
export function visibleRange(band: Band, t0: number, t1: number): { lo: number; hi: number } {
  const lo = lowerBound(band.endMax, t0);
  const hi = upperBound(band.starts, t1, lo);
  return { lo, hi };
}

/** Rectangles to draw, in a reusable buffer: kind (or IDLE), x and width in pixels, the op index (−1 for a bucket run). */
export class Rects {
  length = 0;
  kind = new Uint8Array(256);
  x = new Float32Array(256);
  w = new Float32Array(256);
  op = new Int32Array(256);

  clear(): void {
    this.length = 0;
  }

  push(kind: number, x: number, w: number, op: number): void {
    if (this.length === this.kind.length) this.grow();
    const n = this.length++;
    this.kind[n] = kind;
    this.x[n] = x;
    this.w[n] = w;
    this.op[n] = op;
  }

  private grow(): void {
    const cap = this.kind.length * 2;
    const k = new Uint8Array(cap);
    k.set(this.kind);
    const x = new Float32Array(cap);
    x.set(this.x);
    const w = new Float32Array(cap);
    w.set(this.w);
    const o = new Int32Array(cap);
    o.set(this.op);
    this.kind = k;
    this.x = x;
    this.w = w;
    this.op = o;
  }
}

export interface BandLayout {
  mode: 'ops' | 'buckets';
  /** Ops in the visible range (an upper bound of those actually on screen). */
  visible: number;
}

let scratch = new Float64Array(0);

/**
 * Rectangles for one band over the window [t0, t1] drawn `width` pixels wide, appended to `out`.
 * Up to MAX_OPS_PER_PX visible ops per pixel: one rectangle per op (at least 1 px wide). Beyond: level of detail:
 * each pixel column sums, per kind, the time its ops cover within it; the kind with the most time wins the column
 * (on the compute lane idle time competes too, and a column idle wins is left blank); runs of columns won by the
 * same kind become one rectangle. So a band never yields more than `width` rectangles, whatever the op count.
 */
export function layoutBand(index: TimelineIndex, band: Band, t0: number, t1: number, width: number, out: Rects): BandLayout {
  const W = Math.max(1, Math.floor(width));
  const { lo, hi } = visibleRange(band, t0, t1);
  const visible = hi - lo;
  if (visible <= 0 || !(t1 > t0)) return { mode: 'ops', visible: 0 };
  const scale = W / (t1 - t0);
  const { start, dur, kind } = index.cols;
  const ops = band.ops;
  if (visible <= MAX_OPS_PER_PX * W) {
    for (let j = lo; j < hi; j++) {
      const i = ops[j];
      const s = start[i];
      const e = s + dur[i];
      if (e < t0 || s > t1) continue;
      let x0 = (s - t0) * scale;
      let x1 = (e - t0) * scale;
      if (x0 < -1) x0 = -1;
      if (x1 > W + 1) x1 = W + 1;
      out.push(kind[i], x0, Math.max(1, x1 - x0), i);
    }
    return { mode: 'ops', visible };
  }
  const K = KIND_COUNT + 1;
  const need = W * K;
  if (scratch.length < need) scratch = new Float64Array(need);
  const acc = scratch;
  acc.fill(0, 0, need);
  for (let j = lo; j < hi; j++) {
    const i = ops[j];
    let a = (start[i] - t0) * scale;
    let b = a + dur[i] * scale;
    if (b < 0 || a > W) continue;
    if (a < 0) a = 0;
    if (b > W) b = W;
    const k = kind[i];
    const c0 = Math.min(W - 1, Math.floor(a));
    if (b - a <= 1e-9) {
      acc[c0 * K + k] += 1e-9; // a zero-length op still marks its column
      continue;
    }
    const c1 = Math.min(W - 1, Math.ceil(b) - 1);
    if (c0 === c1) {
      acc[c0 * K + k] += b - a;
      continue;
    }
    acc[c0 * K + k] += c0 + 1 - a;
    for (let c = c0 + 1; c < c1; c++) acc[c * K + k] += 1;
    acc[c1 * K + k] += b - c1;
  }
  const compute = band.lane === 0;
  let runKind = -1;
  let runStart = 0;
  for (let c = 0; c <= W; c++) {
    let win = -1;
    if (c < W) {
      let best = 0;
      let total = 0;
      const base = c * K;
      for (let k = 0; k < KIND_COUNT; k++) {
        const v = acc[base + k];
        total += v;
        if (v > best) {
          best = v;
          win = k;
        }
      }
      if (compute && win >= 0 && 1 - total > best) win = IDLE;
      if (win === IDLE) win = -1;
    }
    if (win !== runKind) {
      if (runKind >= 0) out.push(runKind, runStart, c - runStart, -1);
      runKind = win;
      runStart = c;
    }
  }
  return { mode: 'buckets', visible };
}

/**
 * The op of the band under time t (ms), within `tolMs`: the longest op covering t, else the nearest one within the
 * tolerance; −1 when none. Looks at no more than `limit` candidates, so hovering a dense zoomed-out view stays cheap.
 */
export function hitTest(index: TimelineIndex, band: Band, t: number, tolMs: number, limit = 20000): number {
  const { start, dur } = index.cols;
  let best = -1;
  let bestDur = -1;
  let near = -1;
  let nearDist = Infinity;
  let j = upperBound(band.starts, t + tolMs) - 1;
  for (let seen = 0; j >= 0 && seen < limit && band.endMax[j] >= t - tolMs; j--, seen++) {
    const i = band.ops[j];
    const s = start[i];
    const e = s + dur[i];
    if (s <= t && t <= e) {
      if (dur[i] > bestDur) {
        best = i;
        bestDur = dur[i];
      }
    } else {
      const d = t < s ? s - t : t - e;
      if (d <= tolMs && d < nearDist) {
        near = i;
        nearDist = d;
      }
    }
  }
  return best >= 0 ? best : near;
}

/** Where a run's first measured (non-warm-up) step starts, else its first step, else 0: the compare view puts that at 0. */
export function firstMeasuredStart(steps: readonly { start: number; warmup: boolean }[] | null | undefined): number {
  const list = (steps ?? []).filter((s) => Number.isFinite(s.start));
  const measured = list.filter((s) => !s.warmup);
  const pick = measured.length ? measured : list;
  return pick.length ? Math.min(...pick.map((s) => s.start)) : 0;
}

type StepWindow = { step: number; start: number; end: number; warmup: boolean };

/**
 * The step a view opens on: `preferred` (the report's critical-path step, which is the typical one) when the run has
 * it, else the measured step of median duration (warm-up steps only when nothing was measured); null without steps.
 * Returns the step, its window padded by 2% on each side, and how many steps it was chosen among.
 */
export function representativeStep(steps: readonly StepWindow[] | null | undefined, preferred?: number | null): { step: StepWindow; t0: number; t1: number; among: number } | null {
  const list = (steps ?? []).filter((s) => Number.isFinite(s.start) && Number.isFinite(s.end) && s.end > s.start);
  const measured = list.filter((s) => !s.warmup);
  const pool = measured.length ? measured : list;
  if (!pool.length) return null;
  const byDur = pool.slice().sort((a, b) => a.end - a.start - (b.end - b.start));
  const step = pool.find((s) => s.step === preferred) ?? byDur[(byDur.length - 1) >> 1];
  const pad = 0.02 * (step.end - step.start);
  return { step, t0: step.start - pad, t1: step.end + pad, among: pool.length };
}

/** Where a label of width `w` centred at x goes so it stays within [lo, hi]: the axis's last tick is not cut off. */
export function clampLabel(x: number, w: number, lo: number, hi: number): number {
  return Math.max(lo + w / 2, Math.min(hi - w / 2, x));
}

/** Tick positions for a time axis: a 1-2-5 step giving labels at least `minPx` apart. */
export function niceTicks(t0: number, t1: number, widthPx: number, minPx = 80): { step: number; ticks: number[] } {
  const span = t1 - t0;
  if (!(span > 0) || !(widthPx > 0)) return { step: 0, ticks: [] };
  const raw = (span * minPx) / widthPx;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => Number((m * p).toPrecision(12))).find((s) => s >= raw) ?? 10 * p;
  const ticks: number[] = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1 + step * 1e-9 && ticks.length < 1000; t += step) ticks.push(Number(t.toPrecision(12)));
  return { step, ticks };
}

/** The visible time window [t0, t1] of one or several timelines drawn on one axis: zoom and pan clamp it to [0, span]. */
export class Viewport {
  t0 = 0;
  t1 = 1;
  span = 1;
  private listeners = new Set<() => void>();

  /** Smallest window: a nanosecond, or a ten-millionth of the span. */
  get minWindow(): number {
    return Math.max(1e-6, this.span * 1e-7);
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  setSpan(span: number): void {
    this.span = Number.isFinite(span) && span > 0 ? span : 1;
    this.set(this.t0, this.t1);
  }

  fit(): void {
    this.set(0, this.span);
  }

  /** Sets the window, clamped to [0, span] and at least minWindow long; tells listeners when it changed. */
  set(t0: number, t1: number): void {
    if (!Number.isFinite(t0) || !Number.isFinite(t1)) [t0, t1] = [0, this.span];
    let len = Math.min(this.span, Math.max(this.minWindow, t1 - t0));
    let a = t0;
    if (a < 0) a = 0;
    if (a + len > this.span) a = this.span - len;
    if (a < 0) {
      a = 0;
      len = this.span;
    }
    const b = a + len;
    if (a === this.t0 && b === this.t1) return;
    this.t0 = a;
    this.t1 = b;
    for (const fn of this.listeners) fn();
  }

  /** Scales the window by `factor` (< 1 zooms in) keeping time `anchor` at the same place on screen. */
  zoom(factor: number, anchor = (this.t0 + this.t1) / 2): void {
    const f = Math.max(1e-3, Math.min(1e3, factor));
    this.set(anchor - (anchor - this.t0) * f, anchor + (this.t1 - anchor) * f);
  }

  /** Moves the window by dt ms (positive: later). */
  pan(dt: number): void {
    const len = this.t1 - this.t0;
    const a = Math.max(0, Math.min(this.span - len, this.t0 + dt));
    this.set(a, a + len);
  }
}
