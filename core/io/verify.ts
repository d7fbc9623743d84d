// Verifying recommendations: run the top plans for real (a few steps each, the recorder off) and rank them by measured step time.
import type { Timeline } from '../trace/timeline';
import type { Plan } from '../plan/types';
import type { RankedPlan } from '../recommend/recommend';
import { planOfRanked } from '../recommend/recommend';
import { UsageError } from '../config/errors';
import { runPipeline, median } from '../runtime/executor';
import { DEFAULT_OPTIMIZER, OPTIMIZERS } from '../runtime/optimizer';
import type { OptimizerName } from '../runtime/optimizer';
import type { BackendName } from '../runtime/backends';
import { BACKENDS } from '../runtime/backends';
import { loadModel } from './capture';

/**
 * The plans worth measuring, `n` of them: the best-ranked plan of each schedule first (the simulator's error is
 * largest between schedules, whose ops it models differently), then the next best overall, in rank order.
 */
export function verificationCandidates(plans: RankedPlan[], n: number): RankedPlan[] {
  const picked: RankedPlan[] = [];
  const schedules = new Set<string>();
  for (const p of plans) {
    if (picked.length >= n) break;
    if (!schedules.has(p.schedule)) {
      schedules.add(p.schedule);
      picked.push(p);
    }
  }
  for (const p of plans) if (picked.length < n && !picked.includes(p)) picked.push(p);
  return plans.filter((p) => picked.includes(p));
}

export interface VerifiedPlan {
  /** 1-based rank of the plan in the recommender's list. */
  rank: number;
  measuredStepTimeMs: number;
  /**
   * The traced plan's step time over this plan's, measured in the same rounds: the median over rounds and its range
   * (each round's medians); absent when no baseline was measured.
   */
  speedup?: { median: number; min: number; max: number };
}

/** What verifyPlans measured: each plan, and the traced plan (the baseline) measured alternately with them. */
export interface Verification {
  plans: VerifiedPlan[];
  baselineMs?: number;
}


/**
 * Warm-up of each verification run: at least one step and this long. Each run starts fresh workers, whose first
 * seconds run slower while V8 compiles in the background (measured: the mlp's four steps after one warm-up step 9–10 %
 * slower than after 1.5 s, at 4 and at 16 micro-batches), and that cost lands unevenly on plans of different step
 * times and op counts.
 */
export const VERIFY_WARMUP_MS = 1500;

/**
 * Runs each of `plans` for `steps` measured steps (after VERIFY_WARMUP_MS of warm-up) on the traced model, batch, backend and
 * optimizer, in rounds that alternate the order (the machine's drift lands on all), and returns the median step time
 * of each. The simulator ranks plans it cannot tell apart within its own error; measuring settles those ties.
 */
export async function verifyPlans(
  t: Timeline,
  plans: RankedPlan[],
  opts: { steps?: number; rounds?: number; baseline?: Plan; onRun?: (p: { done: number; total: number; rank: number; baseline: boolean; round: number; ms: number }) => void } = {},
): Promise<Verification> {
  if (!t.model || t.origin === 'kineto')
    throw new UsageError(['--verify runs the plans on the traced model, and this trace does not name a model pipeprof can build (a PyTorch trace, or no model in its pipeprof block); rank without --verify']);
  if (!t.batch) throw new UsageError(['--verify needs the traced batch size (pipeprof.run.batch); capture the run with pipeprof capture']);
  const model = await loadModel(Object.keys(t.model.options).length ? { name: t.model.name, ...t.model.options } : t.model.name).catch((e: Error) => {
    throw new UsageError([`--verify cannot build the traced model ${t.model!.name}: ${e.message}`]);
  });
  const backend = ((BACKENDS as readonly string[]).includes(t.backend ?? '') ? t.backend : 'wasm') as BackendName;
  const optimizer = { ...DEFAULT_OPTIMIZER, kind: ((OPTIMIZERS as readonly string[]).includes(t.optimizer ?? '') ? t.optimizer : DEFAULT_OPTIMIZER.kind) as OptimizerName };
  const steps = opts.steps ?? 4;
  const rounds = opts.rounds ?? 2;
  // The baseline (the traced plan) runs last in the list, so it alternates with the candidates like any of them.
  const runs: Plan[] = [...plans.map(planOfRanked), ...(opts.baseline ? [opts.baseline] : [])];
  /** Per plan, per round: the round's step times. */
  const times = runs.map(() => [] as number[][]);
  let done = 0;
  for (let r = 0; r < rounds; r++) {
    const order = runs.map((_, i) => i);
    if (r % 2) order.reverse();
    for (const i of order) {
      const res = await runPipeline({ model, plan: runs[i], batch: t.batch, steps, warmup: 1, warmupMs: VERIFY_WARMUP_MS, optimizer, backend, seed: 0, trace: false, probe: false });
      times[i].push(res.stepTimesMs);
      opts.onRun?.({ done: ++done, total: rounds * runs.length, rank: i + 1, baseline: i === plans.length, round: r + 1, ms: median(res.stepTimesMs) });
    }
  }
  const base = opts.baseline ? times[runs.length - 1] : null;
  const verified = plans.map((_, i): VerifiedPlan => {
    const ms = median(times[i].flat());
    if (!base) return { rank: i + 1, measuredStepTimeMs: ms };
    const perRound = times[i].map((x, r) => median(base[r]) / median(x));
    return { rank: i + 1, measuredStepTimeMs: ms, speedup: { median: median(perRound), min: Math.min(...perRound), max: Math.max(...perRound) } };
  });
  return { plans: verified, ...(base ? { baselineMs: median(base.flat()) } : {}) };
}
