// Capture: resolve a configuration into a model and plan, train it traced, write the trace (also a partial one) and weights.
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { CaptureConfig } from '../config/capture-config';
import { resolveBalance } from '../config/capture-config';
import { UsageError } from '../config/errors';
import type { ModelSpec } from '../model/types';
import { withLoss } from '../model/types';
import { builtinModel, BUILTIN_MODELS } from '../model/builtin';
import type { BuiltinModel } from '../model/builtin';
import type { Plan } from '../plan/types';
import { loadModelJson } from './load-model-json';
import { checkOutputs, writeOrKeep } from './outputs';
import type { Output } from './outputs';
import { checkEstimate, estimateCapture } from '../config/capture-bounds';
import { runPipeline, PipelineError, median } from '../runtime/executor';
import type { RunOptions, RunResult, Weights } from '../runtime/executor';
import { BackendMissingError, checkBackendInstalled } from '../runtime/backends';
import { DEFAULT_OPTIMIZER } from '../runtime/optimizer';
import type { Fault } from '../runtime/protocol';

/** The summary `capture --json` prints; scripts and the extension rely on these names. */
export interface CaptureSummary {
  plan: { stages: number; balance: number[]; microbatches: number; schedule: string; recompute: string; replicas: number; sync: string };
  stepTimeMs: number;
  samplesPerSec: number;
  finalLoss: number;
  trace: string;
}

export async function loadModel(choice: CaptureConfig['model']): Promise<ModelSpec> {
  const name = typeof choice === 'string' ? choice : choice.name;
  const options = typeof choice === 'string' ? {} : Object.fromEntries(Object.entries(choice).filter(([k]) => k !== 'name'));
  if ((BUILTIN_MODELS as readonly string[]).includes(name)) return builtinModel(name as BuiltinModel, options as Record<string, number>);
  return loadModelJson(name);
}

/** Model and plan for a configuration, or a UsageError listing every problem. */
export async function resolvePlan(cfg: CaptureConfig, source: (field: string) => string): Promise<{ model: ModelSpec; plan: Plan }> {
  let model: ModelSpec;
  try {
    model = await loadModel(cfg.model);
  } catch (e) {
    throw new UsageError([(e as Error).message]);
  }
  const { balance, problems } = resolveBalance(cfg, model.layers.length, source);
  try {
    checkBackendInstalled(cfg.backend);
  } catch (e) {
    if (e instanceof BackendMissingError) problems.push(`${source('backend')}: ${e.message}`);
    else throw e;
  }
  if (problems.length) throw new UsageError(problems);
  if (cfg.loss) model = withLoss(model, cfg.loss);
  return { model, plan: { balance, microbatches: cfg.microbatches, schedule: cfg.schedule, recompute: cfg.recompute, replicas: cfg.replicas, ...(cfg.chunks && cfg.chunks > 1 ? { chunks: cfg.chunks } : {}) } };
}

/** Where a failed run's partial trace goes: --out, unless a file is there already (then `<name>.failed.pptrace.json` beside it); a device or pipe takes it as it is. */
export function failedTracePath(out: string): string {
  const st = fs.statSync(out, { throwIfNoEntry: false });
  if (!st || !st.isFile()) return out;
  return `${out.replace(/(\.pptrace)?\.json(\.gz)?$/i, '')}.failed.pptrace.json`;
}

export function weightsToJson(w: Weights): string {
  const out: Record<string, Record<string, { shape: number[]; values: number[] }>> = {};
  for (const [layer, ws] of Object.entries(w)) {
    out[layer] = {};
    for (const [name, { shape, values }] of Object.entries(ws)) out[layer][name] = { shape, values: Array.from(values) };
  }
  return JSON.stringify(out);
}

export interface CaptureOptions {
  source?: (field: string) => string;
  onStep?: RunOptions['onStep'];
  fault?: Fault;
  /** Off only for measuring the recorder's cost; the trace then holds metadata alone. */
  trace?: boolean;
  stepTimeoutMs?: number;
  /** Files the capture reads (the config file): no output may be one of them. */
  inputs?: Output[];
  /** Aborting (SIGINT, SIGTERM) stops the run as a fault does: the trace so far is written, and a PipelineError thrown. */
  signal?: AbortSignal;
  /** One line each: the capture goes on (e.g. its memory estimate is close to the free memory). */
  onWarning?: (line: string) => void;
  /** Each phase of the run as it starts (workers starting, training, the per-layer probe), for progress lines. */
  onPhase?: RunOptions['onPhase'];
}

/** Runs a capture end to end. On a failed run, the partial trace is written and the PipelineError rethrown. */
export async function capture(cfg: CaptureConfig, opts: CaptureOptions = {}): Promise<{ summary: CaptureSummary; result: RunResult }> {
  const source = opts.source ?? ((f: string) => f);
  const { model, plan } = await resolvePlan(cfg, source);
  // Every output is checked before the training, so a bad one costs nothing.
  const modelFile = typeof cfg.model === 'string' ? cfg.model : cfg.model.name;
  checkOutputs(
    [{ flag: source('out'), file: cfg.out }, { flag: source('saveWeights'), file: cfg.saveWeights }],
    [...(opts.inputs ?? []), ...(modelFile.endsWith('.json') ? [{ flag: source('model'), file: modelFile }] : [])],
  );
  const estimate = estimateCapture(model, plan, cfg.batch, cfg.warmup + cfg.steps);
  const { problems, warnings } = checkEstimate(estimate, { totalBytes: os.totalmem(), freeBytes: os.freemem(), cores: os.cpus().length }, cfg.backend);
  if (problems.length) throw new UsageError(problems);
  for (const w of warnings) opts.onWarning?.(w);
  let result: RunResult;
  try {
    result = await runPipeline({
      model, plan, batch: cfg.batch, steps: cfg.steps, warmup: cfg.warmup, warmupMs: cfg.warmupMs,
      optimizer: { ...DEFAULT_OPTIMIZER, kind: cfg.optimizer, lr: cfg.lr, smoothing: cfg.smoothing }, backend: cfg.backend, seed: cfg.seed,
      sync: { sync: cfg.sync, allreduce: cfg.allreduce, compress: cfg.compress },
      trace: opts.trace ?? true, probe: (opts.trace ?? true) && cfg.probe !== false, onPhase: opts.onPhase, saveWeights: !!cfg.saveWeights, fault: opts.fault, stepTimeoutMs: opts.stepTimeoutMs, onStep: opts.onStep, signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof PipelineError) {
      // An earlier trace at --out stays as it was: the partial trace goes beside it.
      const to = failedTracePath(cfg.out);
      await writeOrKeep(source('out'), to, JSON.stringify(e.trace));
      e.tracePath = to;
    }
    throw e;
  }
  await writeOrKeep(source('out'), cfg.out, JSON.stringify(result.trace));
  if (cfg.saveWeights && result.weights) await writeOrKeep(source('saveWeights'), cfg.saveWeights, weightsToJson(result.weights));
  const stepTimeMs = median(result.stepTimesMs);
  return {
    result,
    summary: {
      plan: { stages: plan.balance.length / (plan.chunks ?? 1), balance: plan.balance, microbatches: plan.microbatches, schedule: plan.schedule, recompute: plan.recompute, replicas: plan.replicas, sync: cfg.sync },
      stepTimeMs,
      samplesPerSec: (cfg.batch * 1000) / stepTimeMs,
      finalLoss: result.losses[result.losses.length - 1],
      trace: cfg.out,
    },
  };
}
