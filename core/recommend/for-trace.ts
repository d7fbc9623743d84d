// Recommendations for a measured run: calibrate the timing model on its Timeline, then search and rank plans.
import { UsageError } from '../config/errors';
import { calibrate } from '../simulate/calibrate';
import type { CostModel } from '../simulate/cost-model';
import type { Timeline } from '../trace/timeline';
import { OP } from '../trace/timeline';
import type { Plan } from '../schedule/types';
import { recommend } from './recommend';
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

/** Ranked plans for the traced run, best first; a trace that cannot be calibrated gives a UsageError naming `file`. */
export function recommendForTrace(
  timeline: Timeline,
  file: string,
  opts: { stages?: number; workers?: number; memoryLimitBytes?: number; top?: number } = {},
): { plans: RankedPlan[]; measuredMs: number | undefined; costs: CostModel; traced: Plan } {
  timeline = kinetoAsRecommendable(timeline);
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
  const plans = recommend({
    costs, layers: timeline.layers, batch: timeline.batch, traced: timeline.plan, measuredStepMs: measuredMs,
    stages: opts.stages, workers: opts.workers, memoryLimitBytes: opts.memoryLimitBytes, top: opts.top, model: timeline.model ?? undefined,
  });
  return { plans, measuredMs, costs, traced: timeline.plan };
}
