// The capture configuration: defaults, merging (defaults < config file < flags), and validation with one line per problem.
import { BUILTIN_MODELS } from '../model/builtin';
import { choice } from './choice';
import { LOSSES } from '../model/types';
import type { LossKind } from '../model/types';
import { checkChunks } from '../plan/check';
import { SCHEDULES, RECOMPUTE_MODES, SYNC_MODES, ALLREDUCE_ALGOS, COMPRESSIONS } from '../plan/types';
import type { ScheduleName, RecomputeMode, SyncMode, AllReduceAlgo, Compression } from '../plan/types';
import { BACKENDS } from '../runtime/backends';
import type { BackendName } from '../runtime/backends';
import { OPTIMIZERS } from '../runtime/optimizer';
import type { OptimizerName } from '../runtime/optimizer';
import { divisors, uniformBalance } from '../plan/partition';

/** A model by name (`mlp`, `cnn`, `transformer`, or a path to a tfjs model.json), with options for built-ins. */
export type ModelChoice = string | { name: string; [option: string]: number | string };

export interface CaptureConfig {
  model: ModelChoice;
  stages?: number;
  balance?: number[];
  microbatches: number;
  batch: number;
  schedule: ScheduleName;
  recompute: RecomputeMode;
  /** Model chunks per stage (interleaved-1f1b); with v > 1, `balance` lists layers per virtual stage. */
  chunks?: number;
  /** Data-parallel copies of every stage; each takes an equal share of every micro-batch. */
  replicas: number;
  sync: SyncMode;
  allreduce: AllReduceAlgo;
  compress: Compression;
  steps: number;
  warmup: number;
  /** Warm-up also lasts at least this long (ms), for the JIT's first seconds; 0: only the `warmup` steps. */
  warmupMs: number;
  /** After the steps, time each distinct layer at every micro-batch size (the simulator's per-layer costs); false skips it. */
  probe: boolean;
  optimizer: OptimizerName;
  lr: number;
  /** Score the model with this loss instead of its own (e.g. hinge or l1: non-smooth objectives for PPRS). */
  loss?: LossKind;
  /** PPRS: standard deviation of the weight perturbation. */
  smoothing: number;
  backend: BackendName;
  seed: number;
  out: string;
  saveWeights?: string;
}

export const CAPTURE_DEFAULTS: CaptureConfig = {
  model: 'mlp',
  stages: 2,
  microbatches: 4,
  batch: 32,
  schedule: '1f1b',
  recompute: 'never',
  replicas: 1,
  sync: 'step',
  allreduce: 'ring',
  compress: 'none',
  steps: 10,
  warmup: 2,
  warmupMs: 0,
  probe: true,
  optimizer: 'adam',
  lr: 0.001,
  smoothing: 0.01,
  backend: 'wasm',
  seed: 0,
  out: 'run.pptrace.json',
};

/** Every field a config file may hold, with its rule; the shipped JSON Schema mirrors this table. */
export const CONFIG_FIELDS = {
  model: 'a built-in model (mlp, cnn, transformer), a path to a tfjs model.json, or {"name": ..., options}',
  stages: 'a positive integer',
  balance: 'a list of positive integers, layers per stage',
  microbatches: 'a positive integer dividing batch',
  batch: 'a positive integer',
  schedule: `one of ${SCHEDULES.join(', ')}`,
  recompute: `one of ${RECOMPUTE_MODES.join(', ')}`,
  chunks: 'a positive integer, model chunks per stage (interleaved-1f1b)',
  replicas: 'a positive integer dividing the micro-batch (batch / microbatches)',
  sync: `one of ${SYNC_MODES.join(', ')}`,
  allreduce: `one of ${ALLREDUCE_ALGOS.join(', ')}`,
  compress: `one of ${COMPRESSIONS.join(', ')}`,
  steps: 'a positive integer',
  warmup: 'a non-negative integer',
  warmupMs: 'a non-negative number of milliseconds',
  probe: 'true or false: time each distinct layer after the steps, for the simulator',
  optimizer: `one of ${OPTIMIZERS.join(', ')}`,
  lr: 'a positive number',
  smoothing: 'a non-negative number (PPRS perturbation)',
  loss: `one of ${LOSSES.join(', ')}`,
  backend: `one of ${BACKENDS.join(', ')}`,
  seed: 'a non-negative integer',
  out: 'a file path',
  saveWeights: 'a file path',
} as const;

export type ConfigField = keyof typeof CONFIG_FIELDS;

/** A value as a message shows it: JSON, but Infinity and NaN by name (JSON would say null). */
export const showValue = (v: unknown): string => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v));

/** A built-in model's options (width, depth, blocks, vocab, ...) above this are no model this tool trains. */
export const MAX_MODEL_OPTION = 1_000_000;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** The fields whose value is one of a fixed list: every parser reads them through `choice`, in any case. */
export const CHOICE_FIELDS = {
  schedule: SCHEDULES,
  recompute: RECOMPUTE_MODES,
  sync: SYNC_MODES,
  allreduce: ALLREDUCE_ALGOS,
  compress: COMPRESSIONS,
  loss: LOSSES,
  optimizer: OPTIMIZERS,
  backend: BACKENDS,
} as const;


/** A partial configuration with every choice field spelled canonically (values that match none are kept, for checkFields to name). */
export function canonicalChoices<C extends Record<string, unknown>>(raw: C): C {
  const out: Record<string, unknown> = { ...raw };
  for (const [k, choices] of Object.entries(CHOICE_FIELDS)) if (k in out) out[k] = choice(out[k], choices as readonly string[]) ?? out[k];
  return out as C;
}

/**
 * Checks a partial configuration as read from a file or flags; `source` prefixes each problem
 * (e.g. `pipeprof.config.json: ` or `--`). Returns the problems, one line each.
 */
export function checkFields(raw: Record<string, unknown>, source: (field: string) => string): string[] {
  const problems: string[] = [];
  const p = (field: string, rule: string, value: unknown, fix: string) =>
    problems.push(`${source(field)} must be ${rule} (got ${showValue(value)}); ${fix}`);
  /** A field whose value is one of `choices`. */
  const oneOf = (k: ConfigField, choices: readonly string[], more = '', sep = ', ') => {
    if (choice(raw[k], choices) === undefined) p(k, CONFIG_FIELDS[k], raw[k], `use ${choices.join(sep)}${more}`);
  };
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    switch (k as ConfigField | '$schema') {
      case '$schema':
        break;
      case 'model':
        if (typeof v === 'string') {
          if (!(BUILTIN_MODELS as readonly string[]).includes(v) && !v.endsWith('.json'))
            p(k, CONFIG_FIELDS.model, v, `use one of ${BUILTIN_MODELS.join(', ')} or a path ending in .json`);
        } else if (!v || typeof v !== 'object' || typeof (v as { name?: unknown }).name !== 'string') {
          p(k, CONFIG_FIELDS.model, v, 'write e.g. "model": "transformer" or "model": {"name": "mlp", "width": 256}');
        } else {
          const { name, ...opts } = v as { name: string };
          if (!(BUILTIN_MODELS as readonly string[]).includes(name) && !name.endsWith('.json'))
            p(`${k}.name`, CONFIG_FIELDS.model, name, `use one of ${BUILTIN_MODELS.join(', ')}`);
          for (const [o, ov] of Object.entries(opts))
            if (!isInt(ov) || ov <= 0 || ov > MAX_MODEL_OPTION) p(`${k}.${o}`, `a positive integer up to ${MAX_MODEL_OPTION}`, ov, `set ${o} to a whole number from 1 to ${MAX_MODEL_OPTION} or remove it`);
        }
        break;
      case 'stages':
      case 'chunks':
      case 'replicas':
      case 'microbatches':
      case 'batch':
      case 'steps':
        if (!isInt(v) || v <= 0) p(k, 'a positive integer', v, `set ${k} to a whole number above 0`);
        break;
      case 'warmup':
      case 'seed':
        if (!isInt(v) || v < 0) p(k, 'a non-negative integer', v, `set ${k} to 0 or a larger whole number`);
        break;
      case 'lr':
        if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) p(k, 'a positive number', v, 'try 0.001');
        break;
      case 'balance':
        if (!Array.isArray(v) || v.length === 0 || !v.every((n) => isInt(n) && n > 0))
          p(k, CONFIG_FIELDS.balance, v, 'write e.g. [3, 3, 2] (--balance 3,3,2), one positive count per stage');
        break;
      case 'schedule':
        oneOf('schedule', SCHEDULES, '', ' or ');
        break;
      case 'sync':
        oneOf('sync', SYNC_MODES);
        break;
      case 'allreduce':
        oneOf('allreduce', ALLREDUCE_ALGOS, '', ' or ');
        break;
      case 'compress':
        oneOf('compress', COMPRESSIONS);
        break;
      case 'loss':
        oneOf('loss', LOSSES, ", or remove it to keep the model's own");
        break;
      case 'warmupMs':
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) p(k, CONFIG_FIELDS.warmupMs, v, 'try 1500 (the JIT compiles in the first seconds of a run), or 0');
        else if (v > 3_600_000) p(k, 'at most 3600000 (an hour)', v, 'try 1500 (the JIT compiles in the first seconds of a run)');
        break;
      case 'probe':
        if (typeof v !== 'boolean') p(k, CONFIG_FIELDS.probe, v, 'write true (per-layer costs for the simulator) or false (skip them: a faster capture, rougher predictions)');
        break;
      case 'smoothing':
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) p(k, CONFIG_FIELDS.smoothing, v, 'try 0.01');
        break;
      case 'recompute':
        oneOf('recompute', RECOMPUTE_MODES);
        break;
      case 'optimizer':
        oneOf('optimizer', OPTIMIZERS);
        break;
      case 'backend':
        oneOf('backend', BACKENDS);
        break;
      case 'out':
      case 'saveWeights':
        if (typeof v !== 'string' || v.length === 0) p(k, CONFIG_FIELDS[k as 'out' | 'saveWeights'], v, 'give a file name');
        break;
      default:
        problems.push(`${source(k)} is not a known field; remove it (known fields: ${Object.keys(CONFIG_FIELDS).join(', ')})`);
    }
  }
  return problems;
}

/** Merges defaults < file < flags. Giving a balance in a later layer drops an earlier `stages` and vice versa. */
export function mergeConfig(file: Partial<CaptureConfig>, flags: Partial<CaptureConfig>): CaptureConfig {
  const out: CaptureConfig = { ...CAPTURE_DEFAULTS };
  for (const layer of [file, flags]) {
    const defined = Object.fromEntries(Object.entries(canonicalChoices(layer as Record<string, unknown>)).filter(([, v]) => v !== undefined)) as Partial<CaptureConfig>;
    if (defined.balance !== undefined && defined.stages === undefined) delete out.stages;
    if (defined.stages !== undefined && defined.balance === undefined) delete out.balance;
    Object.assign(out, defined);
  }
  return out;
}

/** Cross-field rules once the model's layer count is known; returns the balance to use, or problems. */
export function resolveBalance(cfg: CaptureConfig, layers: number, source: (field: string) => string): { balance: number[]; problems: string[] } {
  const problems: string[] = [];
  const suggest = (s: number) => uniformBalance(layers, Math.min(s, layers)).join(',');
  let balance: number[];
  const v = cfg.chunks ?? 1;
  if (cfg.balance) {
    balance = cfg.balance;
    const sum = balance.reduce((a, b) => a + b, 0);
    if (sum !== layers)
      problems.push(`${source('balance')} has ${sum} layers but the model has ${layers} (balance: [${balance.join(',')}]); use --balance ${suggest(balance.length)} or --stages ${balance.length}`);
    if (cfg.stages !== undefined && cfg.stages * v !== balance.length)
      problems.push(`${source('stages')} is ${cfg.stages} but the balance has ${balance.length} stages ([${balance.join(',')}]); give one of --stages or --balance`);
  } else {
    const S = cfg.stages ?? 1;
    if (S * v > layers)
      problems.push(
        v === 1
          ? `${source('stages')} is ${S} but the model has only ${layers} layers, and a stage needs at least one; use --stages ${layers} or fewer`
          : `${source('stages')} × chunks is ${S * v} but the model has only ${layers} layers, and a virtual stage needs at least one; use --stages ${Math.max(1, Math.floor(layers / v))} or fewer`,
      );
    balance = uniformBalance(layers, Math.min(S * v, layers));
  }
  if (cfg.batch % cfg.microbatches !== 0) {
    const small = divisors(cfg.batch, 64);
    problems.push(`${source('batch')} ${cfg.batch} is not divisible by microbatches ${cfg.microbatches}; use --microbatches ${small.filter((d) => d <= cfg.microbatches).pop() ?? 1} (divisors of ${cfg.batch}: ${small.join(', ')})`);
  }
  for (const p of checkChunks({ balance, microbatches: cfg.microbatches, schedule: cfg.schedule, chunks: v })) problems.push(`${source('chunks')}: ${p}`);
  const mb = cfg.batch / cfg.microbatches;
  if (Number.isInteger(mb) && cfg.replicas > 1 && mb % cfg.replicas !== 0)
    problems.push(`${source('replicas')} ${cfg.replicas} does not divide the micro-batch of ${mb} samples (batch ${cfg.batch} / microbatches ${cfg.microbatches}); each replica takes an equal share: use --batch ${cfg.microbatches * cfg.replicas * Math.max(1, Math.round(mb / cfg.replicas))} or fewer micro-batches`);
  if (cfg.microbatches > cfg.batch) problems.push(`${source('microbatches')} ${cfg.microbatches} exceeds batch ${cfg.batch}; a micro-batch needs at least one sample`);
  return { balance, problems };
}
