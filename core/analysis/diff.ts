// Two runs compared: run totals, each stage and each op kind, from the two reports; what cannot be compared is said, not guessed.
import type { Plan } from '../plan/types';
import type { Timeline } from '../trace/timeline';
import { OP_KINDS } from '../trace/timeline';
import type { Report } from './report';
import { buildReport } from './report';
import { measuredSteps, stepSlots } from './utilization';

/** One number in both runs: b − a and b / a (null where a side lacks it, or a is 0 for the ratio). */
export interface Change {
  a: number | null;
  b: number | null;
  delta: number | null;
  ratio: number | null;
}

/** What each run is, for the header of a comparison. */
export interface DiffSide {
  source: Timeline['source'];
  status: Timeline['status'];
  model: string | null;
  backend: string | null;
  batch: number | null;
  plan: Plan | null;
  stages: number;
  layers: number;
  measuredSteps: number;
}

export interface StageDiff {
  stage: number;
  /** First and last layer of the stage in each run (from the plan's balance); null where the run has no such stage or no plan. */
  layers: { a: [number, number] | null; b: [number, number] | null };
  utilization: Change;
  bubbleFraction: Change;
  /** Compute ms per measured step by op kind, the kinds of the reports' busyMs (F, B, W, R, OPT, and any an importer adds). */
  busyMs: Record<string, Change>;
  busyTotalMs: Change;
  /** Send + receive + all-reduce lanes, ms per measured step. */
  commMs: Change;
  peakMemoryBytes: Change;
}

/** One op kind over the whole pipeline (every stage and replica), per measured step. */
export interface KindDiff {
  kind: string;
  /** Ops per measured step. */
  count: Change;
  /** Their summed duration per measured step, ms. */
  totalMs: Change;
  /** totalMs / count: one op's mean duration, ms. */
  meanMs: Change;
}

export const PLAN_KEYS = ['stages', 'balance', 'microbatches', 'schedule', 'recompute', 'replicas'] as const;
export type PlanKey = (typeof PLAN_KEYS)[number];

export interface PlanChange {
  field: PlanKey;
  a: number | string | number[];
  b: number | string | number[];
}

/** `pipeprof diff --json`: every field always present; numbers absent from a run are null. */
export interface TraceDiff {
  version: 1;
  a: DiffSide;
  b: DiffSide;
  /** Median measured step. */
  stepTimeMs: Change;
  samplesPerSec: Change;
  /** Fractions (0.25 = 25%); their delta is in fraction units (× 100 = percentage points). */
  bubbleFraction: Change;
  analyticBubbleFraction: Change;
  overlapFraction: Change;
  commMs: Change;
  straggler: {
    a: { stage: number; busyMs: number; overMeanFraction: number };
    b: { stage: number; busyMs: number; overMeanFraction: number };
    busyMs: Change;
    overMeanFraction: Change;
  };
  /** Plan fields that differ, in PLAN_KEYS order; `known` false when either run has no plan. */
  plan: { known: boolean; same: boolean; changes: PlanChange[] };
  /** False when the stage counts differ: stage rows are then side by side, with null deltas. */
  stagesComparable: boolean;
  /** One row per stage of the run with more stages. */
  stages: StageDiff[];
  /** Keys of StageDiff.busyMs, in report order. */
  busyKinds: string[];
  /** Op kinds that occur in either run, in OP_KINDS order. */
  kinds: KindDiff[];
  /** What is not comparable, or only with care; one sentence each. */
  notes: string[];
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

export function change(a: number | null | undefined, b: number | null | undefined, comparable = true): Change {
  const x = finite(a) ? a : null;
  const y = finite(b) ? b : null;
  const both = comparable && x !== null && y !== null;
  return { a: x, b: y, delta: both ? y - x : null, ratio: both && x !== 0 ? y / x : null };
}

/** Ops and their summed duration per measured step, by op kind name (OP_KINDS order, kinds that occur). */
export function opKindTotals(t: Timeline): { kind: string; count: number; totalMs: number }[] {
  const steps = measuredSteps(t);
  const slot = stepSlots(steps);
  const count = new Float64Array(256);
  const dur = new Float64Array(256);
  const { kind, step, length } = t.ops;
  for (let i = 0; i < length; i++) {
    const st = step[i];
    if (st < 0 || st >= slot.length || slot[st] < 0) continue;
    count[kind[i]]++;
    dur[kind[i]] += t.ops.dur[i];
  }
  const out: { kind: string; count: number; totalMs: number }[] = [];
  for (let k = 0; k < count.length; k++) {
    if (!count[k]) continue;
    out.push({ kind: OP_KINDS[k] ?? `kind ${k}`, count: count[k] / steps.length, totalMs: dur[k] / 1000 / steps.length });
  }
  return out;
}

function side(t: Timeline, r: Report): DiffSide {
  return {
    source: r.source, status: r.status, model: r.model, backend: r.backend, batch: r.batch, plan: r.plan,
    stages: r.stages.length, layers: t.layers.length, measuredSteps: r.measuredSteps,
  };
}

/** [first, last] layer of each stage of a balance. */
function layerSpans(plan: Plan | null): [number, number][] {
  const out: [number, number][] = [];
  let l = 0;
  for (const n of plan?.balance ?? []) {
    out.push([l, l + n - 1]);
    l += n;
  }
  return out;
}

function planValue(p: Plan, k: PlanKey): number | string | number[] {
  return k === 'stages' ? p.balance.length : k === 'balance' ? p.balance.slice() : p[k];
}

function planChanges(a: Plan | null, b: Plan | null): TraceDiff['plan'] {
  if (!a || !b) return { known: false, same: false, changes: [] };
  const changes: PlanChange[] = [];
  for (const k of PLAN_KEYS) {
    const x = planValue(a, k);
    const y = planValue(b, k);
    if (JSON.stringify(x) !== JSON.stringify(y)) changes.push({ field: k, a: x, b: y });
  }
  return { known: true, same: !changes.length, changes };
}

const name = (s: DiffSide) => s.model ?? 'an unknown model';

/**
 * Compares run `a` with run `b` (b − a). Reports can be passed when the caller has them already (the extension builds
 * them for its views); otherwise they are built here. Throws AnalysisError when a timeline has no completed step.
 */
export function diffRuns(ta: Timeline, tb: Timeline, ra: Report = buildReport(ta), rb: Report = buildReport(tb)): TraceDiff {
  const a = side(ta, ra);
  const b = side(tb, rb);
  const notes: string[] = [];
  const stagesComparable = a.stages === b.stages;
  if (!stagesComparable)
    notes.push(`the runs have different stage counts (a: ${a.stages}, b: ${b.stages}): stage s holds different layers in each, so stage rows are shown side by side without deltas; compare the run totals and the op kinds`);
  if (a.model !== b.model || a.layers !== b.layers)
    notes.push(`the runs are of different models (a: ${name(a)} with ${a.layers} layers, b: ${name(b)} with ${b.layers}): times differ by the work as well as by the plan`);
  if (a.batch !== b.batch)
    notes.push(`the batch sizes differ (a: ${a.batch ?? 'unknown'}, b: ${b.batch ?? 'unknown'}): a step is not the same work; compare samples/s`);
  for (const [k, s] of [['a', a], ['b', b]] as const)
    if (s.status === 'failed') notes.push(`run ${k} failed: only the ${s.measuredSteps} step(s) it completed are compared`);
  if (!a.plan || !b.plan) notes.push(`run ${!a.plan ? 'a' : 'b'} records no plan (a Chrome trace without the pipeprof block): plan differences are unknown`);
  if (a.source === 'measured' && b.source === 'measured' && a.backend && b.backend && a.backend !== b.backend) notes.push(`the backends differ (a: ${a.backend}, b: ${b.backend})`);

  const busyKinds: string[] = [];
  for (const s of [...ra.stages, ...rb.stages]) for (const k of Object.keys(s.busyMs)) if (!busyKinds.includes(k)) busyKinds.push(k);
  const spansA = layerSpans(a.plan);
  const spansB = layerSpans(b.plan);
  const stages: StageDiff[] = [];
  for (let s = 0; s < Math.max(a.stages, b.stages); s++) {
    const x = ra.stages[s];
    const y = rb.stages[s];
    const c = (f: (r: Report['stages'][number]) => number | null) => change(x ? f(x) : null, y ? f(y) : null, stagesComparable);
    const busy = (k: string) => (r: Report['stages'][number]) => (r.busyMs as Record<string, number>)[k] ?? null;
    stages.push({
      stage: s,
      layers: { a: x ? (spansA[s] ?? null) : null, b: y ? (spansB[s] ?? null) : null },
      utilization: c((r) => r.utilization),
      bubbleFraction: c((r) => r.bubbleFraction),
      busyMs: Object.fromEntries(busyKinds.map((k) => [k, c(busy(k))])),
      busyTotalMs: c((r) => r.busyTotalMs),
      commMs: c((r) => r.commMs),
      peakMemoryBytes: c((r) => r.peakMemoryBytes),
    });
  }

  const ka = opKindTotals(ta);
  const kb = opKindTotals(tb);
  const order = (k: string) => {
    const i = (OP_KINDS as readonly string[]).indexOf(k);
    return i < 0 ? OP_KINDS.length : i;
  };
  const kindNames = [...new Set([...ka, ...kb].map((k) => k.kind))].sort((p, q) => order(p) - order(q) || p.localeCompare(q));
  const kinds: KindDiff[] = kindNames.map((kind) => {
    const x = ka.find((k) => k.kind === kind);
    const y = kb.find((k) => k.kind === kind);
    return {
      kind,
      count: change(x?.count ?? 0, y?.count ?? 0),
      totalMs: change(x?.totalMs ?? 0, y?.totalMs ?? 0),
      meanMs: change(x ? x.totalMs / x.count : null, y ? y.totalMs / y.count : null),
    };
  });

  const sa = ra.straggler;
  const sb = rb.straggler;
  return {
    version: 1,
    a,
    b,
    stepTimeMs: change(ra.stepTimeMs, rb.stepTimeMs),
    samplesPerSec: change(ra.samplesPerSec, rb.samplesPerSec),
    bubbleFraction: change(ra.bubbleFraction, rb.bubbleFraction),
    analyticBubbleFraction: change(ra.analyticBubbleFraction, rb.analyticBubbleFraction),
    overlapFraction: change(ra.overlapFraction, rb.overlapFraction),
    commMs: change(ra.commMs, rb.commMs),
    straggler: {
      a: { stage: sa.stage, busyMs: sa.busyMs, overMeanFraction: sa.overMeanFraction },
      b: { stage: sb.stage, busyMs: sb.busyMs, overMeanFraction: sb.overMeanFraction },
      busyMs: change(sa.busyMs, sb.busyMs),
      overMeanFraction: change(sa.overMeanFraction, sb.overMeanFraction),
    },
    plan: planChanges(a.plan, b.plan),
    stagesComparable,
    stages,
    busyKinds,
    kinds,
    notes,
  };
}
