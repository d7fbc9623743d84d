// Simulator fidelity: capture many plans of two models, calibrate on ONE trace per model, predict the rest; measured vs predicted step time.
import * as os from 'node:os';
import { builtinModel } from '../core/model/builtin';
import type { BuiltinModel } from '../core/model/builtin';
import { runPipeline, median } from '../core/runtime/executor';
import { DEFAULT_OPTIMIZER } from '../core/runtime/optimizer';
import type { Plan } from '../core/plan/types';
import { timelineFromTrace } from '../core/trace/import';
import type { Timeline } from '../core/trace/timeline';
import { calibrate } from '../core/simulate/calibrate';
import type { CostModel } from '../core/simulate/cost-model';
import { simulate } from '../core/simulate/simulate';
import { machine, save, table, args } from './common';

// Three rounds, and the median of their medians: this machine has stretches of seconds in which every op runs slower
// (traced: the threads' own CPU time grows, not their wait for a core); a round that lands in one is outvoted.
const rounds = Number(args.get('rounds') ?? 3);
const steps = Number(args.get('steps') ?? 6);
const calibrationSteps = Number(args.get('calibration-steps') ?? 20);
const only = args.get('models')?.split(',');

type P = [number[], number, Plan['schedule'], Plan['recompute']];
/**
 * The first plan of each model is the one calibrated on. The goal is about plans whose stages each have a core; the last
 * plan of each model puts 4 workers on the cores, to show how far the shared-cores replay gets there (outside the goal).
 */
const SETS: { model: BuiltinModel; options: Record<string, number>; batch: number; plans: P[] }[] = [
  {
    model: 'mlp', options: { width: 1024, depth: 8 }, batch: 128,
    plans: [
      [[4, 4], 4, '1f1b', 'never'], [[4, 4], 8, '1f1b', 'never'], [[4, 4], 16, '1f1b', 'never'], [[4, 4], 4, 'gpipe', 'never'], [[4, 4], 4, 'zb-h1', 'never'],
      [[5, 3], 8, '1f1b', 'never'], [[3, 5], 4, 'gpipe', 'never'], [[4, 4], 8, '1f1b', 'always'], [[4, 4], 8, 'gpipe', 'except-last'],
      [[2, 2, 2, 2], 8, '1f1b', 'never'],
    ],
  },
  {
    model: 'transformer', options: {}, batch: 16,
    plans: [
      [[8, 2], 4, '1f1b', 'never'], [[5, 5], 4, '1f1b', 'never'], [[9, 1], 8, '1f1b', 'never'], [[6, 4], 4, 'gpipe', 'never'],
      [[8, 2], 8, 'gpipe', 'never'], [[8, 2], 4, '1f1b', 'always'], [[6, 4], 2, '1f1b', 'except-last'], [[7, 3], 4, 'zb-h1', 'never'],
      [[3, 3, 2, 2], 4, '1f1b', 'never'],
    ],
  },
];

const planOf = ([balance, microbatches, schedule, recompute]: P): Plan => ({ balance, microbatches, schedule, recompute, replicas: 1 });
const label = (p: Plan) => `[${p.balance.join(',')}] M=${p.microbatches} ${p.schedule} ${p.recompute}`;

async function capture(set: (typeof SETS)[number], plan: Plan, calibration: boolean): Promise<{ stepTimesMs: number[]; timeline: Timeline }> {
  const r = await runPipeline({
    model: builtinModel(set.model, set.options), plan, batch: set.batch, steps: calibration ? calibrationSteps : steps, warmup: 2,
    optimizer: { ...DEFAULT_OPTIMIZER, kind: 'adam', lr: 0.001 }, backend: 'wasm', seed: 0, trace: true, probe: calibration,
  });
  return { stepTimesMs: r.stepTimesMs, timeline: timelineFromTrace(JSON.parse(JSON.stringify(r.trace)), `${set.model} ${label(plan)}`) };
}

async function main(): Promise<void> {
  const started = performance.now();
  const load0 = os.loadavg()[0];
  const sets = SETS.filter((s) => !only || only.includes(s.model));
  const times = new Map<string, number[]>();
  /** Each round's median step time per plan: how much the machine itself drifts. */
  const perRound = new Map<string, number[]>();
  const calibrationTrace = new Map<string, Timeline>();
  // Rounds interleave every plan, so drift on a noisy machine hits all of them alike; the calibration trace is round 1's.
  for (let round = 0; round < rounds; round++)
    for (const set of sets)
      for (const [i, p] of set.plans.entries()) {
        const plan = planOf(p);
        const calibration = round === 0 && i === 0;
        const { stepTimesMs, timeline } = await capture(set, plan, calibration);
        if (calibration) calibrationTrace.set(set.model, timeline);
        const k = `${set.model} ${label(plan)}`;
        times.set(k, [...(times.get(k) ?? []), ...stepTimesMs]);
        perRound.set(k, [...(perRound.get(k) ?? []), median(stepTimesMs)]);
        process.stderr.write(`round ${round + 1}/${rounds} ${k}: ${median(stepTimesMs).toFixed(1)} ms (load ${os.loadavg()[0].toFixed(2)})\n`);
      }

  const rows: (string | number)[][] = [];
  const data: Record<string, unknown>[] = [];
  const errors: number[] = [];
  const oversubscribed: number[] = [];
  const cores = os.cpus().length;
  const models: Record<string, CostModel> = {};
  for (const set of sets) {
    const trace = calibrationTrace.get(set.model)!;
    const costs = calibrate(trace);
    models[set.model] = costs;
    for (const [i, p] of set.plans.entries()) {
      const plan = planOf(p);
      const k = `${set.model} ${label(plan)}`;
      const measured = median(perRound.get(k)!);
      const t = simulate({ plan, batch: set.batch, costs, layers: trace.layers });
      const predicted = (t.steps[0].endUs - t.steps[0].startUs) / 1000;
      const error = predicted / measured - 1;
      const over = plan.balance.length > cores;
      const rs = perRound.get(k)!;
      const spread = (Math.max(...rs) - Math.min(...rs)) / measured;
      if (i > 0) (over ? oversubscribed : errors).push(Math.abs(error));
      data.push({ model: set.model, plan, measuredMs: measured, roundMediansMs: rs, predictedMs: predicted, error, calibratedOn: i === 0, oversubscribed: over, samples: times.get(k)!.length });
      const note = i === 0 ? 'calibrated on (round 1)' : over ? `${plan.balance.length} workers on ${cores} cores: outside the goal` : '';
      rows.push([set.model, label(plan), measured.toFixed(1), `${(spread * 100).toFixed(1)}%`, predicted.toFixed(1), `${error >= 0 ? '+' : ''}${(error * 100).toFixed(1)}%`, note]);
    }
  }
  const medErr = median(errors);
  const maxErr = Math.max(...errors);
  const md = table(['model', 'plan', 'measured ms', 'round spread', 'predicted ms', 'error', 'note'], rows);
  const load1 = os.loadavg()[0];
  const summary = `median |error| ${(medErr * 100).toFixed(1)}% (goal ≤ 3%), max |error| ${(maxErr * 100).toFixed(1)}% (goal ≤ 8%) over the ${errors.length} predicted plans with a core per stage` +
    (oversubscribed.length ? `; with more workers than cores: ${oversubscribed.map((e) => `${(e * 100).toFixed(0)}%`).join(', ')}` : '');
  console.log(md);
  console.log(`\n${summary}; ${((performance.now() - started) / 1000).toFixed(0)} s; load average ${load0.toFixed(2)} → ${load1.toFixed(2)}`);
  const head = `mlp ${SETS[0].options.width}×${SETS[0].options.depth} batch ${SETS[0].batch}, transformer (default) batch ${SETS[1].batch}; wasm, ${machine().cpus} cores; ` +
    `measured = median of ${rounds} interleaved rounds' medians of ${steps} steps (round spread: max − min of the rounds' medians, the machine's own drift); ` +
    `predicted from one trace per model (${calibrationSteps} steps, with the per-layer probe)`;
  save('sim-fidelity', { machine: machine(), rounds, steps, calibrationSteps, loadAverage: [load0, load1], medianAbsError: medErr, maxAbsError: maxErr, oversubscribedAbsErrors: oversubscribed, results: data, costModels: models },
    `${head}\n\n${md}\n\n${summary}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
