// The simulator's cost model: per-layer op times by micro-batch size, link, optimizer and memory terms, and the time of each kind of op.
import type { AllReduceAlgo, Compression } from '../plan/types';
import type { SharedGpu } from './shared-gpu';

/** Everything the simulator needs to time a plan; `calibrate` fits it to a measured trace. */
export interface CostModel {
  /** Model order. `points` sorted by size; `activationBytesPerSample` is the layer's output, `flops` its forward FLOPs per sample. */
  layers: {
    name: string;
    /** `inputGradMs` / `weightGradMs`: the split backward's halves (zb-h1's B and W); absent: the backward split by weights (half each, all B without weights). */
    points: { size: number; forwardMs: number; backwardMs: number; inputGradMs?: number; weightGradMs?: number }[];
    savedBytesPerSample: number;
    /** What the split backward's B keeps for W (zb-h1), per sample; absent: dL/dy of the output when the layer has weights. */
    pendingBytesPerSample?: number;
    paramBytes: number;
    activationBytesPerSample: number;
    flops: number;
    /** The layer's share of its stage's optimizer update (OPT), ms; absent: `opt.msPerParamByte` × its weight bytes. */
    optMs?: number;
  }[];
  /** Fixed cost per compute op (F, B, R) beyond its layers, in probe milliseconds (scaled by `computeScale` like the layers). */
  opOverheadMs: number;
  /**
   * Point-to-point transfer = latency + bytes / bytesPerMs, from the start of the SEND to the tensor being usable.
   * The sender is busy for the bandwidth part (its SEND); the receiver for the latency part (its RECV, even when the tensor is already there).
   * `wakeMs` (optional, 0 when absent): extra delay when the receiver was already waiting, i.e. asleep in its event loop.
   * `deliveryMs` + bytes × `deliveryMsPerByte` (optional): from a SEND's start to the tensor usable by a receiver already
   * waiting, as measured; it replaces the SEND's end + latency + wake-up, which need not bound it (a worker's message can arrive while the
   * sender is still in its SEND).
   */
  link: { latencyMs: number; bytesPerMs: number; wakeMs?: number; deliveryMs?: number; deliveryMsPerByte?: number };
  /** Optimizer update per stage (it includes the runtime's one-sample weight re-pack): fixed + per byte of the stage's weights. */
  opt: { fixedMs: number; msPerParamByte: number };
  /** Fitted correction of probe times to in-pipeline times. */
  computeScale: number;
  /**
   * What remains per kind of op after `computeScale` (a forward and a backward do not slow down alike next to the
   * other workers): the calibration trace's measured sum of the kind over its predicted sum. Absent: 1.
   */
  kindScale?: Partial<Record<ComputeKind, number>>;
  /**
   * Memory of a stage besides in-flight activations: baseBytes + weights × (1 + stateBytesPerParamByte)
   * (state = optimizer slots and gradients, per byte of weights).
   */
  memory: { baseBytes: number; stateBytesPerParamByte: number };
  /** Optional: the loss and its gradient, computed inside the last stage's F (not its R), ms per sample; 0 when absent. */
  lossMsPerSample?: number;
  /** Optional, in place of lossMsPerSample: the loss's time at each micro-batch size (from the probe, at the run's level). */
  loss?: { size: number; ms: number }[];
  /** Optional: the step barrier, from a step's start to its stages starting and from the last OPT to the step's end; 0 when absent. */
  stepOverhead?: { startMs: number; endMs: number };
  /** Optional: a B after the stage's first of the step adds its weight gradients to the accumulated ones: ms per byte of the stage's weights. */
  gradAccumMsPerParamByte?: number;
  /** Optional: the first stage makes each micro-batch's input before its F (untraced, so a gap before F), ms per sample. */
  inputMsPerSample?: number;
  /** Optional: cores the stage workers share (the host's); more stages computing at once than this run slower. Unlimited when absent. */
  cores?: number;
  /** Optional: one GPU the stage workers share (webgpu); more of them computing at once than its concurrency run slower (shared-gpu.ts). */
  sharedGpu?: SharedGpu;
  /** Optional: the link between replicas of a stage, one all-reduce hop = latency + bytes / bytesPerMs. Absent: `link`. */
  reduceLink?: { latencyMs: number; bytesPerMs: number };
  /** Optional: compress + decompress time per float32 byte, by codec; 0 when absent. */
  codecMsPerByte?: { fp16: number; int8: number };
  /**
   * Optional: how much workers computing at once slow each other (shared memory bandwidth and caches): with n workers
   * computing, each runs at 1 / (1 + contention × (n − 1)) of its own speed (and at most cores / n of a core). 0 when absent.
   */
  contention?: number;
  /** Optional: how well the calibration fits its trace, for the interval of each prediction (see uncertainty.ts). */
  fit?: CalibrationFit;
}

/** What a calibration knows of its own error: the traced run's spread, the fit's residuals, and where it was measured. */
export interface CalibrationFit {
  /** Samples per micro-batch (per replica) of the traced plan: the size the run's own ops anchor. */
  tracedSamples: number;
  /** The traced plan: predictions of other balances, schedules or sizes add the shape error. */
  tracedBalance: number[];
  /** Relative spread of the traced run's measured step times (robust standard deviation / median). */
  stepSpread: number;
  /** Measured steps behind the calibration. */
  steps: number;
  /** |predicted − measured| / measured of the traced plan's step time under the fitted model. */
  residual: number;
  /**
   * How far the probe's relative costs disagree with the run's (the robust spread of per-stage, per-kind ratios of
   * measured to probed time): the error of moving work between stages or to another micro-batch size, per doubling.
   */
  shapeSpread: number;
  /** The probe's own noise: the robust spread (log) of its times around a smooth curve in size (0 without a curve of three sizes). */
  probeNoise?: number;
  /** Whether the trace had the per-layer probe (without it, no other size or balance can be predicted). */
  probed: boolean;
}

/** Bytes on the wire per float32 byte. */
const WIRE = { none: 1, fp16: 0.5, int8: 0.25 } as const;

/**
 * One all-reduce of `bytes` of float32 gradients among R replicas. Ring: 2(R−1) hops of one chunk (bytes / R) each;
 * naive: R−1 gathers at replica 0, then R−1 sends back, each of the whole buffer, one after another. Compression
 * shrinks the wire bytes and adds its codec time on every hop's chunk.
 */
export function allReduceMs(c: CostModel, bytes: number, R: number, algo: AllReduceAlgo, compress: Compression): number {
  if (R <= 1 || bytes <= 0) return 0;
  const link = c.reduceLink ?? c.link;
  const codec = compress === 'none' ? 0 : (c.codecMsPerByte?.[compress] ?? 0);
  const hop = (b: number) => link.latencyMs + (b * WIRE[compress]) / link.bytesPerMs + b * codec;
  return algo === 'ring' ? 2 * (R - 1) * hop(bytes / R) : 2 * (R - 1) * hop(bytes);
}

/** Parameter server: every replica pushes its gradients over the server's one link, the server updates, and sends the weights back. */
export function parameterServerMs(c: CostModel, bytes: number, R: number, compress: Compression, updateMs: number): number {
  if (bytes <= 0) return updateMs;
  const link = c.reduceLink ?? c.link;
  const codec = compress === 'none' ? 0 : (c.codecMsPerByte?.[compress] ?? 0);
  return 2 * link.latencyMs + (R * bytes * WIRE[compress]) / link.bytesPerMs + R * bytes * codec + updateMs + (R * bytes) / link.bytesPerMs;
}

/** Kinds of compute time: F (and R, which repeats it), B (the whole backward), and the split backward's I (dx) and W (dW). */
export type ComputeKind = 'F' | 'B' | 'R' | 'I' | 'W';

/** A probe point's time of `kind`; the split halves default to the backward shared by whether the layer has weights. */
function pointMs(p: CostModel['layers'][number]['points'][number], kind: ComputeKind, hasWeights: boolean): number {
  if (kind === 'F' || kind === 'R') return p.forwardMs;
  if (kind === 'B') return p.backwardMs;
  const half = hasWeights ? 0.5 : kind === 'I' ? 1 : 0;
  return kind === 'I' ? (p.inputGradMs ?? p.backwardMs * half) : (p.weightGradMs ?? p.backwardMs * half);
}

/** One layer's time of `kind` at `samples`, interpolated piecewise-linearly in size. */
export function layerMs(c: CostModel, layer: number, kind: ComputeKind, samples: number): number {
  const pts = c.layers[layer].points;
  const w = c.layers[layer].paramBytes > 0;
  return interpolate(pts, (i) => pointMs(pts[i], kind, w), samples);
}

/** The loss and its gradient on a micro-batch of `samples`, inside the last stage's F. */
export function lossMs(c: CostModel, samples: number): number {
  const pts = c.loss;
  return pts?.length ? interpolate(pts, (i) => pts[i].ms, samples) : (c.lossMsPerSample ?? 0) * samples;
}

/** Piecewise-linear in size through points sorted by size (one point: proportional), extrapolated along the end segments, never below 0. */
function interpolate(pts: readonly { size: number }[], y: (i: number) => number, samples: number): number {
  const n = pts.length;
  if (n === 0) return 0;
  if (n === 1) return pts[0].size > 0 ? (y(0) * samples) / pts[0].size : y(0);
  // The segment holding `samples`, or the first/last one to extrapolate along.
  let i = 0;
  while (i < n - 2 && samples > pts[i + 1].size) i++;
  const x0 = pts[i].size;
  const x1 = pts[i + 1].size;
  const y0 = y(i);
  const y1 = y(i + 1);
  const v = x1 === x0 ? y0 : y0 + ((y1 - y0) * (samples - x0)) / (x1 - x0);
  return Math.max(0, v);
}

/**
 * The fitted scale of a kind of op: its own, else R follows F, B takes the mean of I and W, and I or W takes B's
 * (a trace calibrates the kinds it ran).
 */
export function kindScaleOf(c: CostModel, kind: ComputeKind): number {
  const s = c.kindScale;
  if (!s) return 1;
  if (s[kind] !== undefined) return s[kind]!;
  if (kind === 'R') return s.F ?? 1;
  if (kind === 'B') return s.I !== undefined && s.W !== undefined ? (s.I + s.W) / 2 : 1;
  return s.B ?? 1;
}

/** A stage's compute op over `layers` (model indices) at `samples`: (sum of layers + overhead) × computeScale × the kind's scale. */
export function stageOpMs(c: CostModel, layers: number[], kind: ComputeKind, samples: number): number {
  let sum = 0;
  for (const l of layers) sum += layerMs(c, l, kind, samples);
  return (sum + c.opOverheadMs) * c.computeScale * kindScaleOf(c, kind);
}

/** SEND start to tensor ready at the receiver. */
export function transferMs(c: CostModel, bytes: number): number {
  return c.link.latencyMs + bytes / c.link.bytesPerMs;
}

/** One layer's share of the optimizer update. */
export function layerOptMs(c: CostModel, layer: number): number {
  const l = c.layers[layer];
  return l.optMs ?? c.opt.msPerParamByte * l.paramBytes;
}

/** The optimizer update (OPT) of a stage holding `layers`. */
export function optMs(c: CostModel, layers: number[]): number {
  let ms = c.opt.fixedMs;
  for (const l of layers) ms += layerOptMs(c, l);
  return ms;
}
