// `pipeprof recommend <trace>`: calibrate on a trace, rank plans by predicted step time, export them for an engine, optionally write the best into a config file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { parse } from 'jsonc-parser';
import { CAPTURE_DEFAULTS } from '../core/config/capture-config';
import { applyPlanToConfig, newConfigFields, planText, rootObject } from '../core/config/apply-plan';
import { UsageError } from '../core/config/errors';
import { MAX_CONFIG_BYTES, checkConfigText } from '../core/config/config-text';
import { readCapped } from './capture';
import { checkOutputs, writeOrKeep } from '../core/io/outputs';
import { expandInputs } from '../core/io/read-trace';
import { readInputs, Progress } from './io';
import { KINETO_UNITS_PER_MICROBATCH, engineTerms, recommendForTrace } from '../core/recommend/for-trace';
import { VERIFY_WARMUP_MS, verificationCandidates, verifyPlans } from '../core/io/verify';
import type { VerifiedPlan } from '../core/io/verify';
import { predictionText } from '../core/simulate/uncertainty';
import type { RankedPlan } from '../core/recommend/recommend';
import type { ExportFormat } from '../core/recommend/export';
import { EXPORT_FORMATS, exportPlan, parseFormat } from '../core/recommend/export';
import { formatBytes } from '../core/text';
import type { CliIO } from './io';


export const RECOMMEND_DEFAULTS = { top: 5 } as const;

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  ki: 1024, kib: 1024, mi: 1024 ** 2, mib: 1024 ** 2, gi: 1024 ** 3, gib: 1024 ** 3, ti: 1024 ** 4, tib: 1024 ** 4,
};

/** `4GiB`, `512MiB`, `1.5GB`, `1e9` (bytes) → bytes; a UsageError naming the flag otherwise. */
export function parseBytes(text: string, flag = '--memory-limit'): number {
  const m = /^\s*((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  const bytes = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
  if (!Number.isFinite(bytes) || bytes <= 0)
    throw new UsageError([`${flag} must be a positive size such as 4GiB, 512MiB or 1e9 (bytes) (got ${JSON.stringify(text)}); write a number with an optional unit B, KB, MB, GB, KiB, MiB or GiB`]);
  return bytes;
}

/** Bounds of the search flags: --workers beyond this many stage workers, --verify beyond this many real runs, are no plan to search. */
export const RECOMMEND_LIMITS = { stages: 1024, workers: 1024, verify: 16, top: 1000 } as const;

function positiveInt(text: string | undefined, flag: string, example: string, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError([`${flag} must be a positive integer (got ${JSON.stringify(text)}); e.g. ${flag} ${example}`]);
  if (n > max) throw new UsageError([`${flag} must be at most ${max} (got ${JSON.stringify(text)}); e.g. ${flag} ${example}`]);
  return n;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** The text of the config file --apply will edit (null: it does not exist yet, and its folder does); problems as UsageErrors. */
function readApplyTarget(file: string): string | null {
  try {
    const text = checkConfigText(readCapped(file, MAX_CONFIG_BYTES), file);
    rootObject(text, file);
    return text;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new UsageError([`${file}: cannot read the config file (${code ?? (e as Error).message}); check the path`]);
    const dir = path.dirname(path.resolve(file));
    if (!fs.existsSync(dir)) throw new UsageError([`${file}: folder ${dir} does not exist; create it or give --apply another path`]);
    return null;
  }
}

export interface RecommendFlags {
  memoryLimit?: string;
  stages?: string;
  workers?: string;
  verify?: string;
  top?: string;
  json?: boolean;
  apply?: string;
  format?: string;
  /** Blocks per stage of an imported PyTorch pipeline (--layers 2,8,8,2), so plans may move them between stages. */
  layers?: string;
}

/** --layers 2,8,8,2 → [2, 8, 8, 2]; one line when it is not a list of counts. */
function parseLayers(v: string): number[] {
  const xs = v.split(',').map((x) => Number(x.trim()));
  if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 0)) throw new UsageError([`--layers must list blocks per stage as whole numbers ≥ 0 (got ${JSON.stringify(v)}); e.g. --layers 2,8,8,2`]);
  return xs;
}

export function registerRecommend(program: Command, io: CliIO): void {
  program
    .command('recommend')
    .argument('<trace>', 'a pipeprof trace (.pptrace.json) to calibrate the timing model on')
    .description('rank plans (balance, micro-batches, schedule, recompute) by predicted step time')
    .option('--layers <counts>', 'an imported PyTorch pipeline: blocks per stage (e.g. 2,8,8,2); the first and last stages\' extra work (embedding, head, loss) is solved from the stages\' measured times, and plans may move blocks between stages (default: stages stay whole)')
    .option('--memory-limit <size>', 'per-stage memory limit, e.g. 4GiB, 512MiB or 1e9 bytes (default: none)')
    .option('--stages <S>', "stage count of the plans searched (default: the traced plan's)")
    .option('--workers <N>', 'search stages × replicas = N: the replica count and its sync mode (step or layerwise) too (default: the traced workers, no new replicas)')
    .option('--top <N>', `plans to list, best first (default: ${RECOMMEND_DEFAULTS.top})`)
    .option('--json', 'print {"plans": [...]} on stdout, best first (default: off)')
    .option('--format <fmt>', `also export plans for an engine: ${EXPORT_FORMATS.join(' | ')}. Text output prints the export of plan #1 (the one --apply writes) under the table, and when an engine cannot run it (Megatron's equal middle stages), why, the nearest plan it can, and the best listed plan it can; --json adds "export": {format, ok, snippet, problem, nearest} to every plan (default: off)`)
    .option('--verify <N>', 'run N of the top plans for real on the traced model (the best of each schedule first, then the next best; a few steps each, alternating) and rank them by measured step time; --apply then writes the fastest measured (default: off)')
    .option('--apply <file>', 'write the best plan into this pipeprof.config.json, keeping the rest of it; created if missing (default: off)')
    .action(async (tracePath: string, flags: RecommendFlags) => {
      // Every flag is checked before the trace is read, so bad input costs nothing.
      const problems: string[] = [];
      const check = <T>(f: () => T): T | undefined => {
        try {
          return f();
        } catch (e) {
          if (!(e instanceof UsageError)) throw e;
          problems.push(...e.problems);
          return undefined;
        }
      };
      const memoryLimitBytes = flags.memoryLimit === undefined ? undefined : check(() => parseBytes(flags.memoryLimit!));
      const stages = check(() => positiveInt(flags.stages, '--stages', '2', RECOMMEND_LIMITS.stages));
      const workers = check(() => positiveInt(flags.workers, '--workers', '4', RECOMMEND_LIMITS.workers));
      const verify = check(() => positiveInt(flags.verify, '--verify', '3', RECOMMEND_LIMITS.verify));
      const top = check(() => positiveInt(flags.top, '--top', '5', RECOMMEND_LIMITS.top)) ?? RECOMMEND_DEFAULTS.top;
      const format: ExportFormat | undefined = flags.format === undefined ? undefined : check(() => parseFormat(flags.format!));
      const layers = flags.layers === undefined ? undefined : check(() => parseLayers(flags.layers!));
      if (problems.length) throw new UsageError(problems);
      // The config file --apply edits is checked before any work too.
      const applyText = flags.apply === undefined ? undefined : readApplyTarget(flags.apply);
      if (flags.apply !== undefined) checkOutputs([{ flag: '--apply', file: flags.apply }], (await expandInputs([tracePath])).map((f) => ({ flag: '', file: f })));

      const timeline = await readInputs(io, tracePath);
      if (verify) io.err('recommend: calibrating the timing model on the trace and ranking plans on it\n');
      const found = recommendForTrace(timeline, tracePath, { stages, workers, memoryLimitBytes, top: Math.max(top, verify ?? 0), layers });
      const { measuredMs: measured, traced, tracedRanked } = found;
      let plans = found.plans;
      /** What --verify measured of each verified plan, by the plan. */
      const verified = new Map<RankedPlan, VerifiedPlan>();
      let baselineMs: number | undefined;
      if (verify) {
        // Measured: the best plan of each schedule first, then the next best (see verificationCandidates), and the
        // traced plan in the same alternating rounds, so a slow stretch of the machine lands on all of them.
        const candidates = verificationCandidates(plans, verify);
        io.err(`verify: running ${candidates.length} plan${candidates.length === 1 ? "" : "s"} and the traced plan for real on the traced model, 2 rounds in alternating order, each run ${VERIFY_WARMUP_MS / 1000} s of warm-up then 4 steps\n`);
        const progress = new Progress(io, 'verify');
        const v = await verifyPlans(timeline, candidates, {
          baseline: traced,
          onRun: (r) => progress.update(r.done, r.total, `round ${r.round}, ${r.baseline ? 'the traced plan' : `plan #${r.rank}`}: ${r.ms.toFixed(0)} ms per step`),
        });
        for (const r of v.plans) verified.set(candidates[r.rank - 1], r);
        baselineMs = v.baselineMs;
        // Verified plans first, fastest measured first; the rest keep the simulator's order.
        const ms = (p: RankedPlan) => verified.get(p)!.measuredStepTimeMs;
        plans = [...candidates.slice().sort((x, y) => ms(x) - ms(y)), ...plans.filter((p) => !verified.has(p))].slice(0, Math.max(top, verify));
      }
      // A recommendation never makes the run slower: when no plan beats the traced one (measured, or beyond the
      // prediction's interval), the traced plan itself comes first, and --apply keeps it.
      // (Only where the search may keep the traced shape: asked for other --stages or --workers, the list is what was asked.)
      const tracedStages = traced.balance.length / (traced.chunks ?? 1);
      const tracedShape = (stages === undefined || stages === tracedStages) && (workers === undefined || workers === tracedStages * Math.max(1, traced.replicas ?? 1));
      const keepTraced = tracedShape && (baselineMs !== undefined ? verified.get(plans[0])!.measuredStepTimeMs >= baselineMs : !plans[0].faster);
      if (keepTraced) plans = [tracedRanked, ...plans].slice(0, Math.max(top, verify ?? 0));
      const isTraced = (p: RankedPlan) => p === tracedRanked;

      const exported = format ? plans.map((plan) => exportPlan(format, { plan, layers: timeline.layers, batch: timeline.batch })) : null;

      if (flags.json) {
        const keys = ['balance', 'microbatches', 'schedule', 'recompute', 'replicas', 'predictedStepTimeMs', 'intervalRelative', 'speedup', 'faster', 'peakMemoryBytes', 'layout'] as const;
        const entry = (p: RankedPlan, i: number) => {
          const v = verified.get(p);
          return {
            ...Object.fromEntries(keys.map((k) => [k, p[k]])), ...(isTraced(p) ? { traced: true } : {}),
            ...(v ? { measuredStepTimeMs: v.measuredStepTimeMs, ...(v.speedup ? { measuredSpeedup: v.speedup } : {}) } : {}),
            ...(p.chunks ? { chunks: p.chunks } : {}), ...(p.sync ? { sync: p.sync } : {}), ...(exported ? { export: exported[i] } : {}),
          };
        };
        io.out(`${JSON.stringify({
          traced: { predictedStepTimeMs: tracedRanked.predictedStepTimeMs, intervalRelative: tracedRanked.intervalRelative, ...(measured !== undefined ? { measuredStepTimeMs: measured } : {}), ...(baselineMs !== undefined ? { verifiedStepTimeMs: baselineMs } : {}) },
          keepTraced,
          plans: plans.map(entry),
        })}\n`);
      } else {
        io.out(`traced plan  ${planText(traced)}${measured !== undefined ? `: ${measured.toFixed(1)} ms per step (median, measured)` : ''}\n`);
        if (found.solve) {
          const v = found.solve;
          io.out(`layers       solved from the stages' F + B per micro-batch: a block ${v.blockMs.toFixed(2)} ms, the first stage's extra work (embedding) ${v.firstExtraMs.toFixed(2)} ms, the last's (head, loss) ${v.lastExtraMs.toFixed(2)} ms\n`);
          // The best plan with one stage per rank (an interleaved plan's virtual stages are no engine's split points).
          const k = plans.findIndex((p) => p.balance.length === found.traced.balance.length && !p.chunks);
          if (k >= 0) {
            const terms = engineTerms(plans[k].balance, v);
            io.out(`plan #${k + 1}${' '.repeat(Math.max(1, 6 - String(k + 1).length))}in the engines' terms: Megatron ${terms.megatron}; torch ${terms.torch}; DeepSpeed ${terms.deepspeed}\n`);
          }
        } else if (found.tracedShapeOnly)
          io.out(`note         the trace has no per-layer probe (captured with --no-probe): only schedules and recompute modes at the traced balance and micro-batch count are ranked; capture without --no-probe to search them all\n`);
        else if (timeline.origin === 'kineto')
          io.out(`note         a PyTorch trace has no per-layer costs: each stage is one unit of work, so plans keep the stages and choose the micro-batch count (in units of 1/${KINETO_UNITS_PER_MICROBATCH} of a traced micro-batch) and the schedule\n`);
        io.out(`model        calibrated on ${tracePath}: the traced plan predicts ${predictionText({ ms: tracedRanked.predictedStepTimeMs, relative: tracedRanked.intervalRelative })}; each interval holds the run's step spread, the fit's residual and the plan's distance from the traced one\n`);
        if (memoryLimitBytes !== undefined) io.out(`memory limit ${formatBytes(memoryLimitBytes)} per stage\n`);
        io.out('\n');
        const gain = (p: RankedPlan) => (isTraced(p) ? 'traced plan' : p.faster ? 'faster' : 'within noise');
        io.out(`${table(
          ['#', 'layout', 'balance', 'M', 'schedule', 'recompute', ...(workers ? ['R', 'sync'] : []), 'predicted ms', '±', ...(verify ? ['measured ms', 'measured speedup'] : []), 'speedup', 'vs traced', 'bubble', 'peak memory'],
          plans.map((p, i) => {
            const v = verified.get(p);
            return [
              String(i + 1), p.layout, `[${p.balance.join(',')}]`, String(p.microbatches), p.schedule, p.recompute, ...(workers ? [String(p.replicas), p.sync?.sync ?? '-'] : []),
              p.predictedStepTimeMs.toFixed(1), `${(p.intervalRelative * 100).toFixed(1)}%`,
              ...(verify ? [v ? v.measuredStepTimeMs.toFixed(1) : isTraced(p) && baselineMs !== undefined ? baselineMs.toFixed(1) : '–', v?.speedup ? `${v.speedup.median.toFixed(2)}x (${v.speedup.min.toFixed(2)}–${v.speedup.max.toFixed(2)})` : '–'] : []),
              `${p.speedup.toFixed(2)}x`, gain(p), `${(p.bubbleFraction * 100).toFixed(1)}%`, formatBytes(p.peakMemoryBytes),
            ];
          }),
        )}\n`);
        if (keepTraced) {
          const best = plans.find((p) => !isTraced(p));
          io.out(baselineMs !== undefined
            ? `\nkeep the traced plan: measured side by side, no plan beat it (traced ${baselineMs.toFixed(1)} ms${best && verified.get(best) ? `, the best other ${verified.get(best)!.measuredStepTimeMs.toFixed(1)} ms` : ''})\n`
            : `\nkeep the traced plan: it is already within noise of the best plan found (${best ? `${best.speedup.toFixed(2)}x predicted, inside its ±${(best.intervalRelative * 100).toFixed(1)}%` : 'none other'}); run with --verify 3 to measure the top plans against it side by side\n`);
        }
        if (exported && format) {
          const [first] = exported;
          io.out(`\n${format} export of plan #1 (${planText(plans[0])}):\n`);
          io.out(first.ok ? `${first.snippet}\n` : `${first.problem}\n`);
          // The engine cannot run plan #1: the best listed plan it can run, if any.
          const k = first.ok ? -1 : exported.findIndex((e) => e.ok);
          if (k > 0) io.out(`\n${format} export of plan #${k + 1}, the best listed plan it can run (${planText(plans[k])}):\n${exported[k].snippet}\n`);
          else if (!first.ok) io.out(`no listed plan can be exported to ${format}; list more with --top\n`);
        }
      }

      if (flags.apply !== undefined && applyText !== undefined) {
        const file = flags.apply;
        const text = applyText;
        const best = plans[0];
        // A new file also names the traced model and batch, so `pipeprof capture FILE` runs the plan as recommended.
        const updated = applyPlanToConfig(text, best, file, newConfigFields(timeline));
        await writeOrKeep('--apply', file, updated);
        const note = `${text === null ? 'created' : 'updated'} ${file}: ${planText(best)}\n`;
        if (flags.json) io.err(note);
        else io.out(`\n${note}`);
        if (text !== null) {
          const batch = (parse(updated) as { batch?: unknown }).batch ?? CAPTURE_DEFAULTS.batch;
          if (batch !== timeline.batch) io.err(`pipeprof: note: ${file} has batch ${batch} but the plan was found for the traced batch ${timeline.batch}; set "batch": ${timeline.batch} there to run it as recommended\n`);
        }
      }
    });
}
