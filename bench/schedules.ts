// Bubble of every schedule side by side: measured on real runs, predicted by the simulator calibrated on a 1f1b run, and the analytic value.
import { builtinModel } from '../core/model/builtin';
import { runPipeline, median } from '../core/runtime/executor';
import { DEFAULT_OPTIMIZER } from '../core/runtime/optimizer';
import type { Plan, ScheduleName } from '../core/plan/types';
import { analyticBubble } from '../core/schedule/analytic';
import { timelineFromTrace } from '../core/trace/import';
import { utilization } from '../core/analysis/utilization';
import { peakMemory } from '../core/analysis/memory';
import { calibrate } from '../core/simulate/calibrate';
import { simulate } from '../core/simulate/simulate';
import { machine, save, table, args } from './common';

const steps = Number(args.get('steps') ?? 6);
const rounds = Number(args.get('rounds') ?? 2);

// Dense layers: a layer's dx and dW are one matmul each, the same size as its forward (F = B = W, as the paper assumes).
// Two models: the plain mlp, whose first stage is lighter (its first layer needs no input gradient; the last stage
// also has the loss), and the same mlp with 1792 input features, whose wider first layer evens the two stages out
// (the paper's formulas assume equal stages; measured: stage 0 / stage 1 busy time 0.94 at 1536, 1.08 at 2048).
const MODELS: { label: string; options: Record<string, number> }[] = [
  { label: 'uniform', options: { width: 1024, depth: 8 } },
  { label: 'balanced', options: { width: 1024, depth: 8, input: Number(args.get('input') ?? 1792) } },
];
const DEPTH = 8;
const BATCH = Number(args.get('batch') ?? 256);
// SGD keeps the optimizer short: the bubble is idle time between compute ops, and a long OPT would only dilute it.
const OPTIMIZER = { ...DEFAULT_OPTIMIZER, kind: 'sgd' as const, lr: 1e-3 };

function planFor(schedule: ScheduleName, S: number, M: number): Plan {
  const chunks = schedule === 'interleaved-1f1b' ? 2 : 1;
  const V = S * chunks;
  return { balance: new Array<number>(V).fill(DEPTH / V), microbatches: M, schedule, recompute: 'never', replicas: 1, ...(chunks > 1 ? { chunks } : {}) };
}

async function measure(options: Record<string, number>, plan: Plan, probe: boolean) {
  const r = await runPipeline({ model: builtinModel('mlp', options), plan, batch: BATCH, steps, warmup: 2, optimizer: OPTIMIZER, backend: 'wasm', seed: 0, trace: true, probe });
  const t = timelineFromTrace(JSON.parse(JSON.stringify(r.trace)), 'bench');
  const u = utilization(t);
  return { timeline: t, bubble: u.bubbleFraction, stepMs: median(r.stepTimesMs), peak: Math.max(...peakMemory(t).map((m) => m.peakBytes ?? 0)), idleMs: u.stages.reduce((a, s) => a + s.bubbleMs, 0) / u.stages.length };
}

async function main(): Promise<void> {
  const schedules: ScheduleName[] = ['gpipe', '1f1b', 'interleaved-1f1b', 'zb-h1'];
  const rows: (string | number)[][] = [];
  const data: Record<string, unknown>[] = [];
  for (const { label, options } of MODELS.filter((m) => (args.get('models') ?? 'uniform,balanced').split(',').includes(m.label))) {
    for (const S of (args.get('stages') ?? '2').split(',').map(Number)) {
      for (const M of (args.get('microbatches') ?? '2,4,8').split(',').map(Number)) {
        // Calibrate on this (S, M)'s 1f1b run; predict every schedule from it.
        const results = new Map<ScheduleName, Awaited<ReturnType<typeof measure>>[]>();
        for (let round = 0; round < rounds; round++)
          for (const sch of round % 2 ? schedules.slice().reverse() : schedules) {
            // The per-layer probe (for calibration) runs once, on the first round's 1f1b run.
            const m = await measure(options, planFor(sch, S, M), round === 0 && sch === '1f1b');
            results.set(sch, [...(results.get(sch) ?? []), m]);
          }
        const base = results.get('1f1b')![0].timeline;
        const costs = calibrate(base);
        // The same op costs on a runtime with no overhead: no link latency or wake-up, no per-op or step-barrier cost,
        // no input making. What is left of the idle time comes from the schedule and the ops' own costs.
        const free: typeof costs = { ...costs, opOverheadMs: 0, link: { latencyMs: 0, bytesPerMs: Infinity, wakeMs: 0 }, stepOverhead: { startMs: 0, endMs: 0 }, inputMsPerSample: 0 };
        const mid = (xs: number[]) => median(xs);
        const idleOf = (u: ReturnType<typeof utilization>) => u.stages.reduce((a, x) => a + x.bubbleMs, 0) / u.stages.length;
        const replay = (c: typeof costs, sch: ScheduleName) => utilization(simulate({ plan: planFor(sch, S, M), batch: BATCH, costs: c, layers: base.layers, steps: 2 }));
        const oneF = mid(results.get('1f1b')!.map((m) => m.idleMs));
        const oneFPredicted = idleOf(replay(costs, '1f1b'));
        const oneFFree = idleOf(replay(free, '1f1b'));
        for (const sch of schedules) {
          const ms = results.get(sch)!;
          const plan = planFor(sch, S, M);
          const pu = replay(costs, sch);
          const predictedRatio = idleOf(pu) / oneFPredicted;
          const freeRatio = idleOf(replay(free, sch)) / oneFFree;
          const bubble = mid(ms.map((m) => m.bubble));
          const idle = mid(ms.map((m) => m.idleMs));
          const analytic = analyticBubble(plan);
          data.push({ model: label, S, M, schedule: sch, measuredBubble: bubble, predictedBubble: pu.bubbleFraction, analyticBubble: analytic, idleMsPerStep: idle, idleVs1f1b: idle / oneF, predictedIdleVs1f1b: predictedRatio, noOverheadIdleVs1f1b: freeRatio, stepMs: mid(ms.map((m) => m.stepMs)), peakMemoryBytes: ms[0].peak });
          rows.push([
            label, S, M, sch, `${(bubble * 100).toFixed(1)}%`, `${(pu.bubbleFraction * 100).toFixed(1)}%`, analytic === null ? '–' : `${(analytic * 100).toFixed(1)}%`,
            idle.toFixed(1), `${(idle / oneF).toFixed(2)}`, predictedRatio.toFixed(2), freeRatio.toFixed(2), mid(ms.map((m) => m.stepMs)).toFixed(1), `${(ms[0].peak / 2 ** 20).toFixed(1)}`,
          ]);
          process.stderr.write(`${label} S=${S} M=${M} ${sch}: bubble ${(bubble * 100).toFixed(1)}% predicted ${(pu.bubbleFraction * 100).toFixed(1)}%\n`);
        }
      }
    }
  }
  const md = table(['model', 'S', 'M', 'schedule', 'bubble measured', 'predicted', 'analytic', 'idle ms/stage/step', 'idle vs 1f1b', 'vs 1f1b predicted', 'vs 1f1b no overhead', 'step ms', 'peak MiB (a stage)'], rows);
  console.log(md);
  const head = `mlp ${DEPTH}×1024 (uniform: 1024 input features; balanced: ${MODELS[1].options.input}, which evens out the two stages' busy time), batch ${BATCH}, sgd, equal stages (interleaved: 2 chunks per stage), wasm, ${machine().cpus} cores (S=2 only: S=4 would put 4 workers on 2 cores, and time-slicing, not the schedule, would make the idle time); median of ${rounds} alternating rounds × ${steps} steps; bubble = idle share of each stage's step (mean over stages), as pipeprof report measures it; predicted: the simulator calibrated on the same (S, M)'s 1f1b run; analytic: (S−1)/(M+S−1) for gpipe and 1f1b, (S−1)/(vM+S−1) interleaved, (S−1)/(3M+S−1) zb-h1 with F = B = W; idle vs 1f1b: each schedule's idle ms against 1f1b's at the same M, measured, predicted, and replayed on the calibrated op costs with no runtime overhead (no link latency, per-op, step-barrier or input-making cost): the ratio the schedule reaches on these ops' own costs (1/3 for zb-h1 needs F = B = W on equal stages)`;
  save('schedules', { machine: machine(), steps, rounds, models: MODELS, batch: BATCH, results: data }, `${head}\n\n${md}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
