// Plan search: micro-batch counts, schedules, recompute modes and DP balances, each simulated and ranked by predicted step time under a memory limit.
import type { CostModel } from '../simulate/cost-model';
import { kindScaleOf, layerMs, layerOptMs, lossMs, transferMs } from '../simulate/cost-model';
import { simulate, stageBytes } from '../simulate/simulate';
import { predictionOf } from '../simulate/uncertainty';
import type { LayerSummary } from '../model/types';
import type { Plan, RecomputeMode, ScheduleName, SyncConfig, SyncMode } from '../plan/types';
import { checkChunks } from '../plan/check';
import { DEFAULT_SYNC } from '../plan/types';
import { buildSchedule } from '../schedule';
import { recomputes } from '../schedule/recompute';
import type { Timeline } from '../trace/timeline';
import { median, utilization } from '../analysis/utilization';
import { uniformBalance, neighbourBalances, optimalPartition, divisors } from '../plan/partition';
import { UsageError } from '../config/errors';
import type { PartitionInput } from '../plan/partition';
import { formatBytes } from '../text';

export interface RecommendInput {
  costs: CostModel;
  layers: LayerSummary[];
  /** Samples per minibatch; micro-batch counts are its divisors. */
  batch: number;
  /** The plan the trace ran: its stage count is the default, and speedups are against it. */
  traced: Plan;
  stages?: number;
  /**
   * Workers to use in all (stages × replicas): the search then also chooses the replica count R (S = workers / R) and
   * the sync mode of the replicas. Without it, plans keep one replica.
   */
  workers?: number;
  /** Sync modes the search may choose with replicas (default: step and layerwise; pipelined changes the optimizer's semantics: its updates are one step stale). */
  syncModes?: readonly SyncMode[];
  memoryLimitBytes?: number;
  /**
   * Search only the traced balance and micro-batch count (schedules and recompute modes): a trace without the
   * per-layer probe says nothing of other sizes or of layers on other stages.
   */
  tracedShapeOnly?: boolean;
  /** Plans returned, best first (default 5). */
  top?: number;
  /** Metadata for the simulated timelines. */
  model?: { name: string; options: Record<string, number | string>; loss?: string };
}

export interface RankedPlan {
  balance: number[];
  microbatches: number;
  schedule: ScheduleName;
  recompute: RecomputeMode;
  replicas: number;
  /** interleaved-1f1b: model chunks per stage (balance then lists S × chunks virtual stages). */
  chunks?: number;
  /** With replicas: how they combine gradients. */
  sync?: SyncConfig;
  predictedStepTimeMs: number;
  /** Half-width of the prediction's interval, as a share of it (predictionOf: the run's spread, the fit, the distance from the traced plan). */
  intervalRelative: number;
  /** Simulated step time of the traced plan over this plan's, both with the same cost model. */
  speedup: number;
  /** Whether the gain over the traced plan is larger than the prediction's interval (else the two are within noise). */
  faster: boolean;
  peakMemoryBytes: number;
  bubbleFraction: number;
  /** Layers per stage, stages joined by '|': `E,3|3,H` for a transformer (E embedding, H head), `3|3|2` otherwise. */
  layout: string;
}

/** The plan a ranked plan stands for: what Apply writes, verify runs and Preview replays (chunks and sync included). */
export const planOfRanked = (p: RankedPlan): Plan => ({
  balance: p.balance, microbatches: p.microbatches, schedule: p.schedule, recompute: p.recompute, replicas: p.replicas,
  ...(p.chunks ? { chunks: p.chunks } : {}), ...(p.sync ? { sync: p.sync } : {}),
});

/** Recompute modes the search tries, cheapest first. */
export const SEARCH_RECOMPUTE: readonly RecomputeMode[] = ['never', 'except-last', 'always'];

/** `E,3|3,H` for a transformer (embedding first, LM head last, blocks counted), `3|3|2` for any other model. */
export function layoutString(balance: readonly number[], layers: readonly LayerSummary[]): string {
  const L = layers.length;
  const transformer = L >= 2 && layers[0].kind === 'embedding' && layers[L - 1].kind === 'lm-head';
  if (!transformer) return balance.join('|');
  const parts: string[] = [];
  let first = 0;
  for (const n of balance) {
    const end = first + n;
    const cell: string[] = [];
    if (first === 0) cell.push('E');
    const blocks = Math.min(end, L - 1) - Math.max(first, 1);
    if (blocks > 0) cell.push(String(blocks));
    if (end === L) cell.push('H');
    parts.push(cell.join(','));
    first = end;
  }
  return parts.join('|');
}

/** Median step time of a timeline, ms (measured steps when there are any, else all). */
export function stepTimeMs(t: Timeline): number {
  const measured = t.steps.filter((s) => !s.warmup);
  const steps = measured.length ? measured : t.steps;
  if (!steps.length) throw new Error('internal: the simulated timeline has no steps');
  return median(steps.map((s) => (s.endUs - s.startUs) / 1000));
}

/** Highest memory sample of any stage, bytes. */
export function peakMemory(t: Timeline): number {
  let peak = 0;
  for (const m of t.memory) if (m.bytes > peak) peak = m.bytes;
  return peak;
}

/** Mean over stages of the share of the measured steps in which a stage runs no compute op (as `pipeprof report` counts it). */
export function bubbleFraction(t: Timeline): number {
  return utilization(t).bubbleFraction;
}

/**
 * Per-stage peak bytes for the DP, exactly as the simulator counts them: weights and optimizer state, plus the most
 * activations the stage's op order ever holds. Walking the schedule once gives, per stage, the (kept, input-only,
 * pending-for-W) micro-batch counts at each op; a stage's peak is then the largest of those combinations of its own byte sizes.
 */
export function stageBytesModel(c: CostModel, plan: Pick<Plan, 'microbatches' | 'schedule' | 'recompute'> & { stages: number }, samples: number) {
  const M = plan.microbatches;
  const schedule = buildSchedule({ balance: new Array<number>(plan.stages).fill(1), microbatches: M, schedule: plan.schedule, recompute: plan.recompute });
  const split = schedule.some((ops) => ops.some((o) => o.op === 'W'));
  /** Per worker, the counts (kept, inputs, pending) of micro-batches at each point of the schedule: the memory is linear in them. */
  const combos = schedule.map((ops) => {
    const seen = new Map<string, [number, number, number]>();
    let kept = 0;
    let input = 0;
    let pending = 0;
    for (const o of ops) {
      const rc = recomputes(plan.recompute, o.microbatch, M);
      if (o.op === 'F') {
        if (rc) input++;
        else kept++;
      } else if (o.op === 'R') {
        kept++;
        input--;
      } else if (o.op === 'B' && split) pending++; // a split backward holds the activations and B's gradients until W
      else if (o.op === 'B' || o.op === 'W') {
        kept--;
        if (o.op === 'W') pending--;
        continue;
      }
      seen.set(`${kept}/${input}/${pending}`, [kept, input, pending]);
    }
    return [...seen.values()];
  });
  return (s: number, i: number, j: number): number => {
    const b = stageBytes(c, i, j, samples);
    let peak = 0;
    for (const [k, n, p] of combos[s]) peak = Math.max(peak, k * b.keptBytes + n * b.inputBytes + p * b.pendingBytes);
    return b.constBytes + peak;
  };
}

/** The DP's proxy: each layer's compute over one step, and each boundary's transfers over one step. */
function partitionInput(c: CostModel, stages: number, M: number, samples: number, recompute: RecomputeMode): PartitionInput {
  const rShare = recompute === 'always' ? 1 : recompute === 'except-last' ? (M - 1) / M : 0;
  const layer = c.layers.map((_, i) =>
    M * c.computeScale * (layerMs(c, i, 'F', samples) * kindScaleOf(c, 'F') + layerMs(c, i, 'B', samples) * kindScaleOf(c, 'B') + (rShare ? rShare * layerMs(c, i, 'R', samples) * kindScaleOf(c, 'R') : 0)) + layerOptMs(c, i));
  // The loss runs inside the last stage's F whatever the balance: charge it to the last layer.
  layer[layer.length - 1] += M * lossMs(c, samples);
  const boundary = c.layers.map((_, k) => (k === 0 ? 0 : M * 2 * transferMs(c, c.layers[k - 1].activationBytesPerSample * samples)));
  return { layerMs: layer, boundaryMs: boundary, stages };
}

const planKey = (p: Plan) => `${p.balance.join(',')}/${p.microbatches}/${p.schedule}/${p.chunks ?? 1}/${p.recompute}/${p.replicas}/${p.sync?.sync ?? ''}`;

/** Schedules the search tries for S stages and M micro-batches: gpipe, 1f1b, zb-h1, and interleaved-1f1b with 2 chunks where the model has the layers and M fits its rounds. */
function searchSchedules(S: number, M: number, L: number): { schedule: ScheduleName; chunks: number }[] {
  const out: { schedule: ScheduleName; chunks: number }[] = [{ schedule: 'gpipe', chunks: 1 }, { schedule: '1f1b', chunks: 1 }, { schedule: 'zb-h1', chunks: 1 }];
  if (S > 1 && 2 * S <= L && !checkChunks({ balance: new Array<number>(2 * S).fill(1), microbatches: M, schedule: 'interleaved-1f1b', chunks: 2 }).length)
    out.push({ schedule: 'interleaved-1f1b', chunks: 2 });
  return out;
}

/** (stages, replicas, sync) combinations to search: the traced stage count (or `stages`) alone, or every split of `workers`. */
function searchShapes(input: RecommendInput, L: number): { S: number; R: number; sync: SyncConfig | undefined }[] {
  if (input.workers === undefined) return [{ S: input.stages ?? input.traced.balance.length, R: 1, sync: undefined }];
  const W = input.workers;
  if (!Number.isInteger(W) || W < 1) throw new UsageError([`workers must be a positive integer (got ${W}); use e.g. --workers 4`]);
  const modes = input.syncModes ?? ['step', 'layerwise'];
  const base = input.traced.sync ?? DEFAULT_SYNC;
  const out: { S: number; R: number; sync: SyncConfig | undefined }[] = [];
  for (const R of divisors(W)) {
    const S = W / R;
    if (S > L || (input.stages !== undefined && S !== input.stages)) continue;
    if (R === 1) out.push({ S, R, sync: undefined });
    else for (const sync of modes) out.push({ S, R, sync: { ...base, sync } });
  }
  if (!out.length) throw new UsageError([`no split of ${W} workers into stages × replicas fits a model of ${L} layers${input.stages !== undefined ? ` with ${input.stages} stages` : ''}; use --workers ${input.stages ?? L} or a multiple of the stage count`]);
  return out;
}

/** Plans ranked by predicted step time, best first; throws a UsageError when none can run (too many stages, memory limit too low). */
export function recommend(input: RecommendInput): RankedPlan[] {
  const { costs, layers, batch, traced, model } = input;
  const L = layers.length;
  const shapes = searchShapes(input, L);
  const top = input.top ?? 5;
  const limit = input.memoryLimitBytes;
  if (costs.layers.length !== L)
    throw new UsageError([`the cost model has ${costs.layers.length} layers but the model has ${L}; calibrate on a trace of this model`]);
  for (const { S } of shapes) {
    if (!Number.isInteger(S) || S < 1) throw new UsageError([`stages must be a positive integer (got ${S}); use e.g. --stages 2`]);
    if (S > L) throw new UsageError([`stages is ${S} but the model has only ${L} layers, and a stage needs at least one; use --stages ${L} or fewer`]);
  }
  if (!Number.isInteger(batch) || batch < 1) throw new UsageError([`batch must be a positive integer (got ${batch}); the trace does not say how many samples a minibatch holds`]);

  const meta = model ? { name: model.name, options: model.options, loss: model.loss ?? 'unknown' } : undefined;
  const run = (plan: Plan): Timeline => simulate({ plan, batch, costs, layers, model: meta });
  const tracedMs = stepTimeMs(run(traced));

  type Scored = { plan: Plan; ms: number; peak: number };
  const fitting: Scored[] = [];
  let leanest: Scored | null = null;
  const seen = new Set<string>();
  /** The DP's proxy and its unlimited optimum depend on neither the schedule nor the sync mode: made once per (V, M, samples, recompute). */
  const unlimited = new Map<string, { proxy: PartitionInput; free: ReturnType<typeof optimalPartition> }>();
  for (const { S, R, sync } of shapes)
  for (const M of input.tracedShapeOnly ? [traced.microbatches] : divisors(batch)) {
    if ((batch / M) % R !== 0) continue;
    const samples = batch / M / R;
    for (const { schedule, chunks } of searchSchedules(S, M, L))
      for (const recompute of SEARCH_RECOMPUTE) {
        // Interleaved plans partition S × chunks virtual stages (each worker's chunks are not contiguous).
        const V = S * chunks;
        const pkey = `${V}/${M}/${samples}/${recompute}`;
        let u = unlimited.get(pkey);
        if (!u) {
          const proxy = partitionInput(costs, V, M, samples, recompute);
          u = { proxy, free: optimalPartition(proxy) };
          unlimited.set(pkey, u);
        }
        const { proxy, free } = u;
        // Without a memory limit the limited optimum is the free one.
        const limited = chunks === 1 && limit !== undefined
          ? optimalPartition({ ...proxy, stageBytes: stageBytesModel(costs, { stages: S, microbatches: M, schedule, recompute }, samples), memoryLimitBytes: limit })
          : { ok: false as const };
        // The DP optimizes a proxy: the simulator judges its optimum under the limit and without it, their neighbours,
        // the uniform split and the traced one.
        const tracedFits = traced.balance.length === V && (traced.chunks ?? 1) === chunks;
        if (input.tracedShapeOnly && !tracedFits) continue;
        const balances: number[][] = input.tracedShapeOnly ? [traced.balance] : [uniformBalance(L, V), ...(tracedFits ? [traced.balance] : [])];
        if (!input.tracedShapeOnly) for (const r of [limited, free]) if (r.ok) balances.push(r.balance, ...neighbourBalances(r.balance));
        for (const balance of balances) {
          const plan: Plan = { balance, microbatches: M, schedule, recompute, replicas: R, ...(sync ? { sync } : {}), ...(chunks > 1 ? { chunks } : {}) };
          const key = planKey(plan);
          if (seen.has(key)) continue;
          seen.add(key);
          const timeline = run(plan);
          const scored = { plan, ms: stepTimeMs(timeline), peak: peakMemory(timeline) };
          if (!leanest || scored.peak < leanest.peak) leanest = scored;
          if (limit === undefined || scored.peak <= limit) fitting.push(scored);
        }
      }
  }
  if (!fitting.length) {
    const p = leanest!.plan;
    throw new UsageError([
      `memory limit ${formatBytes(limit!)} is below the peak memory of every plan tried (the least is ${formatBytes(leanest!.peak)}: balance [${p.balance.join(',')}], ${p.microbatches} micro-batches, ${p.schedule}, recompute ${p.recompute}); raise --memory-limit to at least ${formatBytes(leanest!.peak)} or use more --stages`,
    ]);
  }
  // Fastest first; among equals the leaner, then the fewer micro-batches.
  // Times within rounding of each other are equal (gpipe and 1f1b often tie exactly in theory).
  const same = (x: number, y: number) => Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
  fitting.sort((a, b) => (same(a.ms, b.ms) ? 0 : a.ms - b.ms) || a.peak - b.peak || a.plan.microbatches - b.plan.microbatches);
  // The bubble only for the plans returned (the simulator is deterministic: replaying gives the same timeline).
  return fitting.slice(0, Math.max(1, top)).map(({ plan, ms, peak }) => ranked(input, plan, ms, peak, tracedMs, run(plan)));
}

/** A plan with its prediction against the traced plan's (`tracedMs`), from its simulated timeline. */
function ranked(input: RecommendInput, plan: Plan, ms: number, peak: number, tracedMs: number, timeline: Timeline): RankedPlan {
  const { relative } = predictionOf(input.costs, plan, input.batch, ms);
  return {
    balance: plan.balance,
    microbatches: plan.microbatches,
    schedule: plan.schedule,
    recompute: plan.recompute,
    replicas: plan.replicas,
    ...(plan.chunks && plan.chunks > 1 ? { chunks: plan.chunks } : {}),
    ...(plan.sync ? { sync: plan.sync } : {}),
    predictedStepTimeMs: ms,
    intervalRelative: relative,
    speedup: tracedMs / ms,
    faster: tracedMs / ms - 1 > relative,
    peakMemoryBytes: Math.round(peak),
    bubbleFraction: bubbleFraction(timeline),
    layout: layoutString(plan.balance, input.layers),
  };
}

/** The traced plan itself, ranked like the others (speedup 1): the plan to keep when no other is faster beyond noise. */
export function rankTraced(input: RecommendInput): RankedPlan {
  const t = simulate({ plan: input.traced, batch: input.batch, costs: input.costs, layers: input.layers });
  const ms = stepTimeMs(t);
  return ranked(input, input.traced, ms, peakMemory(t), ms, t);
}
