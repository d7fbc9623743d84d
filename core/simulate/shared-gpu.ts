// One GPU shared by the stage workers (webgpu: a Dawn device each): how many workers' ops it runs at full speed at once, fitted from a run.
import type { Timeline } from '../trace/timeline';
import { OP } from '../trace/timeline';
import type { CostModel, ComputeKind } from './cost-model';
import { layerMs } from './cost-model';
import { median } from '../analysis/utilization';

/**
 * The GPU the workers share. `concurrency`: how many workers computing at once it runs at full speed (1: they take
 * turns, as contexts time-slice a GPU whose kernels fill it; more when each worker's kernels leave it partly idle).
 * With k workers computing, each op progresses at min(1, concurrency / k) of its own speed.
 */
export interface SharedGpu {
  adapter: string;
  concurrency: number;
  /** Whether `concurrency` was fitted from overlapping ops (two or more workers on the GPU), or assumed (1). */
  fitted: boolean;
}

/** The compute slots the simulator's shared replay splits among workers computing at once: the host's cores, and at most the shared GPU's concurrency. */
export function computeSlots(c: Pick<CostModel, 'cores' | 'sharedGpu'>): number {
  return Math.min(c.cores ?? Infinity, c.sharedGpu?.concurrency ?? Infinity);
}

/** Concurrencies tried by the fit: 1 to the workers on the GPU, in steps of 0.05. */
const STEP = 0.05;
/** Compute ops the fit looks at, at most. */
const MAX_ROWS = 4000;

/**
 * Fits the shared GPU of a measured run (null when its workers ran on no GPU): each compute op's work is its probe
 * time (the probe runs one worker at a time, alone on the GPU) times one scale; the op took longer by how much of the
 * GPU it had, min(1, c / workers computing), averaged over its span. The c whose shares best explain the measured
 * durations (least squares in log time) is kept. A run with one worker sees no sharing: c = 1 is assumed.
 */
export function fitSharedGpu(t: Timeline): SharedGpu | null {
  const gpu = t.host?.gpu;
  if (!gpu) return null;
  const assumed: SharedGpu = { adapter: gpu.adapter, concurrency: 1, fitted: false };
  const plan = t.plan;
  if (!plan || !t.batch || gpu.devices < 2 || !t.layerCosts.length) return assumed;
  const V = plan.balance.length;
  const S = V / (plan.chunks ?? 1);
  const mb = t.batch / plan.microbatches / Math.max(1, plan.replicas ?? 1);
  const probe = new Map(t.layerCosts.map((c) => [c.layer, c]));
  if (!t.layers.every((l) => probe.has(l.name))) return assumed;
  const model: CostModel = {
    layers: t.layers.map((l) => ({ name: l.name, points: probe.get(l.name)!.points.slice().sort((a, b) => a.size - b.size), savedBytesPerSample: 0, paramBytes: probe.get(l.name)!.paramBytes, activationBytesPerSample: l.activationBytes, flops: l.flops })),
    opOverheadMs: 0, link: { latencyMs: 0, bytesPerMs: 1 }, opt: { fixedMs: 0, msPerParamByte: 0 }, computeScale: 1, memory: { baseBytes: 0, stateBytesPerParamByte: 0 },
  };
  const first: number[] = [];
  plan.balance.reduce((n, b) => (first.push(n), n + b), 0);
  const probeMs = (vs: number, kind: ComputeKind) => Array.from({ length: plan.balance[vs] }, (_, i) => layerMs(model, first[vs] + i, kind, mb)).reduce((a, b) => a + b, 0);
  const split = plan.schedule === 'zb-h1';
  const kindOf: Record<number, ComputeKind> = { [OP.F]: 'F', [OP.R]: 'R', [OP.B]: split ? 'I' : 'B', [OP.W]: 'W' };
  const measured = new Set(t.steps.filter((s) => !s.warmup).map((s) => s.step));
  const use = (i: number) => measured.size === 0 || measured.has(t.ops.step[i]);
  const { ops } = t;
  // Workers computing on the GPU (compute ops and OPT) as a step function of time.
  const edges: [number, number][] = [];
  for (let i = 0; i < ops.length; i++)
    if (use(i) && (ops.kind[i] in kindOf || ops.kind[i] === OP.OPT) && ops.dur[i] > 0) edges.push([ops.start[i], 1], [ops.start[i] + ops.dur[i], -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const at: number[] = [];
  const n: number[] = [];
  let k = 0;
  for (const [x, d] of edges) {
    k += d;
    if (at.length && at[at.length - 1] === x) n[n.length - 1] = k;
    else {
      at.push(x);
      n.push(k);
    }
  }
  /** Op i's mean share of the GPU over its span at concurrency c. */
  const share = (i: number, c: number): number => {
    const a = ops.start[i];
    const b = a + ops.dur[i];
    // The last change at or before the op's start (binary search), then forward to its end.
    let lo = 0;
    let hi = at.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (at[mid] <= a) lo = mid;
      else hi = mid - 1;
    }
    let sum = 0;
    for (let j = lo; j < at.length && at[j] < b; j++) {
      const x0 = Math.max(a, at[j]);
      const x1 = Math.min(b, j + 1 < at.length ? at[j + 1] : b);
      if (x1 > x0) sum += (x1 - x0) * Math.min(1, c / Math.max(1, n[j]));
    }
    return sum / (b - a);
  };
  const rows: { i: number; p: number }[] = [];
  for (let i = 0; i < ops.length; i++) {
    const kind = kindOf[ops.kind[i]];
    if (!kind || !use(i) || !(ops.dur[i] > 0)) continue;
    const vs = (ops.chunk[i] > 0 ? ops.chunk[i] : 0) * S + ops.stage[i];
    const p = vs < V ? probeMs(vs, kind) : 0;
    if (p > 0) rows.push({ i, p });
  }
  if (rows.length < 2) return assumed;
  // A long run's ops, evenly thinned: enough to fit one number (a simulated 8-stage run of 141,600 ops: 4.0 s unthinned, 0.46 s thinned, same fit).
  const stride = Math.ceil(rows.length / MAX_ROWS);
  const sample = rows.filter((_, j) => j % stride === 0);
  let best = { c: 1, err: Infinity };
  for (let c = 1; c <= gpu.devices + 1e-9; c += STEP) {
    const logs = sample.map(({ i, p }) => Math.log((ops.dur[i] * share(i, c)) / p));
    const scale = median(logs);
    const err = logs.reduce((e, x) => e + (x - scale) ** 2, 0);
    if (err < best.err - 1e-12) best = { c, err };
  }
  return { adapter: gpu.adapter, concurrency: Number(best.c.toFixed(2)), fitted: true };
}
