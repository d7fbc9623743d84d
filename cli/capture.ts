// `pipeprof capture`: flags and config file → a CaptureConfig → core capture; prints a summary or JSON.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { parse as parseJsonc, printParseErrorCode } from 'jsonc-parser';
import type { ParseError } from 'jsonc-parser';
import { CAPTURE_DEFAULTS, checkFields, mergeConfig } from '../core/config/capture-config';
import type { CaptureConfig } from '../core/config/capture-config';
import { UsageError } from '../core/config/errors';
import { MAX_CONFIG_BYTES, checkConfigSize, checkConfigText } from '../core/config/config-text';
import { capture } from '../core/io/capture';
import type { CaptureSummary } from '../core/io/capture';
import type { Fault } from '../core/runtime/protocol';
import type { CliIO } from './io';
import { Progress } from './io';

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const def = (k: keyof CaptureConfig) => `(default: ${JSON.stringify(CAPTURE_DEFAULTS[k])})`;

/** Registers the flags shared by capture-like commands. */
export function captureFlags(cmd: Command): Command {
  return cmd
    .option('--model <name>', `mlp | cnn | transformer | path to a tfjs model.json ${def('model')}`)
    .option('--stages <S>', `stages, with a uniform balance ${def('stages')}`)
    .option('--balance <list>', 'layers per stage, e.g. 3,3,2 (default: uniform over --stages)')
    .option('--microbatches <M>', `micro-batches per minibatch ${def('microbatches')}`)
    .option('--batch <B>', `samples per minibatch ${def('batch')}`)
    .option('--schedule <name>', `gpipe | 1f1b | interleaved-1f1b (with --chunks) | zb-h1 (backward split into B and W) ${def('schedule')}`)
    .option('--chunks <v>', 'model chunks per stage for interleaved-1f1b; --balance then lists layers per virtual stage, stages × v of them (default: 1)')
    .option('--recompute <mode>', `always | except-last | never ${def('recompute')}`)
    .option('--replicas <R>', `data-parallel copies of every stage, each taking a share of every micro-batch ${def('replicas')}`)
    .option('--sync <mode>', `how replicas combine gradients: step (all-reduce after backward) | layerwise (each layer's all-reduce overlaps the rest of backward) | pipelined (Pipe-SGD: during the next step, one step stale) | ps (parameter server) ${def('sync')}`)
    .option('--allreduce <algo>', `ring (reduce-scatter + all-gather) | naive (gather to replica 0) ${def('allreduce')}`)
    .option('--compress <codec>', `gradient compression on the wire: none | fp16 | int8 ${def('compress')}`)
    .option('--steps <T>', `measured steps ${def('steps')}`)
    .option('--warmup <W>', `unmeasured steps first ${def('warmup')}`)
    .option('--warmup-ms <ms>', `and warm up for at least this long: a fresh worker runs ~10% slower in its first seconds while V8 compiles in the background ${def('warmupMs')}`)
    .option('--no-probe', "skip the per-layer cost probe after the steps (a few seconds: each distinct layer timed at every micro-batch size). Without it the simulator knows each stage's op times at the traced micro-batch size only: simulate predicts the traced balance and micro-batch count (other schedules and recompute modes), and recommend ranks only those (default: probe)")
    .option('--optimizer <name>', `sgd | momentum | nesterov | adam | pprs (Pipeline Parallel Random Smoothing: Nesterov on a Gaussian smoothing of the loss) ${def('optimizer')}`)
    .option('--lr <x>', `learning rate ${def('lr')}`)
    .option('--loss <kind>', "softmax-ce | mse | hinge | l1: score the model with this loss (default: the model's own)")
    .option('--smoothing <x>', `pprs: standard deviation of the weight perturbation ${def('smoothing')}`)
    .option('--backend <name>', `wasm | tensorflow | tensorflow-gpu | webgpu | cpu ${def('backend')}`)
    .option('--seed <N>', `seed for weights and data ${def('seed')}`)
    .option('--out <file>', `trace file to write ${def('out')}`)
    .option('--save-weights <file>', 'write the final weights as JSON (layer → weight → {shape, values}) (default: off)')
    .option('--json', 'print one JSON summary on stdout (default: off)')
    .option('--quiet', 'no progress bar (default: off)');
}

/** What a capture-like command prints as each phase of the run starts: `capture: training …`. */
export function phaseLine(io: CliIO, label: string): (p: { detail: string }) => void {
  return (p) => io.err(`${label}: ${p.detail}\n`);
}

const NUMBER_FIELDS = new Set(['stages', 'chunks', 'replicas', 'microbatches', 'batch', 'steps', 'warmup', 'warmupMs', 'lr', 'smoothing', 'seed']);

/** Commander's string flags → a partial config; unparsable numbers stay strings so validation names them. */
export function flagsToConfig(flags: Record<string, unknown>): Partial<CaptureConfig> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined || k === 'json' || k === 'quiet') continue;
    // Commander gives --no-probe as probe: false, and probe: true when it is absent: only the flag itself counts.
    if (k === 'probe') {
      if (v === false) out.probe = false;
      continue;
    }
    if (NUMBER_FIELDS.has(k)) out[k] = v === '' || Number.isNaN(Number(v)) ? v : Number(v);
    else if (k === 'balance') {
      const parts = String(v).split(',').map((x) => x.trim());
      out[k] = parts.every((p) => p !== '' && !Number.isNaN(Number(p))) ? parts.map(Number) : v;
    } else out[k] = v;
  }
  return out as Partial<CaptureConfig>;
}

/** Reads a config file; paths inside it are relative to its folder. Problems name the file. */
export function readConfigFile(file: string): Partial<CaptureConfig> {
  let text: string;
  try {
    text = readCapped(file, MAX_CONFIG_BYTES);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError([`${file}: cannot read the config file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the path`]);
  }
  text = checkConfigText(text, file);
  // JSON with comments and trailing commas, as VS Code edits it (and as `recommend --apply` keeps it).
  const errors: ParseError[] = [];
  const raw: unknown = parseJsonc(text, errors, { allowTrailingComma: true });
  if (errors.length) {
    const { line, column } = lineAndColumn(text, errors[0].offset);
    throw new UsageError([`${file}: is not valid JSON (${printParseErrorCode(errors[0].error)} at line ${line}, column ${column}); fix the syntax (the JSON Schema in schema/pipeprof.config.schema.json describes the fields)`]);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError([`${file}: must hold a JSON object of settings, e.g. {"model": "mlp", "stages": 2}`]);
  const obj = raw as Record<string, unknown>;
  const problems = checkFields(obj, (f) => `${file}: ${f}`);
  if (problems.length) throw new UsageError(problems);
  const dir = path.dirname(file);
  const rel = (p: unknown) => (typeof p === 'string' && !path.isAbsolute(p) ? path.join(dir, p) : p);
  const cfg = { ...obj } as Record<string, unknown>;
  delete cfg.$schema;
  for (const k of ['out', 'saveWeights']) if (cfg[k] !== undefined) cfg[k] = rel(cfg[k]);
  const m = cfg.model;
  if (typeof m === 'string' && m.endsWith('.json')) cfg.model = rel(m);
  else if (m && typeof m === 'object' && String((m as { name: string }).name).endsWith('.json')) cfg.model = { ...(m as object), name: rel((m as { name: string }).name) };
  return cfg as Partial<CaptureConfig>;
}

/** A file's text, reading at most `cap` + 1 bytes (a device or pipe may never end); a UsageError when it is longer. */
export function readCapped(file: string, cap: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(cap + 1);
    let n = 0;
    for (let k; n < buf.length && (k = fs.readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += k;
    if (n > cap) checkConfigSize(fs.fstatSync(fd).isFile() ? fs.fstatSync(fd).size : n, file);
    return buf.toString('utf8', 0, n);
  } finally {
    fs.closeSync(fd);
  }
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** PIPEPROF_FAULT=stage[.replica]:op:step:kind (e.g. 1:B:1:throw, 0.1:ALLREDUCE:2:hang) injects a fault, for tests of the failure path. */
export function faultFromEnv(v: string | undefined): Fault | undefined {
  if (!v) return undefined;
  const [where, op, step, kind] = v.split(':');
  const [stage, replica = '0'] = (where ?? '').split('.');
  if (!['F', 'B', 'R', 'OPT', 'ALLREDUCE'].includes(op) || !['throw', 'exit', 'nan', 'hang', 'oom'].includes(kind) || !/^\d+$/.test(stage) || !/^\d+$/.test(replica) || !/^\d+$/.test(step ?? ''))
    throw new UsageError([`PIPEPROF_FAULT must be stage[.replica]:op:step:kind with op F|B|R|OPT|ALLREDUCE and kind throw|exit|nan|hang|oom (got "${v}"); unset it for a normal run`]);
  return { stage: +stage, replica: +replica, op: op as Fault['op'], step: +step, kind: kind as Fault['kind'] };
}

/** Resolves config file + flags into one validated configuration, naming where each bad value came from. */
export function resolveCaptureConfig(configFile: string | undefined, flags: Record<string, unknown>): { cfg: CaptureConfig; source: (f: string) => string } {
  const fromFile = configFile ? readConfigFile(configFile) : {};
  const fromFlags = flagsToConfig(flags);
  const problems = checkFields(fromFlags as Record<string, unknown>, (f) => `--${kebab(f)}`);
  if (problems.length) throw new UsageError(problems);
  const source = (f: string) => (f in fromFlags ? `--${kebab(f)}` : configFile && f in fromFile ? `${configFile}: ${f}` : `the default ${f}`);
  return { cfg: mergeConfig(fromFile, fromFlags), source };
}

/** A progress line's detail: the step as the trace and the report number it (from 0), warm-up named, its time and loss. */
export function stepDetail(p: { step: number; stepMs: number; loss: number; warmup: boolean }): string {
  return `step ${p.step}${p.warmup ? ' (warm-up)' : ''}  ${p.stepMs.toFixed(0)} ms  loss ${p.loss.toFixed(4)}`;
}

export function printSummary(io: CliIO, s: CaptureSummary, losses: number[]): void {
  const p = s.plan;
  io.out(
    [
      `plan        ${p.stages} stages, balance [${p.balance.join(',')}], ${p.microbatches} micro-batches, ${p.schedule}, recompute ${p.recompute}${p.replicas > 1 ? `, ${p.replicas} replicas (sync ${p.sync})` : ''}`,
      `step time   ${s.stepTimeMs.toFixed(1)} ms (median)   ${s.samplesPerSec.toFixed(1)} samples/s`,
      `loss        ${losses[0]?.toFixed(4)} → ${s.finalLoss.toFixed(4)}`,
      `trace       ${s.trace}  (open in Perfetto or chrome://tracing)`,
      '',
    ].join('\n'),
  );
}

export function registerCapture(program: Command, io: CliIO): void {
  captureFlags(program.command('capture').argument('[config]', 'a pipeprof.config.json (flags override it)').description('train a plan on stage workers and write its trace'))
    .action(async (configFile: string | undefined, flags: Record<string, unknown>) => {
      const { cfg, source } = resolveCaptureConfig(configFile, flags);
      // A second capture with the default --out replaces the first run's trace: say so before the work starts.
      if (!('out' in flags && flags.out !== undefined) && cfg.out === CAPTURE_DEFAULTS.out && fs.existsSync(cfg.out))
        io.err(`pipeprof: ${cfg.out} exists (an earlier capture); this run replaces it: give --out <file> to keep both\n`);
      const progress = new Progress(io, 'capture');
      // SIGINT or SIGTERM stops the run as a fault does: the trace of the steps so far is kept (a second one exits at once).
      const abort = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        if (abort.signal.aborted) process.exit(130);
        abort.abort(`interrupted by ${sig}`);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let done: Awaited<ReturnType<typeof capture>>;
      try {
        done = await capture(cfg, {
          source,
          inputs: configFile ? [{ flag: 'the config file', file: configFile }] : [],
          signal: abort.signal,
          onWarning: (w) => io.err(`pipeprof: warning: ${w}\n`),
          fault: faultFromEnv(process.env.PIPEPROF_FAULT),
          onStep: flags.quiet ? undefined : (p) => progress.update(p.step + 1, p.total, stepDetail(p)),
          onPhase: flags.quiet ? undefined : phaseLine(io, 'capture'),
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      const { summary, result } = done;
      if (flags.json) io.out(`${JSON.stringify(summary)}\n`);
      else printSummary(io, summary, result.losses);
    });
}
