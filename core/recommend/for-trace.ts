// Recommendations for a measured run: calibrate the timing model on its Timeline, then search and rank plans.
import { UsageError } from '../config/errors';
import { calibrate } from '../simulate/calibrate';
import type { CostModel } from '../simulate/cost-model';
import type { Timeline } from '../trace/timeline';
import { OP } from '../trace/timeline';
import type { Plan } from '../plan/types';
import { rankTraced, recommend } from './recommend';
import { median } from '../analysis/utilization';
import type { RankedPlan } from './recommend';

/** Median wall time of the measured (non-warm-up) steps, ms. */
export function measuredStepMs(t: Timeline): number | undefined {
  const ms = t.steps.filter((s) => !s.warmup).map((s) => (s.endUs - s.startUs) / 1000);
  return ms.length ? median(ms) : undefined;
}

/** Units of work a PyTorch pipeline's traced micro-batch is split into, so the search may try up to this many times its micro-batches. */
export const KINETO_UNITS_PER_MICROBATCH = 8;

/**
 * A PyTorch pipeline run (imported with its PP: annotations) as the recommender can take it: its per-layer costs are
 * unknown, so each stage is one unit of work whose forward and backward are the stage's measured ops, and the
 * minibatch is its micro-batches × KINETO_UNITS_PER_MICROBATCH units (cost linear in units). The search can then choose
 * the micro-batch count and the schedule, not the balance.
 */
export function kinetoAsRecommendable(t: Timeline): Timeline {
  if (t.origin !== 'kineto' || !t.plan) return t;
  const S = t.stages;
  const unit = KINETO_UNITS_PER_MICROBATCH;
  const sent = new Float64Array(S);
  const count = new Float64Array(S);
  for (let i = 0; i < t.ops.length; i++)
    if (t.ops.kind[i] === OP.SEND && t.ops.peer[i] === t.ops.stage[i] + 1) {
      sent[t.ops.stage[i]] += t.ops.bytes[i];
      count[t.ops.stage[i]]++;
    }
  const layers = Array.from({ length: S }, (_, s) => ({
    name: `stage ${s}`, kind: 'dense' as const, params: 0, flops: 0, activationBytes: count[s] ? sent[s] / count[s] / unit : 0,
  }));
  return { ...t, layers, layerCosts: [], batch: t.plan.microbatches * unit, plan: { ...t.plan, balance: new Array<number>(S).fill(1), chunks: undefined } };
}

/** The stages' solved costs behind a --layers repartition: per block, and the first and last stages' extra work, ms per micro-batch (F + B). */
export interface LayerSolve {
  blockMs: number;
  firstExtraMs: number;
  lastExtraMs: number;
  /** Each stage's measured F + B per micro-batch, ms. */
  stageMs: number[];
}

/**
 * A PyTorch pipeline with `layers` identical blocks per stage (--layers 2,8,8,2), as the recommender can repartition it.
 * Each stage's measured F + B per micro-batch is its blocks × one block's cost, plus, on the first stage, the embedding
 * and, on the last, the head and loss: the block cost is solved from the middle stages (all blocks, no extra work), the
 * first and last stages' extra work as what remains of their time. The model becomes [embedding, blocks…, head] (the
 * extras as their own layers, pinned to the first and last stage by contiguity) with costs as FLOPs, so calibration
 * splits each stage's measured time by them; the recommender then moves blocks between stages.
 */
export function kinetoWithLayers(t: Timeline, layers: number[], file: string): { timeline: Timeline; solve: LayerSolve } {
  if (t.origin !== 'kineto' || !t.plan)
    throw new UsageError([`--layers ${layers.join(',')}: describes the blocks of an imported PyTorch pipeline, and ${file} is ${t.origin === 'kineto' ? 'no pipeline' : 'a pipeprof trace (its layers are known)'}; drop --layers`]);
  const S = t.stages;
  if (layers.length !== S || !layers.every((n) => Number.isInteger(n) && n >= 0))
    throw new UsageError([`--layers must give one block count ≥ 0 per stage: the trace has ${S} stages (got ${layers.join(',')}); e.g. --layers ${new Array(S).fill(4).join(',')}`]);
  const middle = layers.map((n, s) => (s > 0 && s < S - 1 && n > 0 ? s : -1)).filter((s) => s >= 0);
  if (!middle.length)
    throw new UsageError([`--layers ${layers.join(',')}: the block cost is solved from the middle stages (all blocks, no embedding or head), and this pipeline has none with blocks (${S} stages); repartition needs 3 or more stages`]);
  const slots = new Set(t.steps.filter((x) => !x.warmup).map((x) => x.step));
  const sum = new Float64Array(S);
  const count = new Float64Array(S);
  for (let i = 0; i < t.ops.length; i++) {
    const k = t.ops.kind[i];
    if ((k !== OP.F && k !== OP.B && k !== OP.W) || t.ops.replica[i] !== 0 || !slots.has(t.ops.step[i])) continue;
    sum[t.ops.stage[i]] += t.ops.dur[i] / 1000;
    if (k === OP.F) count[t.ops.stage[i]]++;
  }
  const stageMs = Array.from(sum, (x, s) => (count[s] ? x / count[s] : 0));
  const blockMs = middle.reduce((a, s) => a + stageMs[s], 0) / middle.reduce((a, s) => a + layers[s], 0);
  const firstExtraMs = Math.max(0, stageMs[0] - layers[0] * blockMs);
  const lastExtraMs = Math.max(0, stageMs[S - 1] - layers[S - 1] * blockMs);
  const base = kinetoAsRecommendable(t);
  const act = base.layers.map((l) => l.activationBytes);
  const unitFlops = 1e9; // per ms
  const model: Timeline['layers'] = [];
  if (firstExtraMs > 0) model.push({ name: 'embedding (first stage extra)', kind: 'dense', params: 0, flops: firstExtraMs * unitFlops, activationBytes: act[0] });
  layers.forEach((n, s) => {
    for (let i = 0; i < n; i++) model.push({ name: `block ${model.length - (firstExtraMs > 0 ? 1 : 0)}`, kind: 'dense', params: 0, flops: blockMs * unitFlops, activationBytes: act[Math.min(s, act.length - 1)] });
  });
  if (lastExtraMs > 0) model.push({ name: 'head + loss (last stage extra)', kind: 'dense', params: 0, flops: lastExtraMs * unitFlops, activationBytes: act[S - 1] });
  const balance = layers.map((n, s) => n + (s === 0 && firstExtraMs > 0 ? 1 : 0) + (s === S - 1 && lastExtraMs > 0 ? 1 : 0));
  const empty = balance.findIndex((b) => b === 0);
  if (empty >= 0) throw new UsageError([`--layers ${layers.join(',')}: stage ${empty} has no block and no extra work to place; every stage holds at least one layer`]);
  return { timeline: { ...base, layers: model, plan: { ...base.plan!, balance } }, solve: { blockMs, firstExtraMs, lastExtraMs, stageMs } };
}

/** A balance in the engines' terms: Megatron's first and last stage layer counts, torch split points, DeepSpeed parts. */
export function engineTerms(balance: number[], solve: LayerSolve): { megatron: string; torch: string; deepspeed: string } {
  const blocks = balance.map((b, s) => b - (s === 0 && solve.firstExtraMs > 0 ? 1 : 0) - (s === balance.length - 1 && solve.lastExtraMs > 0 ? 1 : 0));
  const bounds = blocks.reduce((acc, b) => [...acc, acc[acc.length - 1] + b], [0]);
  return {
    megatron: `--decoder-first-pipeline-num-layers ${blocks[0]} --decoder-last-pipeline-num-layers ${blocks[blocks.length - 1]}${new Set(blocks.slice(1, -1)).size > 1 ? ` (middle stages ${blocks.slice(1, -1).join(',')}: Megatron splits the middle evenly)` : ''}`,
    torch: `split points ${bounds.slice(1, -1).map((b) => `layers.${b}`).join(', ')} (pipeline(..., split_spec={...: SplitPoint.BEGINNING}))`,
    deepspeed: `PipelineModule(partition_method='custom') parts [${bounds.join(', ')}] (block indices; embedding before, head after)`,
  };
}

/** Ranked plans for the traced run, best first; a trace that cannot be calibrated gives a UsageError naming `file`. */
export function recommendForTrace(
  timeline: Timeline,
  file: string,
  opts: { stages?: number; workers?: number; memoryLimitBytes?: number; top?: number; layers?: number[] } = {},
): { plans: RankedPlan[]; measuredMs: number | undefined; costs: CostModel; traced: Plan; tracedRanked: RankedPlan; tracedShapeOnly: boolean; solve?: LayerSolve } {
  let solve: LayerSolve | undefined;
  if (opts.layers) ({ timeline, solve } = kinetoWithLayers(timeline, opts.layers, file));
  else timeline = kinetoAsRecommendable(timeline);
  if (!timeline.plan && timeline.origin === 'kineto')
    throw new UsageError([
      `${file}: a PyTorch profiler trace with no pipeline (one row per rank: no rank feeds another through point-to-point kernels), so there are no stages to rebalance; pass the traces of every rank of a pipeline-parallel job`,
    ]);
  if (!timeline.plan) throw new UsageError([`${file}: the trace has no plan in its pipeprof block; capture it with pipeprof capture`]);
  if (!timeline.batch) throw new UsageError([`${file}: the trace does not record its batch size (pipeprof.run.batch); capture it with pipeprof capture`]);
  const measuredMs = measuredStepMs(timeline);
  let costs: CostModel;
  try {
    costs = calibrate(timeline);
  } catch (e) {
    throw new UsageError([`${file}: ${(e as Error).message}`]);
  }
  // Without the probe nothing is known of other sizes or of layers on other stages: only the traced shape is searched.
  const tracedShapeOnly = timeline.origin !== 'kineto' && !costs.fit?.probed;
  const input = {
    tracedShapeOnly,
    costs, layers: timeline.layers, batch: timeline.batch, traced: timeline.plan,
    stages: opts.stages, workers: opts.workers, memoryLimitBytes: opts.memoryLimitBytes, top: opts.top, model: timeline.model ?? undefined,
  };
  return { plans: recommend(input), measuredMs, costs, traced: timeline.plan, tracedRanked: rankTraced(input), tracedShapeOnly, ...(solve ? { solve } : {}) };
}
