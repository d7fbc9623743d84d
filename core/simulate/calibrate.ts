// Calibration: fits a CostModel to one measured trace (per-layer probe, in-pipeline op times, contention, link, optimizer, memory).
import type { Timeline } from '../trace/timeline';
import type { Plan } from '../plan/types';
import { mean, median } from '../analysis/utilization';
import { UsageError } from '../config/errors';
import { OP } from '../trace/timeline';
import type { CalibrationFit, ComputeKind, CostModel } from './cost-model';
import { layerMs, lossMs, stageOpMs } from './cost-model';
import { predictedPeakMemory, simulate } from './simulate';
import { SLOW_STEP } from '../analysis/step-spread';
import { busyProfile, fitContention, opWork } from './contention';
import { computeSlots, fitSharedGpu } from './shared-gpu';
import type { SharedGpu } from './shared-gpu';
import { probeCurves, shapeGroups } from './curves';
import { curveOutliers, isotonic, leastChange, robustSd } from './robust';

const { F, B, W, R, SEND, RECV, OPT, ALLREDUCE, COMPRESS, DECOMPRESS } = OP;

/** Bytes per ms standing in for "free" when a trace has no transfers (one stage). */
const NO_LINK_BYTES_PER_MS = 1e12;

/**
 * An op kind's typical time: the mean, not the median. Real op times are skewed (garbage collection, a descheduled
 * worker) and a pipeline pays for its slow ops: at every hand-over it waits for the slower side.
 */
const typical = mean;

/**
 * Least squares y ≈ a·x + b with relative residuals ((y − a·x − b) / y), a > 0 and b ≥ 0;
 * through the origin when the points cannot fix an intercept or want a negative one.
 */
export function fitLine(xs: number[], ys: number[]): { a: number; b: number } | null {
  const pts = xs.map((x, i) => [x, ys[i]]).filter(([x, y]) => x > 0 && y > 0);
  if (!pts.length) return null;
  let sw = 0, swx = 0, swy = 0, swxx = 0, swxy = 0;
  for (const [x, y] of pts) {
    const w = 1 / (y * y);
    sw += w;
    swx += w * x;
    swy += w * y;
    swxx += w * x * x;
    swxy += w * x * y;
  }
  const det = sw * swxx - swx * swx;
  const through0 = { a: swxy / swxx, b: 0 };
  if (pts.length < 2 || Math.abs(det) <= 1e-12 * sw * swxx) return through0;
  const a = (sw * swxy - swx * swy) / det;
  const b = (swy - a * swx) / sw;
  return a > 0 && b >= 0 ? { a, b } : through0;
}

/**
 * The common scale of probe time to in-pipeline time, and a fixed cost per op: an intercept only where the points can
 * fix one (three or more, spanning at least a factor of two), else through the origin.
 */
function fitScale(xs: number[], ys: number[]): { a: number; b: number } {
  const pts = xs.filter((x, i) => x > 0 && ys[i] > 0);
  const wide = pts.length >= 3 && Math.max(...pts) >= 2 * Math.min(...pts);
  const line = fitLine(xs, ys) ?? { a: 1, b: 0 };
  return wide ? line : { a: throughOrigin(xs, ys), b: 0 };
}

/** Relative least squares through the origin: y ≈ a·x. */
function throughOrigin(xs: number[], ys: number[]): number {
  let n = 0;
  let d = 0;
  xs.forEach((x, i) => {
    if (!(x > 0 && ys[i] > 0)) return;
    n += x / ys[i];
    d += (x * x) / (ys[i] * ys[i]);
  });
  return d > 0 ? n / d : 1;
}

/** A trace calibration cannot use: one line naming what is missing and the fix (a UsageError: exit code 2 in the CLI). */
export class CalibrationError extends UsageError {
  constructor(message: string) {
    super([message]);
  }
}

const fail = (what: string, fix: string): never => {
  throw new CalibrationError(`calibrate: ${what}; ${fix}`);
};

const RECAPTURE = 'capture the run again with pipeprof capture (tracing on)';

/** What every fit reads: the traced plan's shape and the steps measured. */
interface Traced {
  t: Timeline;
  plan: Plan;
  batch: number;
  /** Virtual stages, workers, and whether the backward is split (zb-h1). */
  V: number;
  S: number;
  split: boolean;
  replicas: number;
  /** Samples per micro-batch per replica. */
  mb: number;
  stageLayers: number[][];
  use: Set<number>;
  sharedGpu: SharedGpu | null;
  /** The measured steps that are not slow (≤ SLOW_STEP × the median): op times are typical over these, as the step time is a median. */
  typicalSteps: Set<number>;
  cores: number;
}

function traced(measured: Timeline): Traced {
  const plan = measured.plan ?? fail('the trace has no plan (pipeprof.plan)', 'calibrate from a trace written by pipeprof capture');
  const batch = measured.batch ?? fail('the trace does not say its minibatch size (pipeprof.run.batch)', 'calibrate from a trace written by pipeprof capture');
  // Compute ops belong to virtual stages (k = chunk·S + stage: the stage itself without chunks), OPT to workers.
  const V = plan.balance.length;
  const L = plan.balance.reduce((a, b) => a + b, 0);
  if (measured.layers.length !== L)
    fail(`the trace lists ${measured.layers.length} layers (pipeprof.layers) but its plan places ${L}`, 'calibrate from a trace written by pipeprof capture, which records every layer');
  if (batch % plan.microbatches !== 0) fail(`the trace's batch ${batch} is not divisible by its ${plan.microbatches} micro-batches`, 'the trace is damaged; capture it again');
  const replicas = Math.max(1, plan.replicas ?? 1);
  const first: number[] = [];
  plan.balance.reduce((n, b) => (first.push(n), n + b), 0);
  // Measured (not warm-up) steps; all steps when none is marked measured.
  const measuredSteps = new Set(measured.steps.filter((s) => !s.warmup).map((s) => s.step));
  const counted = measuredSteps.size || measured.steps.length;
  if (counted < 2)
    fail(`the trace has ${counted} measured step${counted === 1 ? '' : 's'}, and how far a prediction holds is judged from the spread of at least 2`, 'capture it again with --steps 4 or more');
  const use = measuredSteps.size ? measuredSteps : new Set(measured.steps.map((s) => s.step));
  const durations = measured.steps.filter((s) => use.has(s.step)).map((s) => [s.step, (s.endUs - s.startUs) / 1000] as const);
  const med = median(durations.map(([, d]) => d));
  const typicalSteps = new Set(durations.filter(([, d]) => d <= SLOW_STEP * med).map(([s]) => s));
  return {
    t: measured, plan, batch, V, S: V / (plan.chunks ?? 1), split: plan.schedule === 'zb-h1', replicas, typicalSteps,
    mb: batch / plan.microbatches / replicas,
    stageLayers: plan.balance.map((b, s) => Array.from({ length: b }, (_, i) => first[s] + i)),
    use,
    cores: measured.host?.cpus && measured.host.cpus > 0 ? measured.host.cpus : Infinity,
    // Workers on one GPU (webgpu) share it as they share the cores: the fewer of the two limits (shared-gpu.ts).
    sharedGpu: fitSharedGpu(measured),
  };
}

/** The run's ops sorted for the fits, each compute op as the work it did (its time less what contention and shared cores took). */
interface OpSamples {
  byStage: { F: number[][]; B: number[][]; W: number[][]; R: number[][]; OPT: number[][] };
  sends: Transfer[];
  recvs: Transfer[];
  /** Per step: when its first op started and its last OPT ended. */
  span: Map<number, { first: number; lastOpt: number }>;
  /** Every weight-gradient op, B or (split) W (to tell each virtual stage's first of a step, which accumulates no gradient). */
  bs: { step: number; stage: number; start: number; dur: number }[];
  /** Virtual stage 0's ops and its worker's OPT, in order. */
  stage0: { step: number; kind: number; start: number; end: number }[];
}

/** One SEND or RECV of an activation or gradient; `key` names the tensor (step, micro-batch, from and to virtual stage). */
interface Transfer {
  bytes: number;
  start: number;
  dur: number;
  step: number;
  microbatch: number;
  /** The virtual stage that sent it (a SEND) or received it (a RECV). */
  vs: number;
  key: string;
}

/**
 * Which tensor each transfer carried: a virtual stage sends its micro-batch's activation forward (to vs + 1) before
 * its gradient backward (to vs − 1), and receives the activation (from vs − 1) before the gradient (from vs + 1); the
 * first and last virtual stages move only one of the two. Keyed by the virtual stages, not the workers: with chunks,
 * one worker sends both tensors of a micro-batch to the same peer.
 */
function transferKeys(xs: Transfer[], V: number, side: 'send' | 'recv'): void {
  const groups = new Map<string, Transfer[]>();
  for (const x of xs) {
    const g = `${x.step}/${x.microbatch}/${x.vs}`;
    groups.set(g, [...(groups.get(g) ?? []), x]);
  }
  for (const g of groups.values()) {
    g.sort((a, b) => a.start - b.start);
    g.forEach((x, i) => {
      const forward = x.vs === 0 ? side === 'send' : x.vs === V - 1 ? side === 'recv' : i === 0;
      const other = side === 'send' ? x.vs + (forward ? 1 : -1) : x.vs + (forward ? -1 : 1);
      const [from, to] = side === 'send' ? [x.vs, other] : [other, x.vs];
      x.key = `${x.step}/${x.microbatch}/${from}>${to}`;
    });
  }
}

function opSamples(c: Traced, contention: number): OpSamples {
  const { t: measured, V, S, split, use } = c;
  // The busy profile over every measured step; the samples from the typical ones.
  const t = measured.ops;
  const slots = computeSlots({ cores: c.cores, sharedGpu: c.sharedGpu ?? undefined });
  const profile = Number.isFinite(slots) || contention > 0 ? busyProfile(measured, use) : null;
  const perStage = (n: number) => Array.from({ length: n }, () => [] as number[]);
  const out: OpSamples = { byStage: { F: perStage(V), B: perStage(V), W: perStage(V), R: perStage(V), OPT: perStage(S) }, sends: [], recvs: [], span: new Map(), bs: [], stage0: [] };
  const { byStage } = out;
  for (let i = 0; i < t.length; i++) {
    if (!c.typicalSteps.has(t.step[i]) || t.replica[i] !== 0) continue;
    const s = t.stage[i];
    if (s >= S) continue;
    const vs = (t.chunk[i] > 0 ? t.chunk[i] : 0) * S + s;
    if (vs >= V) continue;
    const k = t.kind[i];
    // An op next to other computing workers took longer than its work: count the work (a RECV only waits).
    const d = (profile && k !== RECV ? opWork(profile, t.start[i], t.dur[i], slots, contention) : t.dur[i]) / 1000;
    const st = t.start[i] / 1000;
    const w = out.span.get(t.step[i]) ?? { first: Infinity, lastOpt: -Infinity };
    out.span.set(t.step[i], w);
    if (st < w.first) w.first = st;
    if (s === 0 && (vs === 0 || k === OPT)) out.stage0.push({ step: t.step[i], kind: k, start: st, end: st + t.dur[i] / 1000 });
    if (k === F) byStage.F[vs].push(d);
    else if (k === (split ? W : B)) out.bs.push({ step: t.step[i], stage: vs, start: st, dur: d });
    else if (k === B) byStage.B[vs].push(d);
    else if (k === R) byStage.R[vs].push(d);
    else if (k === OPT) {
      byStage.OPT[s].push(d);
      if (st + t.dur[i] / 1000 > w.lastOpt) w.lastOpt = st + t.dur[i] / 1000;
    } else if (k === SEND || k === RECV) (k === SEND ? out.sends : out.recvs).push({ bytes: t.bytes[i], start: st, dur: d, step: t.step[i], microbatch: t.microbatch[i], vs, key: '' });
  }
  transferKeys(out.sends, V, 'send');
  transferKeys(out.recvs, V, 'recv');
  for (const b of out.bs) (split ? byStage.W : byStage.B)[b.stage].push(b.dur);
  const where = (k: number) => (V > S ? `virtual stage ${k} (stage ${k % S}, chunk ${Math.floor(k / S)})` : `stage ${k}`);
  for (let k = 0; k < V; k++)
    if (!byStage.F[k].length || !byStage.B[k].length || (split && !byStage.W[k].length))
      fail(`${where(k)} has no F or B${split ? ' or W' : ''} ops in the trace's measured steps`, `calibration needs every stage's forward and backward times; ${RECAPTURE}`);
  // A PyTorch pipeline's trace marks no optimizer step as a pipeline op: its update counts as free.
  if (measured.origin === 'kineto') for (const ops of byStage.OPT) if (!ops.length) ops.push(0);
  for (let s = 0; s < S; s++) if (!byStage.OPT[s].length) fail(`stage ${s} has no OPT op in the trace's measured steps`, `calibration needs the optimizer update's time; ${RECAPTURE}`);
  return out;
}

/**
 * Gradient accumulation: a stage's later weight-gradient ops of a step against its first, per byte of the stage's
 * weights; and each virtual stage's typical weight-gradient op without it.
 */
function fitAccumulation(c: Traced, o: OpSamples, paramBytes: number[]): { msPerParamByte: number; typicalGrad: number[] } {
  const firstB = new Map<string, number>();
  for (const b of o.bs) {
    const k = `${b.step}/${b.stage}`;
    if ((firstB.get(k) ?? Infinity) > b.start) firstB.set(k, b.start);
  }
  const isFirst = (b: OpSamples['bs'][number]) => firstB.get(`${b.step}/${b.stage}`) === b.start;
  const diffs = c.plan.balance.map((_, s) => {
    const mine = o.bs.filter((b) => b.stage === s);
    const firsts = mine.filter(isFirst).map((b) => b.dur);
    const rest = mine.filter((b) => !isFirst(b)).map((b) => b.dur);
    return firsts.length && rest.length ? median(rest) - median(firsts) : NaN;
  });
  const pts = diffs.map((d, s) => [paramBytes[s], d]).filter(([p, d]) => p > 0 && Number.isFinite(d));
  const msPerParamByte = pts.length ? Math.max(0, pts.reduce((a, [p, d]) => a + p * d, 0) / pts.reduce((a, [p]) => a + p * p, 0)) : 0;
  const typicalGrad = c.plan.balance.map((_, s) => typical(o.bs.filter((b) => b.stage === s).map((b) => b.dur - (isFirst(b) ? 0 : msPerParamByte * paramBytes[s]))));
  return { msPerParamByte, typicalGrad };
}

/** The first stage makes each micro-batch's input before its F, untraced: the median gap before an F that did not wait, per sample. */
function fitInput(o: OpSamples, mb: number): number {
  const gaps: number[] = [];
  const byStep = new Map<number, OpSamples['stage0']>();
  for (const x of o.stage0) byStep.set(x.step, [...(byStep.get(x.step) ?? []), x]);
  for (const ops of byStep.values()) {
    ops.sort((a, b) => a.start - b.start);
    let end = -Infinity;
    for (const x of ops) {
      if (x.kind === F && end > -Infinity) gaps.push(Math.max(0, x.start - end));
      end = Math.max(end, x.end);
    }
  }
  return gaps.length ? median(gaps) / mb : 0;
}

type Typical = Record<'F' | 'B' | 'W' | 'R' | 'OPT', number[]>;

/** Per-layer points: the probe's fitted curves when the trace has a probe for every layer; else each stage's typical op split by FLOPs. */
function fitLayers(c: Traced, typ: Typical, layerParamBytes: number[]): { layers: CostModel['layers']; probed: boolean; probeNoise: number } {
  const { t: measured, stageLayers, split, mb } = c;
  const probe = new Map(measured.layerCosts.map((x) => [x.layer, x]));
  const withProbe = measured.layers.filter((l) => (probe.get(l.name)?.points.length ?? 0) > 0);
  if (withProbe.length && withProbe.length < measured.layers.length)
    fail(`the per-layer probe (pipeprof.layerCosts) covers ${withProbe.length} of the ${measured.layers.length} layers (missing: ${measured.layers.find((l) => !withProbe.includes(l))!.name})`, 'the trace is damaged; capture it again');
  for (const x of measured.layerCosts)
    for (const p of x.points)
      if (!(p.size > 0) || ![p.forwardMs, p.backwardMs, p.inputGradMs ?? 0, p.weightGradMs ?? 0].every((v) => Number.isFinite(v) && v >= 0))
        fail(`the per-layer probe of layer ${x.layer} has a point that is not a size and non-negative times (${JSON.stringify(p)})`, 'the trace is damaged; capture it again');
  const probed = withProbe.length === measured.layers.length;
  const fitted = probed ? probeCurves(measured) : null;
  const curves = fitted?.curves;
  const layers = measured.layers.map((l, i) => {
    const x = probe.get(l.name);
    const base = { name: l.name, activationBytesPerSample: l.activationBytes, flops: l.flops };
    if (curves && x) return { ...base, points: curves[i], savedBytesPerSample: x.savedBytesPerSample, paramBytes: x.paramBytes, ...(x.pendingBytesPerSample !== undefined ? { pendingBytesPerSample: x.pendingBytesPerSample } : {}) };
    const s = stageLayers.findIndex((ls) => ls.includes(i));
    const total = stageLayers[s].reduce((n, j) => n + measured.layers[j].flops, 0);
    const share = total > 0 ? l.flops / total : 1 / stageLayers[s].length;
    return {
      ...base,
      points: [{ size: mb, forwardMs: typ.F[s] * share, backwardMs: (typ.B[s] + (split ? typ.W[s] : 0)) * share, ...(split ? { inputGradMs: typ.B[s] * share, weightGradMs: typ.W[s] * share } : {}) }],
      savedBytesPerSample: l.activationBytes,
      paramBytes: layerParamBytes[i],
    };
  });
  return { layers, probed, probeNoise: fitted?.noise ?? 0 };
}

/**
 * Compute: a common scale (and a fixed cost per op where the run can fix one) from the probe to the run, then for each
 * kind of op the least change to each group of same-shaped layers' curve that makes every stage's op take what it took
 * in the run (leastChange): the probe gives the shape of the costs, the run their level at the traced size under its
 * real contention. The last stage's F also computes the loss, which the probe does not time: it is what remains.
 */
function fitCompute(c: Traced, cm: CostModel, typ: Typical): { shapeSpread: number } {
  const { V, stageLayers, split, mb } = c;
  const kinds = (split ? ['F', 'B', 'W', 'R'] : ['F', 'B', 'R']) as ('F' | 'B' | 'W' | 'R')[];
  const asKind = (kind: 'F' | 'B' | 'W' | 'R'): ComputeKind => (kind === 'B' && split ? 'I' : kind);
  const counted = (kind: string, k: number) => Number.isFinite(typ[kind as 'F'][k]) && typ[kind as 'F'][k] > 0 && !(kind === 'F' && k === V - 1);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let k = 0; k < V; k++)
    for (const kind of kinds)
      if (counted(kind, k)) {
        xs.push(stageOpMs(cm, stageLayers[k], asKind(kind), mb));
        ys.push(typ[kind][k]);
      }
  const line = fitScale(xs, ys);
  // The scale goes into the curves themselves, so each layer carries its own level.
  cm.opOverheadMs = line.b;
  for (const l of cm.layers) l.points = l.points.map((p) => scalePoint(p, line.a));
  // How much the run's time per probed ms differs between stages and kinds: what the probe's relative costs get wrong.
  const ratios = xs.map((x, i) => Math.log(ys[i] / x)).filter(Number.isFinite);
  const groups = shapeGroups(c.t.layers);
  const groupOf = new Int32Array(cm.layers.length);
  groups.forEach((g, j) => g.forEach((l) => (groupOf[l] = j)));
  const factors: Partial<Record<'F' | 'B' | 'W', number[]>> = {};
  for (const kind of kinds) {
    if (kind === 'R') continue;
    const rows: number[][] = [];
    const m: number[] = [];
    for (let k = 0; k < V; k++) {
      if (!counted(kind, k)) continue;
      const row = new Array<number>(groups.length).fill(0);
      for (const l of stageLayers[k]) row[groupOf[l]] += layerMs(cm, l, asKind(kind), mb);
      const fixed = cm.opOverheadMs * cm.computeScale;
      if (row.some((x) => x > 0) && typ[kind][k] > fixed) {
        rows.push(row);
        m.push(typ[kind][k] - fixed);
      }
    }
    if (!rows.length) continue;
    // Groups the run says nothing of keep their curve; the rest change as little as the run allows.
    factors[kind] = leastChange(rows, m, groups.map(() => 1));
  }
  for (const [j, g] of groups.entries())
    for (const l of g) {
      const layer = cm.layers[l];
      layer.points = layer.points.map((p) => {
        const q = { ...p };
        const f = factors.F?.[j] ?? 1;
        q.forwardMs *= f;
        if (split) {
          const fi = factors.B?.[j] ?? 1;
          const fw = factors.W?.[j] ?? 1;
          const i = p.inputGradMs ?? p.backwardMs;
          const w = p.weightGradMs ?? 0;
          q.inputGradMs = i * fi;
          q.weightGradMs = w * fw;
          q.backwardMs = p.backwardMs * (i + w > 0 ? (i * fi + w * fw) / (i + w) : fi);
        } else {
          const fb = factors.B?.[j] ?? 1;
          q.backwardMs *= fb;
          if (p.inputGradMs !== undefined) q.inputGradMs = p.inputGradMs * fb;
          if (p.weightGradMs !== undefined) q.weightGradMs = p.weightGradMs * fb;
        }
        return q;
      });
    }
  // A recompute repeats a forward; what it took beyond that is its own scale.
  let mR = 0;
  let pR = 0;
  for (let k = 0; k < V; k++)
    if (counted('R', k)) {
      mR += typ.R[k];
      pR += stageOpMs(cm, stageLayers[k], 'F', mb);
    }
  cm.kindScale = mR > 0 && pR > 0 ? { R: mR / pR } : {};
  // The loss: what the last stage's F took beyond its layers. The probe's loss curve (when it timed one) gives its
  // shape in size, the run its level; else it is taken as a cost per sample.
  const beyond = Math.max(0, typ.F[V - 1] - stageOpMs(cm, stageLayers[V - 1], 'F', mb));
  const curve = lossCurve(c.t);
  const probedAt = curve ? lossMs({ ...cm, loss: curve }, mb) : 0;
  if (curve && probedAt > 0) cm.loss = curve.map((p) => ({ size: p.size, ms: (p.ms * beyond) / probedAt }));
  else cm.lossMsPerSample = beyond / mb;
  return { shapeSpread: sampleSd(ratios) };
}

/** The probe's loss on the model's last layer per size, off-curve points dropped and made non-decreasing; null when not probed. */
function lossCurve(t: Timeline): { size: number; ms: number }[] | null {
  const last = t.layers.length ? t.layerCosts.find((x) => x.layer === t.layers[t.layers.length - 1].name) : undefined;
  const pts = (last?.points ?? []).filter((p) => p.lossMs !== undefined && p.lossMs > 0 && p.size > 0).sort((a, b) => a.size - b.size);
  if (!pts.length) return null;
  const drop = curveOutliers(pts.map((p) => p.size), pts.map((p) => p.lossMs!));
  const kept = pts.filter((_, i) => !drop[i]);
  const ms = isotonic(kept.map((p) => p.lossMs!));
  return kept.map((p, i) => ({ size: p.size, ms: ms[i] }));
}

/** The sample standard deviation (n − 1); 0 for fewer than two values. */
function sampleSd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

const scalePoint = (p: CostModel['layers'][number]['points'][number], a: number) => ({
  ...p,
  forwardMs: p.forwardMs * a,
  backwardMs: p.backwardMs * a,
  ...(p.inputGradMs !== undefined ? { inputGradMs: p.inputGradMs * a } : {}),
  ...(p.weightGradMs !== undefined ? { weightGradMs: p.weightGradMs * a } : {}),
});

/** Link: the sender's SEND is the bandwidth part; a RECV of a tensor already there is the latency; one that waited, the delivery from the SEND's start. */
function fitLink(o: OpSamples): CostModel['link'] {
  const { sends, recvs } = o;
  if (!sends.length) return { latencyMs: 0, bytesPerMs: NO_LINK_BYTES_PER_MS };
  // The sender's typical cost per byte, as for compute ops the mean (Σ bytes / Σ time): a pipeline pays for slow sends.
  const timed = sends.filter((x) => x.dur > 0 && x.bytes > 0);
  const bytesPerMs = timed.length ? timed.reduce((a, x) => a + x.bytes, 0) / timed.reduce((a, x) => a + x.dur, 0) : NO_LINK_BYTES_PER_MS;
  const sendOf = new Map(sends.map((x) => [x.key, x]));
  const pairs = recvs.flatMap((r) => (sendOf.has(r.key) ? [{ r, x: sendOf.get(r.key)! }] : []));
  // A receiver that waited since before the SEND began has the tensor this long after that start: measured, not summed
  // from the sender's SEND (which may end after the receiver has it).
  const waited = pairs.filter(({ r, x }) => x.start > r.start);
  const delivery = waited.length ? fitDelivery(waited.map(({ x }) => x.bytes), waited.map(({ r, x }) => r.start + r.dur - x.start), bytesPerMs) : null;
  // A RECV that began once its tensor was there (by the delivery when measured, else after its SEND) took the latency.
  const there = (x: Transfer) => x.start + (delivery ? delivery.deliveryMs + x.bytes * delivery.deliveryMsPerByte : x.dur);
  const arrived = pairs.filter(({ r, x }) => r.start >= there(x)).map(({ r }) => r.dur);
  // Every RECV waited: what taking in a tensor already there costs is not in the trace, and a wait is no latency.
  const latencyMs = arrived.length ? median(arrived) : 0;
  const wakeMs = waited.length ? Math.max(0, median(waited.map(({ r, x }) => r.start + r.dur - x.start - x.bytes / bytesPerMs - latencyMs))) : 0;
  return { latencyMs, bytesPerMs, wakeMs, ...(delivery ?? {}) };
}

/**
 * Delivery ≈ fixed + per byte: a least-squares line where the tensors differ in size (the median at every size when
 * that line does not increase from a non-negative intercept). With one size the two cannot be told apart: the part
 * the link's bandwidth explains grows with the bytes, the rest is fixed.
 */
function fitDelivery(bytes: number[], ms: number[], bytesPerMs: number): { deliveryMs: number; deliveryMsPerByte: number } {
  if (Math.max(...bytes) > Math.min(...bytes)) {
    const mx = mean(bytes);
    const my = mean(ms);
    const sxx = bytes.reduce((a, x) => a + (x - mx) ** 2, 0);
    const a = bytes.reduce((acc, x, i) => acc + (x - mx) * (ms[i] - my), 0) / sxx;
    if (a > 0 && my - a * mx >= 0) return { deliveryMs: my - a * mx, deliveryMsPerByte: a };
    return { deliveryMs: median(ms), deliveryMsPerByte: 0 };
  }
  const m = median(ms);
  const perByte = bytes[0] > 0 ? Math.min(1 / bytesPerMs, m / bytes[0]) : 0;
  return { deliveryMs: m - bytes[0] * perByte, deliveryMsPerByte: perByte };
}

/** Replica link: all-reduce hops (send to received and applied) against their bytes; codecs per byte of float32 input. */
function fitReplicaLink(c: Traced, cm: CostModel): void {
  const t = c.t.ops;
  const hops: { bytes: number; ms: number }[] = [];
  const codec = { c: { ms: 0, bytes: 0 }, d: { ms: 0, bytes: 0 } };
  for (let i = 0; i < t.length; i++) {
    if (!c.use.has(t.step[i])) continue;
    const k = t.kind[i];
    if (k === ALLREDUCE && t.bytes[i] > 0 && t.peer[i] >= 0) hops.push({ bytes: t.bytes[i], ms: t.dur[i] / 1000 });
    else if (k === COMPRESS || k === DECOMPRESS) {
      const acc = k === COMPRESS ? codec.c : codec.d;
      acc.ms += t.dur[i] / 1000;
      acc.bytes += t.bytes[i];
    }
  }
  if (hops.length) {
    // The replicas talk over the same transport as the stages: its bandwidth when the trace has transfers; each hop's
    // latency is what a hop took beyond that (waking the receiver, the replicas' skew), the mean over hops.
    // Without transfers, a line through the hops. Hop bytes are wire bytes (the model applies the codec's share).
    if (cm.link.bytesPerMs < NO_LINK_BYTES_PER_MS) {
      const bw = cm.link.bytesPerMs;
      cm.reduceLink = { latencyMs: Math.max(0, typical(hops.map((h) => h.ms - h.bytes / bw))), bytesPerMs: bw };
    } else {
      const line = fitLine(hops.map((h) => h.bytes), hops.map((h) => h.ms));
      if (line) cm.reduceLink = { latencyMs: line.b, bytesPerMs: 1 / line.a };
    }
  }
  if (codec.c.bytes > 0 && codec.d.bytes > 0) {
    const perByte = codec.c.ms / codec.c.bytes + codec.d.ms / codec.d.bytes;
    cm.codecMsPerByte = { fp16: perByte, int8: perByte };
  }
}

/** The barrier: a step's start to its first op, its last OPT to its end (no OPT op, a PyTorch trace: no end gap). */
function fitBarrier(c: Traced, o: OpSamples): CostModel['stepOverhead'] | undefined {
  const gaps = c.t.steps.filter((st) => c.use.has(st.step) && o.span.has(st.step)).map((st) => {
    const w = o.span.get(st.step)!;
    return { start: w.first - st.startUs / 1000, end: st.endUs / 1000 - w.lastOpt };
  });
  const ends = gaps.map((g) => g.end).filter(Number.isFinite);
  return gaps.length ? { startMs: Math.max(0, median(gaps.map((g) => g.start))), endMs: ends.length ? Math.max(0, median(ends)) : 0 } : undefined;
}

/**
 * Optimizer: per-worker OPT time against its weight bytes (a line), then the least change to each group of same-shaped
 * layers' share that gives every worker the OPT it took (an embedding's update is not a dense layer's, byte for byte).
 */
function fitOptimizer(c: Traced, cm: CostModel, typOpt: number[], workerParamBytes: number[]): void {
  const allZero = workerParamBytes.every((p) => p === 0);
  const opt = fitLine(workerParamBytes, typOpt);
  cm.opt = allZero || !opt ? { fixedMs: median(typOpt), msPerParamByte: 0 } : { fixedMs: opt.b, msPerParamByte: opt.a };
  if (allZero || !opt) return;
  const groups = shapeGroups(c.t.layers);
  const workerLayers = Array.from({ length: c.S }, (_, s) => c.stageLayers.flatMap((ls, k) => (k % c.S === s ? ls : [])));
  const rows: number[][] = [];
  const m: number[] = [];
  workerLayers.forEach((ls, s) => {
    const row = groups.map((g) => g.reduce((n, l) => n + (ls.includes(l) ? cm.opt.msPerParamByte * cm.layers[l].paramBytes : 0), 0));
    if (row.some((x) => x > 0) && typOpt[s] > cm.opt.fixedMs) {
      rows.push(row);
      m.push(typOpt[s] - cm.opt.fixedMs);
    }
  });
  if (!rows.length) return;
  const f = leastChange(rows, m, groups.map(() => 1));
  groups.forEach((g, j) => g.forEach((l) => (cm.layers[l].optMs = cm.opt.msPerParamByte * cm.layers[l].paramBytes * f[j])));
}

/** Memory: measured peak per stage minus weights and predicted activations = base + state × weights. */
function fitMemory(c: Traced, cm: CostModel, workerParamBytes: number[]): void {
  const { S } = c;
  const peaks = Array.from({ length: S }, () => -Infinity);
  for (const m of c.t.memory) if (m.stage < S && m.bytes > peaks[m.stage]) peaks[m.stage] = m.bytes;
  if (!peaks.every((p) => Number.isFinite(p))) return;
  const bare = predictedPeakMemory({ plan: c.plan, batch: c.batch, costs: cm });
  const resid = peaks.map((p, s) => p - bare[s]);
  const allZero = workerParamBytes.every((p) => p === 0);
  const distinct = new Set(workerParamBytes).size > 1;
  const through0 = () => Math.max(0, workerParamBytes.reduce((a, p, s) => a + p * resid[s], 0) / workerParamBytes.reduce((a, p) => a + p * p, 0));
  let state: number;
  let base: number;
  if (allZero) {
    state = 0;
    base = Math.max(0, median(resid));
  } else if (distinct) {
    const mx = workerParamBytes.reduce((a, b) => a + b, 0) / S;
    const my = resid.reduce((a, b) => a + b, 0) / S;
    const sxy = workerParamBytes.reduce((a, p, s) => a + (p - mx) * (resid[s] - my), 0);
    const sxx = workerParamBytes.reduce((a, p) => a + (p - mx) ** 2, 0);
    state = sxy / sxx;
    base = my - state * mx;
    if (state < 0) [state, base] = [0, Math.max(0, my)];
    else if (base < 0) [state, base] = [through0(), 0];
  } else {
    // Equal weights on every stage cannot separate a base from optimizer state: all of it goes to the state.
    [state, base] = [through0(), 0];
  }
  cm.memory = { baseBytes: base, stateBytesPerParamByte: state };
}

/** How well the fitted model holds on its own run: the traced plan replayed against the measured steps. */
function fitQuality(c: Traced, cm: CostModel, probed: boolean, shapeSpread: number, probeNoise: number): CalibrationFit {
  const steps = c.t.steps.filter((s) => c.use.has(s.step)).map((s) => (s.endUs - s.startUs) / 1000);
  const med = median(steps);
  const replay = simulate({ plan: c.plan, batch: c.batch, costs: cm, layers: c.t.layers, steps: 1 });
  const predicted = (replay.steps[0].endUs - replay.steps[0].startUs) / 1000;
  return {
    tracedSamples: c.mb, tracedBalance: c.plan.balance.slice(), stepSpread: med > 0 ? robustSd(steps) / med : 0, steps: steps.length,
    residual: med > 0 ? Math.abs(predicted / med - 1) : 0, shapeSpread, probeNoise, probed,
  };
}

/** Fits the simulator's cost model to a measured run so that simulating its own plan reproduces its op times. */
export function calibrate(measured: Timeline): CostModel {
  const c = traced(measured);
  const { V, S, split, mb, stageLayers } = c;
  // Workers slowing each other: fitted from how the same ops' times vary with the others computing (PyTorch ranks each have their GPU).
  const contention = measured.origin === 'kineto' ? 0 : fitContention(measured, c.use, computeSlots({ cores: c.cores, sharedGpu: c.sharedGpu ?? undefined }));
  const o = opSamples(c, contention);
  const { byStage } = o;
  const typ: Typical = { F: byStage.F.map(typical), B: byStage.B.map(typical), W: byStage.W.map(typical), R: byStage.R.map(typical), OPT: byStage.OPT.map(typical) };

  const probe = new Map(measured.layerCosts.map((x) => [x.layer, x]));
  const layerParamBytes = measured.layers.map((l) => probe.get(l.name)?.paramBytes ?? 4 * l.params);
  const paramBytes = stageLayers.map((ls) => ls.reduce((n, l) => n + layerParamBytes[l], 0));
  /** Per worker: the weights of all its chunks (for the optimizer and memory fits). */
  const workerParamBytes = Array.from({ length: S }, (_, s) => paramBytes.reduce((n, p, k) => (k % S === s ? n + p : n), 0));
  const accum = fitAccumulation(c, o, paramBytes);
  // Backward alone: what each weight-gradient op took less its accumulation.
  (split ? typ.W : typ.B).splice(0, V, ...accum.typicalGrad);

  const { layers, probed, probeNoise } = fitLayers(c, typ, layerParamBytes);
  const cm: CostModel = {
    layers, opOverheadMs: 0, link: fitLink(o), opt: { fixedMs: 0, msPerParamByte: 0 }, computeScale: 1,
    memory: { baseBytes: 0, stateBytesPerParamByte: 0 }, ...(Number.isFinite(c.cores) ? { cores: c.cores } : {}),
    ...(contention > 0 ? { contention } : {}), ...(c.sharedGpu ? { sharedGpu: c.sharedGpu } : {}),
  };
  const { shapeSpread } = fitCompute(c, cm, typ);
  cm.gradAccumMsPerParamByte = accum.msPerParamByte;
  cm.inputMsPerSample = fitInput(o, mb);
  fitReplicaLink(c, cm);
  const barrier = fitBarrier(c, o);
  if (barrier) cm.stepOverhead = barrier;
  fitOptimizer(c, cm, typ.OPT, workerParamBytes);
  fitMemory(c, cm, workerParamBytes);
  cm.fit = fitQuality(c, cm, probed, shapeSpread, probeNoise);
  return cm;
}
