// The webview's view model built from core Timelines: columnar RunViews (sampled past a size limit), recommendation rows, the compare load.
import type { TraceDiff } from '../core/analysis/diff';
import { diffRuns } from '../core/analysis/diff';
import { buildReport } from '../core/analysis/report';
import { stageProcessName } from '../core/trace/chrome';
import type { Timeline } from '../core/trace/timeline';
import { OP_KINDS, windowAt } from '../core/trace/timeline';
import type { RankedPlan } from '../core/recommend/recommend';
import type { RecommendationView, RunView, ToWebview } from '../media/src/protocol';
import { KINDS } from '../media/src/protocol';

/** Traces with more ops than this are drawn from a sample of whole steps. */
export const MAX_VIEW_OPS = 200_000;
export const SAMPLED_NOTICE = 'large trace: showing a sampled view';

/** core op code → index into the protocol's KINDS (the same names; mapped, not assumed equal). */
const KIND_INDEX = Uint8Array.from(OP_KINDS.map((k) => {
  const i = (KINDS as readonly string[]).indexOf(k);
  if (i < 0) throw new Error(`view model: op kind ${k} has no entry in the protocol's KINDS; add it to media/src/protocol.ts`);
  return i;
}));

/** Row names, one per stage × replica (pid order of the trace file): the names a capture gives its processes. */
export function rowNames(t: Timeline): string[] {
  const S = t.stages;
  let replicas = 1;
  for (let i = 0; i < t.ops.length; i++) if (t.ops.replica[i] + 1 > replicas) replicas = t.ops.replica[i] + 1;
  if (t.ranks?.length) {
    // A PyTorch trace: rows are ranks (and, in a pipeline, the stages they ran); the plan's layers are only a guess.
    const names = Array.from({ length: S * replicas }, (_, row) => `stage ${row % S}${replicas > 1 ? ` · replica ${Math.floor(row / S)}` : ''}`);
    for (const r of t.ranks) {
      const row = r.stage + r.replica * S;
      if (row < names.length) names[row] = r.ppStages.length ? `rank ${r.rank} · stage${r.ppStages.length > 1 ? 's' : ''} ${r.ppStages.join(', ')}` : `rank ${r.rank}`;
    }
    return names;
  }
  const first: number[] = [];
  let l = 0;
  for (const n of t.plan?.balance ?? []) {
    first.push(l);
    l += n;
  }
  const rows: string[] = [];
  for (let r = 0; r < replicas; r++)
    for (let s = 0; s < S; s++) {
      const n = t.plan?.balance[s];
      rows.push(n !== undefined ? stageProcessName(s, first[s], n, replicas > 1 ? r : undefined) : `stage ${s}${replicas > 1 ? ` · replica ${r}` : ''}`);
    }
  return rows;
}

/**
 * Which ops a view keeps: all of them up to `maxOps`; past it, whole steps spread evenly over the run (every op of a
 * shown step is drawn, so its timeline stays true), and if one step alone is too big, every k-th op of it.
 */
export function sampleOps(t: Timeline, maxOps = MAX_VIEW_OPS): { index: Int32Array | null; steps: Set<number> | null } {
  const o = t.ops;
  if (o.length <= maxOps) return { index: null, steps: null };
  const perStep = new Map<number, number>();
  for (let i = 0; i < o.length; i++) if (o.step[i] >= 0) perStep.set(o.step[i], (perStep.get(o.step[i]) ?? 0) + 1);
  const order = [...perStep.keys()].sort((a, b) => a - b);
  if (!order.length) {
    // No op belongs to a step: every k-th op of the run.
    const stride = Math.ceil(o.length / maxOps);
    return { index: Int32Array.from({ length: Math.ceil(o.length / stride) }, (_, j) => j * stride), steps: null };
  }
  const biggest = Math.max(1, ...perStep.values());
  // Steps that fit the budget, evenly spaced over the run (first and last included when two or more fit).
  const fit = Math.max(1, Math.min(order.length, Math.floor(maxOps / biggest)));
  const keep = new Set<number>();
  for (let k = 0; k < fit; k++) keep.add(order[fit === 1 ? 0 : Math.round((k * (order.length - 1)) / (fit - 1))]);
  let kept = 0;
  for (const s of keep) kept += perStep.get(s) ?? 0;
  const stride = Math.max(1, Math.ceil(kept / maxOps));
  const index: number[] = [];
  const seen = new Map<number, number>();
  for (let i = 0; i < o.length; i++) {
    const s = o.step[i];
    if (!keep.has(s)) continue;
    const n = seen.get(s) ?? 0;
    seen.set(s, n + 1);
    if (n % stride === 0) index.push(i);
  }
  return { index: Int32Array.from(index), steps: keep };
}

/** Above this many ops, the editor analyses (report, prediction, recommendations) a sample of whole steps, not every op. */
export const MAX_ANALYSED_OPS = 1_000_000;

/**
 * The run restricted to a sample of whole steps spread over it (sampleOps' choice) when it holds more than `maxOps`
 * ops, so that a multi-gigabyte trace opens in seconds and the editor stays responsive; null when it is small enough.
 */
export function sampleTimeline(t: Timeline, maxOps = MAX_ANALYSED_OPS): { timeline: Timeline; notice: string } | null {
  if (t.ops.length <= maxOps) return null;
  const { steps: keep } = sampleOps(t, maxOps);
  if (!keep) return null;
  const o = t.ops;
  const rows: number[] = [];
  for (let i = 0; i < o.length; i++) if (keep.has(o.step[i])) rows.push(i);
  const pick = <T extends Uint8Array | Int32Array | Float64Array>(a: T): T => {
    const out = new (a.constructor as new (n: number) => T)(rows.length);
    rows.forEach((i, j) => (out[j] = a[i]));
    return out;
  };
  const ops = {
    length: rows.length, kind: pick(o.kind), stage: pick(o.stage), replica: pick(o.replica), lane: pick(o.lane), microbatch: pick(o.microbatch),
    chunk: pick(o.chunk), step: pick(o.step), peer: pick(o.peer), start: pick(o.start), dur: pick(o.dur), bytes: pick(o.bytes), ...(o.label ? { label: pick(o.label) } : {}),
  };
  const steps = t.steps.filter((s) => keep.has(s.step));
  // Memory samples inside a kept step's window (binary search over the windows by start).
  const windows = steps.slice().sort((a, b) => a.startUs - b.startUs);
  const inKept = (ts: number) => windowAt(windows, ts) >= 0;
  return {
    timeline: { ...t, ops, steps, memory: t.memory.filter((m) => inKept(m.ts)), ...(t.kernels === t.ops ? { kernels: ops } : {}) },
    notice: `large trace (${o.length.toLocaleString('en-US')} ops in ${t.steps.length.toLocaleString('en-US')} steps): analysed and drawn from ${steps.length.toLocaleString('en-US')} whole steps spread over the run`,
  };
}

/** One run as the webview draws it: ops in ms from the run's start, step windows, the full report (of every op). */
export function runView(t: Timeline, title: string, opts: { maxOps?: number; source?: string } = {}): RunView {
  const o = t.ops;
  const { index, steps: keptSteps } = sampleOps(t, opts.maxOps ?? MAX_VIEW_OPS);
  const n = index ? index.length : o.length;
  const S = t.stages;
  let t0 = Infinity;
  let end = -Infinity;
  for (let i = 0; i < o.length; i++) {
    if (o.start[i] < t0) t0 = o.start[i];
    if (o.start[i] + o.dur[i] > end) end = o.start[i] + o.dur[i];
  }
  for (const s of t.steps) {
    if (s.startUs < t0) t0 = s.startUs;
    if (s.endUs > end) end = s.endUs;
  }
  if (!Number.isFinite(t0)) t0 = end = 0;
  const ops = {
    kind: new Uint8Array(n), row: new Int32Array(n), start: new Float64Array(n), dur: new Float64Array(n),
    microbatch: new Int32Array(n), step: new Int32Array(n), bytes: new Float64Array(n),
  };
  for (let j = 0; j < n; j++) {
    const i = index ? index[j] : j;
    ops.kind[j] = KIND_INDEX[o.kind[i]];
    ops.row[j] = o.stage[i] + o.replica[i] * S;
    ops.start[j] = (o.start[i] - t0) / 1000;
    ops.dur[j] = o.dur[i] / 1000;
    ops.microbatch[j] = o.microbatch[i];
    ops.step[j] = o.step[i];
    ops.bytes[j] = o.bytes[i];
  }
  const steps = t.steps
    .filter((s) => !keptSteps || keptSteps.has(s.step))
    .map((s) => ({ step: s.step, start: (s.startUs - t0) / 1000, end: (s.endUs - t0) / 1000, loss: Number.isFinite(s.loss) ? s.loss : null, warmup: s.warmup }));
  return { source: opts.source ?? t.source, title, rows: rowNames(t), ops, spanMs: (end - t0) / 1000, steps, report: buildReport(t), sampled: index !== null };
}

/** Ranked plans as the webview lists them; `rank` is 1-based, as `pipeprof recommend` numbers them. */
export function recommendationViews(plans: readonly RankedPlan[]): RecommendationView[] {
  return plans.map((p, i) => ({
    rank: i + 1, layout: p.layout, balance: p.balance.slice(), microbatches: p.microbatches, schedule: p.schedule, recompute: p.recompute,
    predictedStepTimeMs: p.predictedStepTimeMs, intervalRelative: p.intervalRelative, speedup: p.speedup, faster: p.faster, peakMemoryBytes: p.peakMemoryBytes,
  }));
}

/** What a RunView shows, in a few numbers (for `pipeprof._state` and logs; the ops themselves stay out). */
export interface RunViewSummary {
  source: string;
  title: string;
  rows: string[];
  ops: number;
  steps: number;
  spanMs: number;
  stepTimeMs: number;
  bubbleFraction: number;
  sampled: boolean;
}

export function summarizeRun(v: RunView): RunViewSummary {
  return {
    source: v.source, title: v.title, rows: v.rows, ops: v.ops.kind.length, steps: v.steps.length, spanMs: v.spanMs,
    stepTimeMs: v.report.stepTimeMs, bubbleFraction: v.report.bubbleFraction, sampled: v.sampled,
  };
}

/**
 * Compare Two Traces: run `a` as `measured`, run `b` as `predicted` (the compare view's two timelines), and the diff of b
 * against a (core/analysis/diff.ts, from the reports the views already hold). Throws what readTimeline/the analyses throw.
 */
export function compareMessage(a: Timeline, b: Timeline, titleA: string, titleB: string, opts: { maxOps?: number } = {}): Extract<ToWebview, { type: 'load' }> {
  const measured = runView(a, titleA, opts);
  const predicted = runView(b, titleB, opts);
  const diff = diffRuns(a, b, measured.report, predicted.report);
  return { type: 'load', file: titleA, measured, predicted, recommendations: [], diff, ...(measured.sampled || predicted.sampled ? { notice: SAMPLED_NOTICE } : {}) };
}

/** A diff in a few values (for `pipeprof._state` and logs). */
export interface DiffSummary {
  stages: number;
  stagesComparable: boolean;
  kinds: string[];
  busyKinds: string[];
  stepTimeMs: { a: number | null; b: number | null; delta: number | null };
  planChanges: string[];
  notes: string[];
}

export function summarizeDiff(d: TraceDiff): DiffSummary {
  return {
    stages: d.stages.length, stagesComparable: d.stagesComparable, kinds: d.kinds.map((k) => k.kind), busyKinds: d.busyKinds.slice(),
    stepTimeMs: { a: d.stepTimeMs.a, b: d.stepTimeMs.b, delta: d.stepTimeMs.delta }, planChanges: d.plan.changes.map((c) => c.field), notes: d.notes.slice(),
  };
}
