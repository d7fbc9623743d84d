// `pipeprof recommend <trace>`: calibrate on a trace, rank plans by predicted step time, export them for an engine, optionally write the best into a config file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { parse } from 'jsonc-parser';
import { CAPTURE_DEFAULTS } from '../core/config/capture-config';
import { applyPlanToConfig, newConfigFields, planText, rootObject } from '../core/config/apply-plan';
import { UsageError } from '../core/config/errors';
import { writeFileAtomic } from '../core/io/atomic';
import { readInputs } from './io';
import { KINETO_UNITS_PER_MICROBATCH } from '../core/recommend/for-trace';
import { VERIFY_WARMUP_MS, verificationCandidates, verifyPlans } from '../core/io/verify';
import type { RankedPlan } from '../core/recommend/recommend';
import { Progress } from './io';
import { recommendForTrace } from '../core/recommend/for-trace';
import type { ExportFormat } from '../core/recommend/export';
import { EXPORT_FORMATS, exportPlan, parseFormat } from '../core/recommend/export';
import { formatBytes } from '../core/recommend/partition';
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

function positiveInt(text: string | undefined, flag: string, example: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError([`${flag} must be a positive integer (got ${JSON.stringify(text)}); e.g. ${flag} ${example}`]);
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
    const text = fs.readFileSync(file, 'utf8');
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
}

export function registerRecommend(program: Command, io: CliIO): void {
  program
    .command('recommend')
    .argument('<trace>', 'a pipeprof trace (.pptrace.json) to calibrate the timing model on')
    .description('rank plans (balance, micro-batches, schedule, recompute) by predicted step time')
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
      const stages = check(() => positiveInt(flags.stages, '--stages', '2'));
      const workers = check(() => positiveInt(flags.workers, '--workers', '4'));
      const verify = check(() => positiveInt(flags.verify, '--verify', '3'));
      const top = check(() => positiveInt(flags.top, '--top', '5')) ?? RECOMMEND_DEFAULTS.top;
      const format: ExportFormat | undefined = flags.format === undefined ? undefined : check(() => parseFormat(flags.format!));
      if (problems.length) throw new UsageError(problems);
      // The config file --apply edits is checked before any work too.
      const applyText = flags.apply === undefined ? undefined : readApplyTarget(flags.apply);

      const timeline = await readInputs(io, tracePath);
      if (verify) io.err('recommend: calibrating the timing model on the trace and ranking plans on it\n');
      const found = recommendForTrace(timeline, tracePath, { stages, workers, memoryLimitBytes, top: Math.max(top, verify ?? 0) });
      const { measuredMs: measured, traced } = found;
      let plans = found.plans;
      /** Measured step time of each verified plan, by the plan. */
      const verified = new Map<RankedPlan, number>();
      if (verify) {
        // Measured: the best plan of each schedule first, then the next best (see verificationCandidates).
        const candidates = verificationCandidates(plans, verify);
        const progress = new Progress(io, 'verify');
        io.err(`verify: running ${candidates.length} plan${candidates.length === 1 ? '' : 's'} for real on the traced model, 2 rounds in alternating order, each run ${VERIFY_WARMUP_MS / 1000} s of warm-up then 4 steps\n`);
        const results = await verifyPlans(timeline, candidates, { onRun: (r) => progress.update(r.done, r.total, `round ${r.round}, plan #${r.rank}: ${r.ms.toFixed(0)} ms per step`) });
        for (const r of results) verified.set(candidates[r.rank - 1], r.measuredStepTimeMs);
        // Verified plans first, fastest measured first; the rest keep the simulator's order.
        plans = [...candidates.slice().sort((a, b) => verified.get(a)! - verified.get(b)!), ...plans.filter((p) => !verified.has(p))].slice(0, Math.max(top, verify));
      }

      const exported = format ? plans.map((plan) => exportPlan(format, { plan, layers: timeline.layers, batch: timeline.batch })) : null;

      if (flags.json) {
        const keys = ['balance', 'microbatches', 'schedule', 'recompute', 'replicas', 'predictedStepTimeMs', 'speedup', 'peakMemoryBytes', 'layout'] as const;
        io.out(`${JSON.stringify({ plans: plans.map((p, i) => ({ ...Object.fromEntries(keys.map((k) => [k, p[k]])), ...(verified.has(p) ? { measuredStepTimeMs: verified.get(p) } : {}), ...(p.chunks ? { chunks: p.chunks } : {}), ...(p.sync ? { sync: p.sync } : {}), ...(exported ? { export: exported[i] } : {}) })) })}\n`);
      } else {
        io.out(`traced plan  ${planText(traced)}${measured !== undefined ? `: ${measured.toFixed(1)} ms per step (median, measured)` : ''}\n`);
        if (timeline.origin === 'kineto')
          io.out(`note         a PyTorch trace has no per-layer costs: each stage is one unit of work, so plans keep the stages and choose the micro-batch count (in units of 1/${KINETO_UNITS_PER_MICROBATCH} of a traced micro-batch) and the schedule\n`);
        io.out(`model        calibrated on ${tracePath}${measured !== undefined ? '; predicted step times are scaled so the traced plan predicts its measured one' : ''}\n`);
        if (memoryLimitBytes !== undefined) io.out(`memory limit ${formatBytes(memoryLimitBytes)} per stage\n`);
        io.out('\n');
        io.out(`${table(
          ['#', 'layout', 'balance', 'M', 'schedule', 'recompute', ...(workers ? ['R', 'sync'] : []), 'step ms', ...(verify ? ['measured ms'] : []), 'speedup', 'bubble', 'peak memory'],
          plans.map((p, i) => [
            String(i + 1), p.layout, `[${p.balance.join(',')}]`, String(p.microbatches), p.schedule, p.recompute, ...(workers ? [String(p.replicas), p.sync?.sync ?? '-'] : []),
            p.predictedStepTimeMs.toFixed(1), ...(verify ? [verified.has(p) ? verified.get(p)!.toFixed(1) : '–'] : []), `${p.speedup.toFixed(2)}x`, `${(p.bubbleFraction * 100).toFixed(1)}%`, formatBytes(p.peakMemoryBytes),
          ]),
        )}\n`);
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
        await writeFileAtomic(file, updated);
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
