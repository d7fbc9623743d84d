// Calibration: fits a CostModel to one measured trace (per-layer probe, in-pipeline op times, link, optimizer, memory).
import { computeSlots, fitSharedGpu } from './shared-gpu';
import type { Timeline } from '../trace/timeline';
import { mean, median } from '../analysis/utilization';
import { UsageError } from '../config/errors';
import { OP } from '../trace/timeline';
import type { ComputeKind, CostModel } from './cost-model';
import { stageOpMs } from './cost-model';
import { predictedPeakMemory } from './simulate';

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

/** A trace calibration cannot use: one line naming what is missing and the fix (a UsageError: exit code 2 in the CLI). */
export class CalibrationError extends UsageError {
  constructor(message: string) {
    super([message]);
  }
}

const fail = (what: string, fix: string): never => {
  throw new CalibrationError(`calibrate: ${what}; ${fix}`);
};

type Points = CostModel['layers'][number]['points'];

/**
 * For runs with more stages than cores: op i's mean share of a core over its span, when the stages computing at
 * each moment (F, B, R, OPT, SEND: the ops that need a core) split the cores equally.
 */
function coreShares(tl: Timeline, use: Set<number>, cores: number): (i: number) => number {
  const t = tl.ops;
  const busy = (k: number) => k === F || k === B || k === W || k === R || k === OPT || k === SEND || k === COMPRESS || k === DECOMPRESS;
  // Concurrency as a step function: +1 at each busy op's start, −1 at its end.
  const edges: [number, number][] = [];
  for (let i = 0; i < t.length; i++)
    if (use.has(t.step[i]) && busy(t.kind[i])) edges.push([t.start[i], 1], [t.start[i] + t.dur[i], -1]);
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
  return (i) => {
    const a = t.start[i];
    const b = a + t.dur[i];
    if (!(b > a)) return 1;
    let lo = 0;
    let hi = at.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (at[mid] <= a) lo = mid;
      else hi = mid - 1;
    }
    let share = 0;
    for (let j = lo; j < at.length && at[j] < b; j++) {
      const x0 = Math.max(a, at[j]);
      const x1 = Math.min(b, j + 1 < at.length ? at[j + 1] : b);
      if (x1 > x0) share += (x1 - x0) * Math.min(1, cores / Math.max(1, n[j]));
    }
    return share / (b - a);
  };
}

/**
 * Each layer's probe points, sorted by size; layers of the same shape (kind, parameters, FLOPs, output) share one curve,
 * the median over them at each size, which cancels most of the probe's noise. The model's first layer stays alone:
 * it never computes an input gradient, whatever the plan.
 */
function pooledCurves(t: Timeline): Points[] {
  const own = t.layers.map((l) => t.layerCosts.find((c) => c.layer === l.name)!.points.slice().sort((a, b) => a.size - b.size));
  const groups = new Map<string, number[]>();
  t.layers.forEach((l, i) => {
    if (i === 0) return;
    const k = `${l.kind}/${l.params}/${l.flops}/${l.activationBytes}`;
    groups.set(k, [...(groups.get(k) ?? []), i]);
  });
  const out = own.map((p) => p.map((q) => ({ size: q.size, forwardMs: q.forwardMs, backwardMs: q.backwardMs })));
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const sizes = own[members[0]].map((p) => p.size);
    if (!members.every((i) => own[i].length === sizes.length && own[i].every((p, j) => p.size === sizes[j]))) continue;
    const curve = sizes.map((size, j) => ({ size, forwardMs: median(members.map((i) => own[i][j].forwardMs)), backwardMs: median(members.map((i) => own[i][j].backwardMs)) }));
    for (const i of members) out[i] = curve.map((p) => ({ ...p }));
  }
  return out;
}

/** Fits the simulator's cost model to a measured run so that simulating its own plan reproduces its op times. */
export function calibrate(measured: Timeline): CostModel {
  const RECAPTURE = 'capture the run again with pipeprof capture (tracing on)';
  const plan = measured.plan ?? fail('the trace has no plan (pipeprof.plan)', 'calibrate from a trace written by pipeprof capture');
  const batch = measured.batch ?? fail('the trace does not say its minibatch size (pipeprof.run.batch)', 'calibrate from a trace written by pipeprof capture');
  // Compute ops belong to virtual stages (k = chunk·S + stage: the stage itself without chunks), OPT to workers.
  const V = plan.balance.length;
  const S = V / (plan.chunks ?? 1);
  const split = plan.schedule === 'zb-h1';
  const L = plan.balance.reduce((a, b) => a + b, 0);
  if (measured.layers.length !== L)
    fail(`the trace lists ${measured.layers.length} layers (pipeprof.layers) but its plan places ${L}`, 'calibrate from a trace written by pipeprof capture, which records every layer');
  if (batch % plan.microbatches !== 0) fail(`the trace's batch ${batch} is not divisible by its ${plan.microbatches} micro-batches`, 'the trace is damaged; capture it again');
  const replicas = Math.max(1, plan.replicas ?? 1);
  // Each replica computes its share of every micro-batch.
  const mb = batch / plan.microbatches / replicas;
  const first: number[] = [];
  plan.balance.reduce((n, b) => (first.push(n), n + b), 0);
  const stageLayers = plan.balance.map((b, s) => Array.from({ length: b }, (_, i) => first[s] + i));

  // Measured (not warm-up) steps; all steps when none is marked measured.
  const measuredSteps = new Set(measured.steps.filter((s) => !s.warmup).map((s) => s.step));
  const use = measuredSteps.size ? measuredSteps : new Set(measured.steps.map((s) => s.step));
  const t = measured.ops;
  const cores = measured.host?.cpus && measured.host.cpus > 0 ? measured.host.cpus : undefined;
  // Workers on one GPU (webgpu) share it as they share the cores: the fewer of the two limits (shared-gpu.ts).
  const sharedGpu = fitSharedGpu(measured);
  const slots = computeSlots({ cores, sharedGpu: sharedGpu ?? undefined });
  const shareOf = slots < Infinity && S * replicas > slots ? coreShares(measured, use, slots) : null;
  const perStage = (n: number) => Array.from({ length: n }, () => [] as number[]);
  const byStage = { F: perStage(V), B: perStage(V), W: perStage(V), R: perStage(V), OPT: perStage(S) };
  const sends: { bytes: number; start: number; dur: number; key: string }[] = [];
  const recvs: { dur: number; start: number; key: string }[] = [];
  /** Per step: when its first op started and its last OPT ended. */
  const span = new Map<number, { first: number; lastOpt: number }>();
  /** Every weight-gradient op, B or (split) W (to tell each virtual stage's first of a step, which accumulates no gradient), and virtual stage 0's ops in order. */
  const bs: { step: number; stage: number; start: number; dur: number }[] = [];
  const stage0: { step: number; kind: number; start: number; end: number }[] = [];
  for (let i = 0; i < t.length; i++) {
    if (!use.has(t.step[i]) || t.replica[i] !== 0) continue;
    const s = t.stage[i];
    if (s >= S) continue;
    const vs = (t.chunk[i] > 0 ? t.chunk[i] : 0) * S + s;
    if (vs >= V) continue;
    const k = t.kind[i];
    // With more stages than cores, an op took longer than its work: count only the share of a core it had.
    const d = (t.dur[i] / 1000) * (shareOf && k !== RECV ? shareOf(i) : 1);
    const st = t.start[i] / 1000;
    const w = span.get(t.step[i]) ?? { first: Infinity, lastOpt: -Infinity };
    span.set(t.step[i], w);
    if (st < w.first) w.first = st;
    if (s === 0 && (vs === 0 || k === OPT)) stage0.push({ step: t.step[i], kind: k, start: st, end: st + t.dur[i] / 1000 });
    if (k === F) byStage.F[vs].push(d);
    else if (k === (split ? W : B)) bs.push({ step: t.step[i], stage: vs, start: st, dur: d });
    else if (k === B) byStage.B[vs].push(d);
    else if (k === R) byStage.R[vs].push(d);
    else if (k === OPT) {
      byStage.OPT[s].push(d);
      if (st + t.dur[i] / 1000 > w.lastOpt) w.lastOpt = st + t.dur[i] / 1000;
    } else if (k === SEND) sends.push({ bytes: t.bytes[i], start: st, dur: d, key: `${t.step[i]}/${t.microbatch[i]}/${s}>${t.peer[i]}` });
    else if (k === RECV) recvs.push({ dur: d, start: st, key: `${t.step[i]}/${t.microbatch[i]}/${t.peer[i]}>${s}` });
  }
  // Gradient accumulation: a stage's later Bs of a step against its first, per byte of the stage's weights (fitted below).
  const firstB = new Map<string, number>();
  for (const b of bs) {
    const k = `${b.step}/${b.stage}`;
    if ((firstB.get(k) ?? Infinity) > b.start) firstB.set(k, b.start);
  }
  const isFirstB = (b: (typeof bs)[number]) => firstB.get(`${b.step}/${b.stage}`) === b.start;
  for (const b of bs) (split ? byStage.W : byStage.B)[b.stage].push(b.dur);
  const where = (k: number) => (V > S ? `virtual stage ${k} (stage ${k % S}, chunk ${Math.floor(k / S)})` : `stage ${k}`);
  for (let k = 0; k < V; k++)
    if (!byStage.F[k].length || !byStage.B[k].length || (split && !byStage.W[k].length))
      fail(`${where(k)} has no F or B${split ? ' or W' : ''} ops in the trace's measured steps`, `calibration needs every stage's forward and backward times; ${RECAPTURE}`);
  // A PyTorch pipeline's trace marks no optimizer step as a pipeline op: its update counts as free.
  if (measured.origin === 'kineto') for (const ops of byStage.OPT) if (!ops.length) ops.push(0);
  for (let s = 0; s < S; s++) if (!byStage.OPT[s].length) fail(`stage ${s} has no OPT op in the trace's measured steps`, `calibration needs the optimizer update's time; ${RECAPTURE}`);
  const typ = { F: byStage.F.map(typical), B: byStage.B.map(typical), W: byStage.W.map(typical), R: byStage.R.map(typical), OPT: byStage.OPT.map(typical) };

  const probe = new Map(measured.layerCosts.map((c) => [c.layer, c]));
  const layerParamBytes = measured.layers.map((l) => probe.get(l.name)?.paramBytes ?? 4 * l.params);
  const paramBytes = stageLayers.map((ls) => ls.reduce((n, l) => n + layerParamBytes[l], 0));
  /** Per worker: the weights of all its chunks (for the optimizer and memory fits). */
  const workerParamBytes = Array.from({ length: S }, (_, s) => paramBytes.reduce((n, p, k) => (k % S === s ? n + p : n), 0));
  const accumDiffs = plan.balance.map((_, s) => {
    const mine = bs.filter((b) => b.stage === s);
    const firsts = mine.filter(isFirstB).map((b) => b.dur);
    const rest = mine.filter((b) => !isFirstB(b)).map((b) => b.dur);
    return firsts.length && rest.length ? median(rest) - median(firsts) : NaN;
  });
  const accumPts = accumDiffs.map((d, s) => [paramBytes[s], d]).filter(([p, d]) => p > 0 && Number.isFinite(d));
  const gradAccumMsPerParamByte = accumPts.length ? Math.max(0, accumPts.reduce((a, [p, d]) => a + p * d, 0) / accumPts.reduce((a, [p]) => a + p * p, 0)) : 0;
  // Backward alone: what each B took less its accumulation.
  (split ? typ.W : typ.B).splice(0, V, ...plan.balance.map((_, s) => typical(bs.filter((b) => b.stage === s).map((b) => b.dur - (isFirstB(b) ? 0 : gradAccumMsPerParamByte * paramBytes[s])))));

  // Per-layer points: the cost probe when the trace has one for every layer; else each stage's typical op split by FLOPs.
  const probed = measured.layers.every((l) => (probe.get(l.name)?.points.length ?? 0) > 0);
  const curves = probed ? pooledCurves(measured) : null;
  const layers: CostModel['layers'] = measured.layers.map((l, i) => {
    const c = probe.get(l.name);
    const base = { name: l.name, activationBytesPerSample: l.activationBytes, flops: l.flops };
    if (curves && c) return { ...base, points: curves[i], savedBytesPerSample: c.savedBytesPerSample, paramBytes: c.paramBytes, ...(c.pendingBytesPerSample !== undefined ? { pendingBytesPerSample: c.pendingBytesPerSample } : {}) };
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

  // The first stage makes each micro-batch's input before its F, untraced: the gap before an F that did not wait.
  const inputGaps: number[] = [];
  const byStep = new Map<number, typeof stage0>();
  for (const o of stage0) byStep.set(o.step, [...(byStep.get(o.step) ?? []), o]);
  for (const ops of byStep.values()) {
    ops.sort((a, b) => a.start - b.start);
    let end = -Infinity;
    for (const o of ops) {
      if (o.kind === F && end > -Infinity) inputGaps.push(Math.max(0, o.start - end));
      end = Math.max(end, o.end);
    }
  }

  const c: CostModel = {
    layers, opOverheadMs: 0, link: { latencyMs: 0, bytesPerMs: NO_LINK_BYTES_PER_MS }, opt: { fixedMs: 0, msPerParamByte: 0 },
    computeScale: 1, memory: { baseBytes: 0, stateBytesPerParamByte: 0 }, ...(cores !== undefined ? { cores } : {}), ...(sharedGpu ? { sharedGpu } : {}),
  };

  // computeScale and overhead: predicted stage ops (probe sums) against the measured typical (mean) op times.
  // The last stage's F also computes the loss, which the probe does not time: it is fitted apart, as what remains.
  const xs: number[] = [];
  const ys: number[] = [];
  for (let k = 0; k < V; k++)
    for (const kind of ['F', 'B', 'W', 'R'] as const) {
      const y = typ[kind][k];
      if (!Number.isFinite(y) || (kind === 'F' && k === V - 1)) continue;
      // With a split backward, B is the input-gradient half (I) and W the weight-gradient half.
      xs.push(stageOpMs(c, stageLayers[k], kind === 'B' && split ? 'I' : kind, mb));
      ys.push(y);
    }
  const line = fitLine(xs, ys) ?? { a: 1, b: 0 };
  c.computeScale = line.a;
  c.opOverheadMs = line.b / line.a;
  // Per kind, what the line leaves: next to the other workers a forward and a backward do not slow down alike.
  const kindScale: Partial<Record<ComputeKind, number>> = {};
  for (const kind of ['F', 'B', 'W', 'R'] as const) {
    const as: ComputeKind = kind === 'B' && split ? 'I' : kind;
    let m = 0;
    let p = 0;
    for (let k = 0; k < V; k++) {
      const y = typ[kind][k];
      if (!Number.isFinite(y) || (kind === 'F' && k === V - 1)) continue;
      m += y;
      p += stageOpMs(c, stageLayers[k], as, mb);
    }
    if (m > 0 && p > 0) kindScale[as] = m / p;
  }
  c.kindScale = kindScale;
  c.lossMsPerSample = Math.max(0, typ.F[V - 1] - stageOpMs(c, stageLayers[V - 1], 'F', mb)) / mb;
  c.gradAccumMsPerParamByte = gradAccumMsPerParamByte;
  c.inputMsPerSample = inputGaps.length ? median(inputGaps) / mb : 0;

  // Link: the sender's SEND is the bandwidth part; a RECV of a tensor that had already arrived is the latency part.
  // A RECV that started before its SEND did waited for it: what it took beyond the transfer is the receiver's wake-up.
  if (sends.length) {
    const rates = sends.filter((x) => x.dur > 0 && x.bytes > 0).map((x) => x.bytes / x.dur);
    const bytesPerMs = rates.length ? median(rates) : NO_LINK_BYTES_PER_MS;
    const sendOf = new Map(sends.map((x) => [x.key, x]));
    const arrived: number[] = [];
    const waited: { start: number; end: number; bytes: number }[] = [];
    for (const r of recvs) {
      const x = sendOf.get(r.key);
      if (!x) continue;
      if (x.start + x.dur <= r.start) arrived.push(r.dur);
      else if (x.start > r.start) waited.push({ start: x.start, end: r.start + r.dur, bytes: x.bytes });
    }
    const latencyMs = arrived.length ? median(arrived) : recvs.length ? Math.min(...recvs.map((r) => r.dur)) : 0;
    const wakeMs = waited.length ? Math.max(0, median(waited.map((w) => w.end - w.start - w.bytes / bytesPerMs - latencyMs))) : 0;
    c.link = { latencyMs, bytesPerMs, wakeMs };
  }

  // Replica link: all-reduce hops (send to received and applied) against their bytes; codecs per byte of float32 input.
  const hops: { bytes: number; ms: number }[] = [];
  const codec = { c: { ms: 0, bytes: 0 }, d: { ms: 0, bytes: 0 } };
  for (let i = 0; i < t.length; i++) {
    if (!use.has(t.step[i])) continue;
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
    if (c.link.bytesPerMs < NO_LINK_BYTES_PER_MS) {
      const bw = c.link.bytesPerMs;
      c.reduceLink = { latencyMs: Math.max(0, typical(hops.map((h) => h.ms - h.bytes / bw))), bytesPerMs: bw };
    } else {
      const line = fitLine(hops.map((h) => h.bytes), hops.map((h) => h.ms));
      if (line) c.reduceLink = { latencyMs: line.b, bytesPerMs: 1 / line.a };
    }
  }
  if (codec.c.bytes > 0 && codec.d.bytes > 0) {
    const perByte = codec.c.ms / codec.c.bytes + codec.d.ms / codec.d.bytes;
    c.codecMsPerByte = { fp16: perByte, int8: perByte };
  }


  // The barrier: a step's start to its first op, its last OPT to its end.
  const gaps = measured.steps.filter((st) => use.has(st.step) && span.has(st.step)).map((st) => {
    const w = span.get(st.step)!;
    return { start: w.first - st.startUs / 1000, end: st.endUs / 1000 - w.lastOpt };
  });
  const ends = gaps.map((g) => g.end).filter(Number.isFinite); // no OPT op (a PyTorch trace): no end gap to measure
  if (gaps.length) c.stepOverhead = { startMs: Math.max(0, median(gaps.map((g) => g.start))), endMs: ends.length ? Math.max(0, median(ends)) : 0 };

  // Optimizer: per-stage OPT time against the stage's weight bytes.
  const opt = fitLine(workerParamBytes, typ.OPT);
  const allZero = workerParamBytes.every((p) => p === 0);
  c.opt = allZero || !opt ? { fixedMs: median(typ.OPT), msPerParamByte: 0 } : { fixedMs: opt.b, msPerParamByte: opt.a };

  // Memory: measured peak per stage minus weights and predicted activations = base + state × weights.
  const peaks = Array.from({ length: S }, () => -Infinity);
  for (const m of measured.memory) if (m.stage < S && m.bytes > peaks[m.stage]) peaks[m.stage] = m.bytes;
  if (peaks.every((p) => Number.isFinite(p))) {
    const bare = predictedPeakMemory({ plan, batch, costs: c });
    const resid = peaks.map((p, s) => p - bare[s]);
    const distinct = new Set(workerParamBytes).size > 1;
    let state: number;
    let base: number;
    if (allZero) {
      state = 0;
      base = Math.max(0, median(resid));
    } else if (distinct) {
      const n = S;
      const mx = workerParamBytes.reduce((a, b) => a + b, 0) / n;
      const my = resid.reduce((a, b) => a + b, 0) / n;
      const sxy = workerParamBytes.reduce((a, p, s) => a + (p - mx) * (resid[s] - my), 0);
      const sxx = workerParamBytes.reduce((a, p) => a + (p - mx) ** 2, 0);
      state = sxy / sxx;
      base = my - state * mx;
      if (state < 0) [state, base] = [0, Math.max(0, my)];
      else if (base < 0) [state, base] = [Math.max(0, workerParamBytes.reduce((a, p, s) => a + p * resid[s], 0) / workerParamBytes.reduce((a, p) => a + p * p, 0)), 0];
    } else {
      // Equal weights on every stage cannot separate a base from optimizer state: all of it goes to the state.
      state = Math.max(0, workerParamBytes.reduce((a, p, s) => a + p * resid[s], 0) / workerParamBytes.reduce((a, p) => a + p * p, 0));
      base = 0;
    }
    c.memory = { baseBytes: base, stateBytesPerParamByte: state };
  }
  return c;
}
