// `pipeprof simulate <trace>`: calibrate on a trace, replay a plan (the traced one, or flags' changes) on the timing model, print or write it.
import type { Command } from 'commander';
import { UsageError } from '../core/config/errors';
import { divisors as divisorsOf, uniformBalance } from '../core/plan/partition';
import { choice } from '../core/config/choice';
import { readTimeline } from '../core/io/read-trace';
import { writeTimeline } from '../core/io/write-trace';
import { checkOutputs } from '../core/io/outputs';
import { calibrate } from '../core/simulate/calibrate';
import { simulate } from '../core/simulate/simulate';
import { predictionOf, predictionText } from '../core/simulate/uncertainty';
import type { Prediction } from '../core/simulate/uncertainty';
import { buildReport } from '../core/analysis/report';
import type { Report } from '../core/analysis/report';
import { checkChunks } from '../core/plan/check';
import { RECOMPUTE_MODES, SCHEDULES } from '../core/plan/types';
import { analyticBubbleFormula } from '../core/schedule/analytic';
import type { Plan } from '../core/plan/types';
import type { Timeline } from '../core/trace/timeline';
import type { CliIO } from './io';
import { pct } from './io';

/** Steps one simulation may replay: each holds every op of the plan (a million took over 4 GB). */
export const MAX_SIMULATE_STEPS = 10_000;

export interface SimulateFlags {
  balance?: string;
  microbatches?: string;
  schedule?: string;
  recompute?: string;
  chunks?: string;
  steps?: string;
  json?: boolean;
  out?: string;
}

/** The plan to simulate: the traced plan with the flags' changes; every bad flag is one line naming it, the rule and a fix. */
export function resolveSimulatePlan(traced: Plan, batch: number, layers: number, flags: SimulateFlags): Plan {
  const problems: string[] = [];
  let balance = traced.balance;
  if (flags.balance !== undefined) {
    const parts = flags.balance.split(',').map((x) => x.trim());
    const nums = parts.map(Number);
    if (!parts.length || parts.some((p) => p === '') || !nums.every((n) => Number.isInteger(n) && n > 0)) {
      problems.push(`--balance must be a list of positive integers, layers per stage (got ${JSON.stringify(flags.balance)}); write e.g. --balance ${uniformBalance(layers, Math.min(traced.balance.length, layers)).join(',')}`);
    } else {
      const sum = nums.reduce((a, b) => a + b, 0);
      if (sum !== layers)
        problems.push(`--balance has ${sum} layers but the model has ${layers} (balance: [${nums.join(',')}]); use --balance ${uniformBalance(layers, Math.min(nums.length, layers)).join(',')}`);
      balance = nums;
    }
  }
  let microbatches = traced.microbatches;
  if (flags.microbatches !== undefined) {
    const m = Number(flags.microbatches);
    const divisors = divisorsOf(batch, 64);
    if (!Number.isInteger(m) || m <= 0 || batch % m !== 0)
      problems.push(`--microbatches must be a positive integer dividing the traced batch ${batch} (got ${JSON.stringify(flags.microbatches)}); use one of ${divisors.join(', ')}`);
    else microbatches = m;
  }
  let schedule = traced.schedule;
  if (flags.schedule !== undefined) {
    const s = choice(flags.schedule, SCHEDULES);
    if (s === undefined)
      problems.push(`--schedule must be one of ${SCHEDULES.join(', ')} (got ${JSON.stringify(flags.schedule)}); use --schedule ${SCHEDULES.join(' or --schedule ')}`);
    else schedule = s;
  }
  let recompute = traced.recompute;
  if (flags.recompute !== undefined) {
    const r = choice(flags.recompute, RECOMPUTE_MODES);
    if (r === undefined)
      problems.push(`--recompute must be one of ${RECOMPUTE_MODES.join(', ')} (got ${JSON.stringify(flags.recompute)}); use e.g. --recompute never`);
    else recompute = r;
  }
  let chunks = traced.chunks ?? 1;
  if (flags.chunks !== undefined) {
    const v = Number(flags.chunks);
    if (!Number.isInteger(v) || v < 1) problems.push(`--chunks must be a positive integer, model chunks per stage (got ${JSON.stringify(flags.chunks)}); e.g. --chunks 2 with --schedule interleaved-1f1b`);
    else chunks = v;
  }
  // New chunks without a balance: the traced stage count, each stage's layers split evenly into the chunks.
  if (!problems.length && flags.balance === undefined && chunks !== (traced.chunks ?? 1))
    balance = uniformBalance(layers, Math.min(layers, (traced.balance.length / (traced.chunks ?? 1)) * chunks));
  if (!problems.length) for (const p of checkChunks({ balance, microbatches, schedule, chunks })) problems.push(`--${p}`);
  if (flags.steps !== undefined) {
    const n = Number(flags.steps);
    if (!Number.isInteger(n) || n <= 0) problems.push(`--steps must be a positive integer (got ${JSON.stringify(flags.steps)}); e.g. --steps 4`);
    else if (n > MAX_SIMULATE_STEPS) problems.push(`--steps must be at most ${MAX_SIMULATE_STEPS}: every step holds all of its ops (got ${JSON.stringify(flags.steps)}); e.g. --steps 100`);
  }
  if (problems.length) throw new UsageError(problems);
  return { balance, microbatches, schedule, recompute, replicas: traced.replicas, ...(traced.sync ? { sync: traced.sync } : {}), ...(chunks > 1 ? { chunks } : {}) };
}

/** Median of the measured (non-warm-up) step durations, ms. */
function stepMs(t: Timeline): number | undefined {
  const steps = t.steps.filter((s) => !s.warmup);
  const ms = (steps.length ? steps : t.steps).map((s) => (s.endUs - s.startUs) / 1000).sort((a, b) => a - b);
  if (!ms.length) return undefined;
  const h = ms.length >> 1;
  return ms.length % 2 ? ms[h] : (ms[h - 1] + ms[h]) / 2;
}

export interface SimulateResult {
  measured: Timeline;
  predicted: Timeline;
  report: Report;
  /** The model replaying the traced plan itself, next to what was measured: how well the calibration fits. */
  tracedPredictedMs: number;
  tracedMeasuredMs: number | undefined;
  /** The predicted plan's step time with its interval. */
  prediction: Prediction;
}

/** Reads a trace, checks the flags against it (a UsageError listing every problem), calibrates on it and simulates the flags' plan. */
export async function simulateTrace(tracePath: string, flags: SimulateFlags): Promise<SimulateResult> {
  const measured = await readTimeline(tracePath);
  if (!measured.plan) throw new UsageError([`${tracePath}: the trace has no plan in its pipeprof block; capture it with pipeprof capture`]);
  if (!measured.batch) throw new UsageError([`${tracePath}: the trace does not record its batch size (pipeprof.run.batch); capture it with pipeprof capture`]);
  const plan = resolveSimulatePlan(measured.plan, measured.batch, measured.layers.length, flags);
  const costs = calibrate(measured);
  const moved = plan.microbatches !== measured.plan.microbatches || plan.balance.join() !== measured.plan.balance.join();
  if (moved && measured.origin !== 'kineto' && !costs.fit?.probed)
    throw new UsageError([`${tracePath}: the trace has no per-layer probe (pipeprof.layerCosts), so only the traced balance and micro-batch count can be predicted; capture it again without --no-probe, or leave --balance and --microbatches out`]);
  const steps = flags.steps !== undefined ? Number(flags.steps) : Math.max(1, measured.steps.filter((s) => !s.warmup).length);
  const base = { batch: measured.batch, costs, layers: measured.layers, model: measured.model ?? undefined };
  const predicted = simulate({ ...base, plan, steps });
  const traced = simulate({ ...base, plan: measured.plan });
  const report = buildReport(predicted);
  return { measured, predicted, report, tracedPredictedMs: stepMs(traced)!, tracedMeasuredMs: stepMs(measured), prediction: predictionOf(costs, plan, measured.batch, report.stepTimeMs) };
}

const planText = (p: Plan) => `balance [${p.balance.join(',')}], ${p.microbatches} micro-batches, ${p.schedule}, recompute ${p.recompute}`;
function bytes(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

export function formatSimulation(r: SimulateResult, tracePath: string, out?: string): string {
  const p = r.report;
  const traced = r.measured.plan!;
  const fit = r.tracedMeasuredMs !== undefined
    ? `measured ${r.tracedMeasuredMs.toFixed(1)} ms per step (median); the calibrated model gives ${r.tracedPredictedMs.toFixed(1)} ms (${(((r.tracedPredictedMs / r.tracedMeasuredMs) - 1) * 100).toFixed(1)}%)`
    : `the calibrated model gives ${r.tracedPredictedMs.toFixed(1)} ms per step`;
  const rows = p.stages.map((s) => [String(s.stage), pct(s.utilization), pct(s.bubbleFraction), s.busyTotalMs.toFixed(1), bytes(s.peakMemoryBytes)]);
  const headers = ['stage', 'utilization', 'bubble', 'busy ms', 'peak memory'];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (row: string[]) => `  ${row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}`;
  return [
    `traced      ${planText(traced)} (${tracePath})`,
    `            ${fit}`,
    `predicted   ${planText(r.predicted.plan!)}`,
    `step time   ${predictionText(r.prediction)}${p.samplesPerSec !== null ? `   ${p.samplesPerSec.toFixed(1)} samples/s` : ''}`,
    `bubble      ${pct(p.bubbleFraction)} mean over stages${p.analyticBubbleFraction !== null ? ` (${analyticBubbleFormula(r.predicted.plan!) ?? 'analytic'}: ${pct(p.analyticBubbleFraction)})` : ''}`,
    line(headers),
    ...rows.map(line),
    ...(out ? [`trace       ${out}  (predicted; opens like a captured one)`] : []),
    '',
  ].join('\n');
}

export function registerSimulate(program: Command, io: CliIO): void {
  program
    .command('simulate')
    .argument('<trace>', 'a pipeprof trace (.pptrace.json) to calibrate the timing model on')
    .description('predict a plan\'s step time, bubble and memory from a traced run (default: the traced plan)')
    .option('--balance <list>', "layers per stage, e.g. 3,3,2 (default: the traced plan's)")
    .option('--microbatches <M>', "micro-batches per minibatch, dividing the traced batch (default: the traced plan's)")
    .option('--schedule <name>', `${SCHEDULES.join(' | ')} (default: the traced plan's)`)
    .option('--recompute <mode>', `${RECOMPUTE_MODES.join(' | ')} (default: the traced plan's)`)
    .option('--chunks <v>', "model chunks per stage for interleaved-1f1b; --balance then lists layers per virtual stage, stages × v of them (default: the traced plan's, 1)")
    .option('--steps <T>', 'steps to simulate (default: as many as the trace measured)')
    .option('--json', 'print the report of the predicted run, with the names of report --json (default: off)')
    .option('--out <file>', 'write the predicted run as a trace file, e.g. predicted.pptrace.json (default: off)')
    .action(async (tracePath: string, flags: SimulateFlags) => {
      checkOutputs([{ flag: '--out', file: flags.out }], [{ flag: '', file: tracePath }]);
      const r = await simulateTrace(tracePath, flags);
      if (flags.out) await writeTimeline(flags.out, r.predicted);
      const { ms, ...interval } = r.prediction;
      if (flags.json) io.out(`${JSON.stringify({ ...r.report, prediction: { stepTimeMs: ms, ...interval } })}\n`);
      else io.out(formatSimulation(r, tracePath, flags.out));
    });
}
