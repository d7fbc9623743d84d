// Gradient sync of replicas side by side: step, layer-wise, Pipe-SGD, parameter server and compression measured here and predicted for a cluster link; PPRS against SGD and Nesterov on a non-smooth loss.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinModel } from '../core/model/builtin';
import { withLoss } from '../core/model/types';
import { runPipeline, median } from '../core/runtime/executor';
import { mean } from '../core/analysis/utilization';
import type { RunResult } from '../core/runtime/executor';
import { DEFAULT_OPTIMIZER } from '../core/runtime/optimizer';
import type { OptimizerConfig } from '../core/runtime/optimizer';
import type { Plan, SyncConfig } from '../core/plan/types';
import { timelineFromTrace } from '../core/trace/import';
import type { Timeline } from '../core/trace/timeline';
import { buildReport } from '../core/analysis/report';
import { calibrate } from '../core/simulate/calibrate';
import { simulate } from '../core/simulate/simulate';
import { chartJsSource, lossSeries, renderHtml } from '../cli/report';
import { machine, RESULTS, save, table, args } from './common';

const rounds = Number(args.get('rounds') ?? 2);
const steps = Number(args.get('steps') ?? 16);

// One task for every sync mode: an mlp whose 4.2 MB of gradients make the all-reduce matter, 2 replicas (2 workers on 2 cores).
const TASK = { width: 512, depth: 4, batch: 64, microbatches: 2, replicas: 2 };
const MODES: { name: string; sync: SyncConfig }[] = [
  { name: 'step', sync: { sync: 'step', allreduce: 'ring', compress: 'none' } },
  { name: 'layerwise', sync: { sync: 'layerwise', allreduce: 'ring', compress: 'none' } },
  { name: 'pipelined (Pipe-SGD)', sync: { sync: 'pipelined', allreduce: 'ring', compress: 'none' } },
  { name: 'ps', sync: { sync: 'ps', allreduce: 'ring', compress: 'none' } },
  { name: 'step, naive all-reduce', sync: { sync: 'step', allreduce: 'naive', compress: 'none' } },
  { name: 'step + fp16', sync: { sync: 'step', allreduce: 'ring', compress: 'fp16' } },
  { name: 'step + int8', sync: { sync: 'step', allreduce: 'ring', compress: 'int8' } },
  { name: 'pipelined + int8', sync: { sync: 'pipelined', allreduce: 'ring', compress: 'int8' } },
];

const taskPlan = (sync: SyncConfig, replicas = TASK.replicas): Plan => ({ balance: [TASK.depth], microbatches: TASK.microbatches, schedule: '1f1b', recompute: 'never', replicas, sync });

async function runMode(sync: SyncConfig): Promise<RunResult> {
  return runPipeline({
    model: builtinModel('mlp', { width: TASK.width, depth: TASK.depth }), plan: taskPlan(sync), batch: TASK.batch, steps, warmup: 2,
    optimizer: { ...DEFAULT_OPTIMIZER, kind: 'adam', lr: 1e-3 }, backend: 'wasm', seed: 0, trace: true, sync,
  });
}

/** Loss at `seconds` of wall-clock into the run (linear between step ends), or null past its end. */
function lossAt(t: Timeline, seconds: number): number | null {
  const pts = lossSeries(t, '').points.filter((p) => p.loss !== null);
  for (let i = 0; i < pts.length; i++) {
    if (pts[i].seconds >= seconds) {
      if (i === 0) return pts[0].loss;
      const a = pts[i - 1];
      const b = pts[i];
      return a.loss! + ((b.loss! - a.loss!) * (seconds - a.seconds)) / (b.seconds - a.seconds);
    }
  }
  return null;
}

const asTimeline = (r: RunResult, name: string) => timelineFromTrace(JSON.parse(JSON.stringify(r.trace)), name);

async function syncModes() {
  const times = new Map<string, number[]>();
  const last = new Map<string, RunResult>();
  for (let round = 0; round < rounds; round++) {
    // Alternate the order so the machine's drift lands on every mode.
    const order = round % 2 ? MODES.slice().reverse() : MODES;
    for (const m of order) {
      const r = await runMode(m.sync);
      times.set(m.name, [...(times.get(m.name) ?? []), ...r.stepTimesMs]);
      last.set(m.name, r);
      process.stderr.write(`${m.name}: ${median(r.stepTimesMs).toFixed(1)} ms\n`);
    }
  }
  const base = median(times.get('step')!);
  const timelines = new Map(MODES.map((m) => [m.name, asTimeline(last.get(m.name)!, `${m.name}.pptrace.json`)]));
  // Equal wall-clock: the time the slowest mode needed for its last step.
  const horizon = Math.min(...[...timelines.values()].map((t) => lossSeries(t, '').points.at(-1)!.seconds));

  // The cluster prediction: this run's compute, a 10 Gb/s link between replicas, 8 replicas, one machine each.
  const measuredStep = timelines.get('step')!;
  const costs = calibrate(measuredStep);
  const cluster = { ...costs, cores: undefined, reduceLink: { latencyMs: 0.05, bytesPerMs: 10e9 / 8 / 1000 } };
  const R8 = 8;
  const batch8 = TASK.batch * (R8 / TASK.replicas); // the same samples per replica
  const predict = (sync: SyncConfig) => {
    const t = simulate({ plan: taskPlan(sync, R8), batch: batch8, costs: cluster, layers: measuredStep.layers, steps: 3 });
    return (t.steps[2].endUs - t.steps[2].startUs) / 1000;
  };
  const predStep = predict(MODES[0].sync);

  const rows: (string | number)[][] = [];
  const data: Record<string, unknown>[] = [];
  for (const m of MODES) {
    const t = timelines.get(m.name)!;
    const rep = buildReport(t);
    const ms = median(times.get(m.name)!);
    const p = predict(m.sync);
    const lossEq = lossAt(t, horizon);
    const finalLoss = t.steps.at(-1)!.loss;
    data.push({ mode: m.name, sync: m.sync, medianStepMs: ms, speedupVsStep: base / ms, allreduceMsPerStep: rep.allreduceMs, allreduceOverlapFraction: rep.allreduceOverlapFraction, finalLoss, lossAtEqualWallClock: lossEq, clusterPredictedStepMs: p, clusterSpeedupVsStep: predStep / p });
    rows.push([
      m.name, ms.toFixed(1), `${(base / ms).toFixed(2)}x`, rep.allreduceMs.toFixed(1), rep.allreduceOverlapFraction === null ? '–' : `${(rep.allreduceOverlapFraction * 100).toFixed(0)}%`,
      finalLoss.toFixed(4), lossEq === null ? '–' : lossEq.toFixed(4), p.toFixed(2), `${(predStep / p).toFixed(2)}x`,
    ]);
  }
  // The HTML report of the step run with every mode's loss curve beside it.
  const others = MODES.slice(1).map((m) => lossSeries(timelines.get(m.name)!, m.name));
  fs.writeFileSync(path.join(RESULTS, 'sync-modes.html'), renderHtml(buildReport(measuredStep), measuredStep, 'step', chartJsSource(), undefined, others));
  const md = table(
    ['sync', 'step ms (here)', 'vs step', 'all-reduce ms/step', 'all-reduce hidden', 'final loss', `loss at ${horizon.toFixed(1)} s`, 'predicted ms (8 replicas, 10 Gb/s)', 'predicted vs step'],
    rows,
  );
  return { md, data, horizon, cluster: { replicas: R8, batch: batch8, linkGbps: 10, latencyMs: 0.05 } };
}

/** PPRS against SGD and Nesterov on a non-smooth objective (multi-class hinge), at equal wall-clock. */
async function pprs() {
  const base: OptimizerConfig = { ...DEFAULT_OPTIMIZER, lr: 0.05, momentum: 0.9 };
  const opts: { name: string; optimizer: OptimizerConfig }[] = [
    { name: 'sgd', optimizer: { ...base, kind: 'sgd' } },
    { name: 'nesterov', optimizer: { ...base, kind: 'nesterov' } },
    { name: 'pprs (γ = 0.02)', optimizer: { ...base, kind: 'pprs', smoothing: 0.02 } },
    { name: 'pprs (γ = 0.1)', optimizer: { ...base, kind: 'pprs', smoothing: 0.1 } },
  ];
  const model = withLoss(builtinModel('mlp', { width: 64, depth: 6, classes: 10 }), 'hinge');
  const runs = new Map<string, Timeline>();
  const stepMs = new Map<string, number>();
  for (const o of opts) {
    const r = await runPipeline({
      model, plan: { balance: [3, 3], microbatches: 4, schedule: '1f1b', recompute: 'never', replicas: 1 }, batch: 32, steps: 3 * steps, warmup: 0,
      optimizer: o.optimizer, backend: 'wasm', seed: 0, trace: true,
    });
    runs.set(o.name, asTimeline(r, o.name));
    stepMs.set(o.name, median(r.stepTimesMs));
    process.stderr.write(`${o.name}: ${median(r.stepTimesMs).toFixed(1)} ms, loss ${r.losses[0].toFixed(3)} → ${r.losses.at(-1)!.toFixed(3)}\n`);
  }
  const horizon = Math.min(...[...runs.values()].map((t) => lossSeries(t, '').points.at(-1)!.seconds));
  const rows = opts.map((o) => {
    const t = runs.get(o.name)!;
    const tail = t.steps.slice(-5).map((s) => s.loss);
    return [o.name, stepMs.get(o.name)!.toFixed(1), t.steps[0].loss.toFixed(4), mean(tail).toFixed(4), lossAt(t, horizon)?.toFixed(4) ?? '–'];
  });
  const md = table(['optimizer', 'step ms', 'first loss', 'mean loss, last 5 steps', `loss at ${horizon.toFixed(2)} s`], rows);
  const first = runs.get(opts[0].name)!;
  fs.writeFileSync(path.join(RESULTS, 'pprs.html'), renderHtml(buildReport(first), first, opts[0].name, chartJsSource(), undefined, opts.slice(1).map((o) => lossSeries(runs.get(o.name)!, o.name))));
  return { md, rows, horizon };
}

async function main(): Promise<void> {
  const a = await syncModes();
  console.log(a.md);
  const b = await pprs();
  console.log(b.md);
  const head = `mlp ${TASK.depth}×${TASK.width} (4.2 MB of gradients), batch ${TASK.batch}, ${TASK.microbatches} micro-batches, ${TASK.replicas} replicas of one stage, adam; wasm, ${machine().cpus} cores (2 workers), median of ${rounds} alternating rounds × ${steps} steps; loss compared at equal wall-clock (the slowest mode's run length); predicted: the simulator calibrated on the step run, with 8 replicas on their own machines and a 10 Gb/s, 50 µs link between them (batch ×4, the same samples per replica). Loss curves: bench/results/sync-modes.html`;
  const headB = `PPRS against SGD and Nesterov on a non-smooth loss (multi-class hinge), mlp 6×64, 10 classes, 2 stages, 4 micro-batches, batch 32, lr 0.05, momentum 0.9, ${3 * steps} steps each; PPRS reports the loss at its perturbed weights. Loss curves: bench/results/pprs.html`;
  save('sync-modes', { machine: machine(), rounds, steps, task: TASK, horizonSeconds: a.horizon, cluster: a.cluster, results: a.data, pprs: { horizonSeconds: b.horizon, rows: b.rows } }, `${head}\n\n${a.md}\n\n${headB}\n\n${b.md}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
