// Recommendation quality: capture the uniform plan, calibrate, recommend, then measure the recommendation against uniform and a measured grid.
import { builtinModel } from '../core/model/builtin';
import { summarizeLayers } from '../core/model/types';
import { runPipeline, median } from '../core/runtime/executor';
import { DEFAULT_OPTIMIZER } from '../core/runtime/optimizer';
import { uniformBalance } from '../core/plan/partition';
import type { Plan, ScheduleName } from '../core/plan/types';
import { verificationCandidates, verifyPlans } from '../core/io/verify';
import { timelineFromTrace } from '../core/trace/import';
import { calibrate } from '../core/simulate/calibrate';
import { recommend, layoutString } from '../core/recommend/recommend';
import type { RankedPlan } from '../core/recommend/recommend';
import { machine, save, table, args } from './common';

// Batch 64: compute-bound (at 16 the optimizer on the 4M-parameter embedding and head bounds every plan at 1.18x).
const batch = Number(args.get('batch') ?? 64);
const steps = Number(args.get('steps') ?? 3);
const stagesList = (args.get('stages') ?? '2,4').split(',').map(Number);
const gridM = (args.get('microbatches') ?? '2,4,8').split(',').map(Number);
const rounds = Number(args.get('rounds') ?? 2);
/** Like `recommend --verify N`: the recommendation is the fastest measured of the simulator's top N (1: the top plan as ranked). */
const verifyTop = Number(args.get('verify') ?? 3);

const model = builtinModel('transformer');
const layers = summarizeLayers(model);
const L = layers.length;
const SCHEDULES: ScheduleName[] = ['gpipe', '1f1b', 'zb-h1'];

/** A few balances per stage count for the measured grid: uniform, then layers moved away from the last (head) stage. */
const GRID_BALANCES: Record<number, number[][]> = {
  2: [[0, 0], [1, -1], [2, -2], [3, -3], [4, -4]].map((d) => shifted(uniformBalance(layers.length, 2), d)).filter(valid),
  4: [[0, 0, 0, 0], [1, 0, 0, -1], [0, 1, 0, -1], [1, 1, -1, -1], [2, 0, -1, -1]].map((d) => shifted(uniformBalance(layers.length, 4), d)).filter(valid),
};
function shifted(b: number[], d: number[]): number[] {
  return b.map((x, i) => x + d[i]);
}
function valid(b: number[]): boolean {
  return b.every((x) => x >= 1) && b.reduce((x, y) => x + y, 0) === layers.length;
}

const mkPlan = (balance: number[], microbatches: number, schedule: ScheduleName, recompute: Plan['recompute'] = 'never'): Plan => ({ balance, microbatches, schedule, recompute, replicas: 1 });
const toPlan = (p: RankedPlan): Plan => ({ ...mkPlan(p.balance, p.microbatches, p.schedule, p.recompute), ...(p.chunks ? { chunks: p.chunks } : {}) });
const key = (p: Plan) => `${p.balance.join(',')}/${p.microbatches}/${p.schedule}/${p.chunks ?? 1}/${p.recompute}`;
const label = (p: Plan) => `${layoutString(p.balance, layers)} M=${p.microbatches} ${p.schedule}${p.recompute === 'never' ? '' : ` rc=${p.recompute}`}`;

async function run(plan: Plan, trace: boolean, n = steps) {
  return runPipeline({ model, plan, batch, steps: n, warmup: 1, optimizer: DEFAULT_OPTIMIZER, backend: 'wasm', seed: 0, trace });
}

/** Every measured step time per plan, so repeated runs pool. */
const times = new Map<string, number[]>();
async function measure(plan: Plan): Promise<number> {
  const r = await run(plan, false);
  times.set(key(plan), [...(times.get(key(plan)) ?? []), ...r.stepTimesMs]);
  return median(r.stepTimesMs);
}
const pooled = (p: Plan) => median(times.get(key(p))!);

async function main(): Promise<void> {
  const t0 = Date.now();
  const rows: (string | number)[][] = [];
  const data: Record<string, unknown>[] = [];
  for (const S of stagesList) {
    const uniform = mkPlan(uniformBalance(L, S), S, '1f1b');
    // 1. Capture the uniform plan with the recorder (and the per-layer cost probe) on; calibrate; recommend.
    const captured = await run(uniform, true);
    const timeline = timelineFromTrace(captured.trace, `transformer S=${S}`);
    const costs = calibrate(timeline);
    const measuredStepMs = median(captured.stepTimesMs);
    const plans: RankedPlan[] = recommend({ costs, layers: timeline.layers, batch, traced: uniform, top: 20, model: timeline.model ?? undefined });
    // `recommend --verify N`: the top N plans measured for a few steps, the fastest measured is the recommendation.
    let best = plans[0];
    if (verifyTop > 1) {
      const candidates = verificationCandidates(plans, verifyTop);
      // As the CLI runs it (its default steps and rounds).
      const v = (await verifyPlans(timeline, candidates)).plans;
      best = candidates[v.reduce((a, b) => (b.measuredStepTimeMs < a.measuredStepTimeMs ? b : a)).rank - 1];
      for (const r of v) process.stderr.write(`  verify ${label(toPlan(candidates[r.rank - 1]))}: predicted ${candidates[r.rank - 1].predictedStepTimeMs.toFixed(1)} ms, measured ${r.measuredStepTimeMs.toFixed(1)} ms\n`);
    }
    const recommended = toPlan(best);
    process.stderr.write(`S=${S}: captured ${label(uniform)} ${measuredStepMs.toFixed(1)} ms (probe: ${timeline.layerCosts.length} layers); recommended ${label(recommended)}, predicted ${best.predictedStepTimeMs.toFixed(1)} ms (${best.speedup.toFixed(2)}x)\n`);
    // 2. The grid, measured with the recorder off, uniform and the recommendation among it; two rounds, the second
    //    in reverse order, so drift and other load on this shared machine land on every plan alike.
    const grid = GRID_BALANCES[S].flatMap((b) => gridM.flatMap((M) => SCHEDULES.map((s) => mkPlan(b, M, s))));
    const all = [uniform, recommended, ...grid].filter((p, i, xs) => xs.findIndex((q) => key(q) === key(p)) === i);
    for (let round = 0; round < rounds; round++)
      for (const p of round % 2 ? all.slice().reverse() : all) {
        const ms = await measure(p);
        process.stderr.write(`  round ${round + 1}/${rounds} ${label(p).padEnd(28)} ${ms.toFixed(1)} ms   (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
      }
    const gridBest = [...grid, recommended].reduce((a, b) => (pooled(b) < pooled(a) ? b : a));
    const uMs = pooled(uniform);
    const rMs = pooled(recommended);
    const gMs = pooled(gridBest);
    const speedup = uMs / rMs;
    const gap = rMs / gMs - 1;
    const note = S > machine().cpus ? `${S} workers on ${machine().cpus} cores` : '';
    data.push({
      stages: S, uniform: { plan: uniform, ms: uMs, capturedMs: measuredStepMs }, recommended: { plan: recommended, ms: rMs, predictedMs: best.predictedStepTimeMs, predictedSpeedup: best.speedup },
      gridBest: { plan: gridBest, ms: gMs, speedup: uMs / gMs }, speedup, gap, topPlans: plans, costs: { opOverheadMs: costs.opOverheadMs, computeScale: costs.computeScale, link: costs.link, opt: costs.opt },
      grid: grid.map((p) => ({ plan: label(p), ms: pooled(p) })), note,
    });
    // Layouts hold '|', which would split a Markdown table cell.
    const cell = (p: Plan) => label(p).replace(/\|/g, '\\|');
    rows.push([
      S, cell(uniform), uMs.toFixed(1), cell(recommended), best.predictedStepTimeMs.toFixed(1), rMs.toFixed(1), cell(gridBest), gMs.toFixed(1),
      `${speedup.toFixed(2)}x`, `${(uMs / gMs).toFixed(2)}x`, `${gap >= 0 ? '+' : ''}${(gap * 100).toFixed(1)}%`, note,
    ]);
  }
  const md = table(['S', 'uniform (captured)', 'ms', 'recommended', 'predicted ms', 'ms', 'grid best', 'ms', 'speedup vs uniform', 'grid best vs uniform', 'gap to grid best', 'note'], rows);
  console.log(md);
  console.log(`\ngoals: speedup vs uniform ≥ 1.3x; within 5% of the grid best. Grid: ${Object.values(GRID_BALANCES).map((b) => b.length)[0]} balances × M ∈ {${gridM.join(',')}} × {${SCHEDULES.join(', ')}}, recompute never. ${((Date.now() - t0) / 1000).toFixed(0)} s in all.`);
  save('recommend-quality', { machine: machine(), model: { name: 'transformer', options: model.options }, batch, steps, results: data },
    `transformer (default options), batch ${batch}, adam, wasm, ${machine().cpus} cores; median step time (ms) of every plan's ${rounds * steps} steps from ${rounds} interleaved rounds on a machine shared with other work; the grid is measured, the recommendation is calibrated on one traced run of the uniform plan${verifyTop > 1 ? `, then the fastest of ${verifyTop} of its top plans (the best of each schedule first) measured as recommend --verify ${verifyTop} does (4 steps × 2 alternating rounds each)` : ''}\n\n${md}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
