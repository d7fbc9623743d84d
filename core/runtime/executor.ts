// Runs a plan: one worker per stage, steps driven from here, every worker's trace collected; a failure stops all cleanly.
import { Worker, MessageChannel } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ModelSpec } from '../model/types';
import { summarizeLayers } from '../model/types';
import type { Plan, SyncConfig } from '../plan/types';
import { buildSchedule } from '../schedule';
import type { HostInfo, StepRecord, TraceEvent, TraceFile } from '../trace/schema';
import type { LayerCost } from '../trace/timeline';
import { buildTraceFile } from '../trace/chrome';
import { clockUs } from '../trace/recorder';
import type { Fault, FromStage, ServerInit, StageInit, ToStage } from './protocol';
import { STATUS_FIELDS, readStatus } from './protocol';
import { DEFAULT_SYNC } from '../plan/types';
import type { BackendName, GpuAdapter } from './backends';
import { checkBackendInstalled, opTiming } from './backends';
import type { OptimizerConfig } from './optimizer';
import { fillTwins, probeSkips } from './probe-plan';

export interface RunOptions {
  model: ModelSpec;
  plan: Plan;
  batch: number;
  /** Measured steps, after `warmup` unmeasured ones. */
  steps: number;
  warmup: number;
  /**
   * Warm-up lasts at least this long too, from the first step's start (ms; default 0). A fresh worker's first
   * seconds run slower: V8 compiles the hot JavaScript on background threads, which take cores from the stage
   * workers (traced on 2 cores: the mlp 8×1024, batch 128, 4 micro-batches, measured over 4 steps after one
   * warm-up step: 174 ms; after 1.5 s of warm-up: 159 ms, as after 12 warm-up steps).
   */
  warmupMs?: number;
  optimizer: OptimizerConfig;
  backend: BackendName;
  seed: number;
  /** Record trace events (off only to measure the recorder's own cost). */
  trace: boolean;
  saveWeights?: boolean;
  /** After the steps, time each layer at every micro-batch size (for the simulator); default: when tracing. */
  probe?: boolean;
  fault?: Fault;
  /** With plan.replicas > 1 (or sync ps/pipelined): how replicas combine gradients. Default: step, ring, none. */
  sync?: SyncConfig;
  /** A step taking longer than this fails the run (a hung worker); 0 = no limit; unset = defaultStepTimeoutMs. */
  stepTimeoutMs?: number;
  onStep?: (p: { step: number; total: number; loss: number; stepMs: number; warmup: boolean }) => void;
  /** Aborting stops the run as a fault does: a PipelineError with the trace of the steps so far (its reason is the message). */
  signal?: AbortSignal;
  /** Each phase as it starts, with a line saying what it does: the steps between 'train' and 'probe' report through onStep. */
  onPhase?: (p: { phase: RunPhase; detail: string }) => void;
}

/** The phases of a run: workers starting, the steps, the per-layer cost probe. */
export type RunPhase = 'start' | 'train' | 'probe';

export type Weights = Record<string, Record<string, { shape: number[]; values: Float32Array }>>;

export interface RunResult {
  trace: TraceFile;
  /** Wall time of each measured (non-warm-up) step. */
  stepTimesMs: number[];
  losses: number[];
  weights?: Weights;
  /** Live tensors per worker (stage + replica × stages) after each step (flat across steps means no leak). */
  tensorsPerStep: number[][];
}

/** A run that stopped: what failed, and the trace up to that point. */
export class PipelineError extends Error {
  constructor(
    message: string,
    readonly trace: TraceFile,
    readonly where: { stage?: number; replica?: number; op?: string; step?: number | null },
  ) {
    super(message);
  }
  /** Where the partial trace was written, once it is. */
  tracePath?: string;
}

export function hostInfo(tfjs: string): HostInfo {
  const cpus = os.cpus();
  return { platform: os.platform(), arch: os.arch(), cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', memoryBytes: os.totalmem(), node: process.version, tfjs };
}

/** The first layer of each stage. */
export function stageOffsets(balance: number[]): number[] {
  const out: number[] = [];
  let n = 0;
  for (const b of balance) {
    out.push(n);
    n += b;
  }
  return out;
}

/** One median for all of pipeprof (the analysis's, free of Node APIs); re-exported for the runtime's callers. */
export { median } from '../analysis/utilization';

/**
 * How long a step may take before the run is declared hung, when the caller set no limit: 10 minutes for the
 * first step (backend start-up, weight packing), then 10× the slowest step so far, at least a minute.
 */
export function defaultStepTimeoutMs(stepTimesMs: readonly number[]): number {
  if (!stepTimesMs.length) return 600_000;
  return Math.max(60_000, 10 * Math.max(...stepTimesMs));
}

/**
 * Micro-batch sizes the probe times: batch / M for every divisor M ≥ 2 (at most 512 samples, 10 sizes), and the
 * run's own (`traced`). The whole batch as one micro-batch is left out unless the run used it: it would cost as much
 * as every smaller size together, for the plan a pipeline gains least from (its size is extrapolated from the two
 * below, where a layer's cost grows about linearly).
 */
export function probeSizes(batch: number, traced: number = batch): number[] {
  const sizes: number[] = [];
  for (let m = 1; m <= batch; m++) if (batch % m === 0 && batch / m <= 512 && (m >= 2 || batch === traced || batch === 1)) sizes.push(batch / m);
  sizes.sort((a, b) => a - b);
  const kept = sizes.length > 10 ? sizes.filter((_, i) => i % Math.ceil(sizes.length / 10) === 0 || i === sizes.length - 1) : sizes;
  if (!kept.includes(traced) && Number.isInteger(traced) && traced >= 1 && traced <= 512) kept.push(traced);
  return kept.sort((a, b) => a - b);
}

export async function runPipeline(opts: RunOptions): Promise<RunResult> {
  const { model, plan, batch, backend } = opts;
  checkBackendInstalled(backend);
  const covered = plan.balance.reduce((a, b) => a + b, 0);
  if (covered !== model.layers.length || plan.balance.some((b) => !(b >= 1)))
    throw new Error(`balance [${plan.balance.join(',')}] covers ${covered} layers but the model has ${model.layers.length}; every stage needs at least one layer and together all of them`);
  if (batch % plan.microbatches !== 0) throw new Error(`batch ${batch} is not divisible by ${plan.microbatches} micro-batches`);
  const R = Math.max(1, plan.replicas ?? 1);
  const mb = batch / plan.microbatches;
  if (!Number.isInteger(R) || mb % R !== 0)
    throw new Error(`replicas ${R} must divide the micro-batch of ${mb} samples (batch ${batch} / ${plan.microbatches} micro-batches): each replica takes an equal share; choose a batch or micro-batch count that gives a multiple of ${R}`);
  const sync = opts.sync ?? plan.sync ?? DEFAULT_SYNC;
  const v = plan.chunks ?? 1;
  if (!Number.isInteger(v) || v < 1 || plan.balance.length % v !== 0)
    throw new Error(`balance [${plan.balance.join(',')}] lists ${plan.balance.length} virtual stages, not a multiple of ${v} chunks; give one layer count per virtual stage (stages × chunks)`);
  /** Workers per replica; with chunks, worker s holds virtual stages s, S + s, 2S + s, … */
  const S = plan.balance.length / v;
  /** Workers: index stage + replica × S (the trace's pid). */
  const W = S * R;
  const who = (w: number) => (R > 1 ? `stage ${w % S} replica ${Math.floor(w / S)}` : `stage ${w}`);
  const schedule = buildSchedule(plan);
  const offsets = stageOffsets(plan.balance);
  const t0Ms = performance.timeOrigin + performance.now();
  // Activations and gradients: stage s ↔ s+1 within each replica (and S−1 ↔ 0 with chunks); all-reduce: every pair of a stage's replicas.
  const pairs: [number, number][] = Array.from({ length: S - 1 }, (_, s) => [s, s + 1] as [number, number]);
  if (v > 1 && S > 2) pairs.push([0, S - 1]);
  const channels: MessageChannel[] = [];
  const linksOf: Record<number, MessagePort>[] = Array.from({ length: S * R }, () => ({}));
  for (let r = 0; r < R; r++)
    for (const [a, b] of pairs) {
      const ch = new MessageChannel();
      channels.push(ch);
      linksOf[a + r * S][b] = ch.port1;
      linksOf[b + r * S][a] = ch.port2;
    }
  const mesh = new Map<string, MessageChannel>();
  for (let s = 0; s < S; s++) for (let a = 0; a < R; a++) for (let b = a + 1; b < R; b++) mesh.set(`${s}/${a}/${b}`, new MessageChannel());
  const serverChannels = sync.sync === 'ps' ? Array.from({ length: W }, () => new MessageChannel()) : [];
  const events: TraceEvent[] = [];
  const steps: StepRecord[] = [];
  let tfjsVersion = '';
  let gpuAdapter: GpuAdapter | undefined;
  let stopping = false;
  let failure: { message: string; stage?: number; replica?: number; op?: string; step?: number | null } | null = null;
  let onFailure: (() => void) | null = null;
  const exited = new Set<number>();
  const flushed = new Set<number>();
  const servers: Worker[] = [];
  /** What each worker said it was doing when last asked (a flush). */
  const doing = new Map<number, string>();
  /** Each worker's current op, written by the worker as it starts one: readable even when it is stuck or dead. */
  const statuses = Array.from({ length: W }, () => new Int32Array(new SharedArrayBuffer(4 * STATUS_FIELDS)));
  const lastOp = (w: number): { op?: string; step?: number | null } => {
    const st = readStatus(statuses[w]);
    return st ? { op: st.op, step: st.step } : {};
  };
  const waiting = new Map<string, { need: number; got: FromStage[]; from: Set<number>; resolve: (m: FromStage[]) => void }>();

  const fail = (f: NonNullable<typeof failure>) => {
    if (failure || stopping) return;
    failure = f;
    onFailure?.();
  };
  const onAbort = () => fail({ message: String(opts.signal?.reason ?? 'aborted') });
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  const arrive = (kind: string, m: FromStage, worker: number) => {
    const w = waiting.get(kind);
    if (!w) return;
    w.got.push(m);
    w.from.add(worker);
    if (w.got.length === w.need) {
      waiting.delete(kind);
      w.resolve(w.got);
    }
  };

  const workers = Array.from({ length: W }, (_, w) => {
    const s = w % S;
    const r = Math.floor(w / S);
    const chunks = Array.from({ length: v }, (_, c) => ({ firstLayer: offsets[c * S + s], layers: plan.balance[c * S + s] }));
    const mine = chunks.flatMap((ch) => model.layers.slice(ch.firstLayer, ch.firstLayer + ch.layers));
    const initialWeights = model.initialWeights ? Object.fromEntries(mine.map((l) => [l.name, model.initialWeights![l.name]]).filter(([, x]) => x)) : undefined;
    const init: StageInit = {
      stage: s, stages: S, replica: r, sync, chunks, model: { ...model, initialWeights }, plan, ops: schedule[s],
      batch, seed: opts.seed, optimizer: opts.optimizer, backend, trace: opts.trace, t0Ms, fault: opts.fault,
    };
    const links = linksOf[w];
    const peers: (MessagePort | null)[] = Array.from({ length: R }, (_, o) =>
      o === r ? null : o > r ? mesh.get(`${s}/${r}/${o}`)!.port1 : mesh.get(`${s}/${o}/${r}`)!.port2,
    );
    const server = serverChannels.length ? serverChannels[w].port1 : null;
    const transfer = [...Object.values(links), ...peers, server].filter((p): p is MessagePort => p !== null);
    const status = statuses[w];
    // An injected out-of-memory fault gets a small heap, so it dies in a second rather than taking the machine's memory.
    const oom = opts.fault?.kind === 'oom' && opts.fault.stage === s && (opts.fault.replica ?? 0) === r;
    const worker = new Worker(path.join(__dirname, 'stage-worker.js'), {
      workerData: { init, links, peers, server, status }, transferList: transfer, ...(oom ? { resourceLimits: { maxOldGenerationSizeMb: 96 } } : {}),
    });
    worker.on('message', (m: FromStage) => {
      if (m.type === 'error') {
        events.push(...m.events);
        fail({ message: m.message, stage: m.stage, ...(R > 1 ? { replica: m.replica ?? r } : {}), op: m.op, step: m.step });
      } else if (m.type === 'events') {
        events.push(...m.events);
        flushed.add(w);
        doing.set(w, m.step !== null ? `${m.op} (step ${m.step})` : m.op);
      } else {
        if (m.type === 'step-done') events.push(...m.events);
        if (m.type === 'ready') {
          tfjsVersion = m.tfjs;
          if (m.gpu) gpuAdapter = m.gpu;
        }
        arrive(m.type, m, w);
      }
    });
    worker.on('error', (e) => {
      const outOfMemory = (e as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      fail({ message: outOfMemory ? `worker ran out of memory (${e.message})` : `worker crashed: ${e.message}`, stage: s, ...(R > 1 ? { replica: r } : {}), ...lastOp(w) });
    });
    worker.on('exit', (code) => {
      exited.add(w);
      fail({ message: `worker exited with code ${code}`, stage: s, ...(R > 1 ? { replica: r } : {}), ...lastOp(w) });
    });
    return worker;
  });

  // Sync mode ps: one parameter server per stage, holding the stage's weights.
  for (let s = 0; s < S && serverChannels.length; s++) {
    const ports = Array.from({ length: R }, (_, r) => serverChannels[s + r * S].port2);
    const chunks = Array.from({ length: v }, (_, c) => ({ firstLayer: offsets[c * S + s], layers: plan.balance[c * S + s] }));
    const init: ServerInit = { stage: s, replicas: R, model, chunks, seed: opts.seed, optimizer: opts.optimizer };
    const server = new Worker(path.join(__dirname, 'ps-worker.js'), { workerData: { init, replicas: ports }, transferList: ports });
    server.on('message', (m: { type: string; message?: string; step?: number }) => {
      if (m.type === 'error') fail({ message: `parameter server: ${m.message}`, stage: s, op: 'ALLREDUCE', step: m.step ?? null });
    });
    server.on('error', (e) => fail({ message: `parameter server crashed: ${e.message}`, stage: s, op: 'ALLREDUCE' }));
    server.on('exit', (code) => fail({ message: `parameter server exited with code ${code}`, stage: s, op: 'ALLREDUCE' }));
    servers.push(server);
  }

  /** Waits until every stage sends `kind`, or the run fails, or the timeout passes. */
  const all = <T extends FromStage['type']>(kind: T, timeoutMs = 600_000, need = W): Promise<Extract<FromStage, { type: T }>[]> =>
    new Promise((resolve, reject) => {
      /** No progress: ask the late workers what they are doing; one that does not answer is stuck in an op. */
      const hung = async () => {
        const late = workers.map((_, w) => w).filter((w) => !waiting.get(kind)?.from.has(w) && !exited.has(w));
        late.forEach((w) => flushed.delete(w));
        await collectEvents(1000);
        const silent = late.filter((w) => !flushed.has(w));
        const parts = [
          ...silent.map((w) => `${who(w)} does not answer (stuck inside an op)`),
          ...late.filter((w) => flushed.has(w)).map((w) => `${who(w)} waits in ${doing.get(w) ?? 'an unknown op'}`),
        ];
        const blame = silent.length === 1 ? silent[0] : late.length === 1 ? late[0] : -1;
        fail({
          message: `no progress for ${timeoutMs} ms while waiting for ${kind}: ${parts.join('; ') || 'no worker answers'}`,
          ...(blame >= 0 ? { stage: blame % S, ...(R > 1 ? { replica: Math.floor(blame / S) } : {}) } : {}),
        });
      };
      const timer = timeoutMs > 0 ? setTimeout(() => void hung(), timeoutMs) : null;
      onFailure = () => {
        if (timer) clearTimeout(timer);
        reject(new Error('failed'));
      };
      if (failure) return onFailure();
      waiting.set(kind, {
        need, got: [], from: new Set(), resolve: (m) => {
          if (timer) clearTimeout(timer);
          resolve(m as Extract<FromStage, { type: T }>[]);
        },
      });
    });
  const broadcast = (m: ToStage) => workers.forEach((w) => w.postMessage(m));

  /** After a failure: collect the events the live workers still hold, waiting at most `ms`. */
  const collectEvents = async (ms: number) => {
    const live = workers.map((_, w) => w).filter((w) => !exited.has(w));
    live.forEach((w) => workers[w].postMessage({ type: 'flush' } satisfies ToStage));
    const until = performance.now() + ms;
    while (performance.now() < until && live.some((w) => !flushed.has(w) && !exited.has(w))) await new Promise((r) => setTimeout(r, 10));
  };

  const stopAll = async () => {
    stopping = true;
    await Promise.all([...workers, ...servers].map((w) => w.terminate().catch(() => undefined)));
    [...channels, ...mesh.values(), ...serverChannels].forEach((c) => {
      c.port1.close();
      c.port2.close();
    });
  };

  const meta = () => ({
    status: failure ? ('failed' as const) : ('complete' as const),
    ...(failure ? { error: failure } : {}),
    plan: R > 1 || sync.sync !== 'step' ? { ...plan, sync } : plan,
    model: { name: model.name, options: model.options, loss: model.loss },
    backend,
    host: {
      ...hostInfo(tfjsVersion), ...(peakFlops ? { peakFlops } : {}),
      ...(gpuAdapter ? { gpu: { ...gpuAdapter, devices: W, timing: opTiming(backend) === 'gpu-completion' ? ('gpu-completion' as const) : ('readback' as const), readback: 'async' as const } } : {}),
    },
    run: {
      batch, steps: opts.steps, warmup: warmupSteps, optimizer: opts.optimizer.kind, lr: opts.optimizer.lr, seed: opts.seed,
      ...(R > 1 || sync.sync !== 'step' ? { sync } : {}),
    },
    layers: summarizeLayers(model),
    steps,
    ...(layerCosts ? { layerCosts } : {}),
  });

  const stepTimesMs: number[] = [];
  /** Warm-up steps run (at least opts.warmup; more while opts.warmupMs has not passed). */
  let warmupSteps = opts.warmup;
  const losses: number[] = [];
  const tensorsPerStep: number[][] = [];
  let weights: Weights | undefined;
  let layerCosts: LayerCost[] | undefined;
  let peakFlops: number | undefined;
  try {
    opts.onPhase?.({ phase: 'start', detail: `starting ${W} stage worker${W === 1 ? '' : 's'} (${backend}): loading the backend, building ${model.layers.length} layers` });
    await all('ready', opts.stepTimeoutMs ? Math.max(opts.stepTimeoutMs, 60_000) : 600_000);
    /** The slowest step so far (the default step timeout grows with it). */
    let slowestMs = 0;
    const warmupMs = opts.steps > 0 ? (opts.warmupMs ?? 0) : 0;
    let firstMs = 0;
    opts.onPhase?.({ phase: 'train', detail: `training ${warmupSteps ? `${warmupSteps} warm-up step${warmupSteps === 1 ? '' : 's'}${warmupMs ? ` (at least ${(warmupMs / 1000).toFixed(1)} s)` : ''}, then ` : ''}${opts.steps} measured step${opts.steps === 1 ? '' : 's'}, ${plan.microbatches} micro-batches each` });
    for (let t = 0; t < warmupSteps + opts.steps; t++) {
      const startUs = clockUs(t0Ms);
      const a = performance.now();
      if (t === 0) firstMs = a;
      // Past the warm-up steps asked for, warm-up goes on until warmupMs has passed.
      if (t === warmupSteps && a - firstMs < warmupMs) warmupSteps++;
      const warmup = t < warmupSteps;
      const total = warmupSteps + opts.steps;
      broadcast({ type: 'step', step: t, last: t === total - 1 });
      const done = await all('step-done', opts.stepTimeoutMs ?? defaultStepTimeoutMs(slowestMs ? [slowestMs] : []));
      const stepMs = performance.now() - a;
      slowestMs = Math.max(slowestMs, stepMs);
      // Each replica of the last stage reports the loss of its share (scaled by the whole batch): their sum is the step's.
      const loss = done.reduce((a, d) => (d.loss !== null ? a + d.loss : a), 0);
      const endUs = clockUs(t0Ms);
      steps.push({ step: t, startUs, endUs, loss, warmup });
      if (opts.trace) events.push({ ph: 'C', pid: S - 1, ts: endUs, name: 'loss', args: { loss } });
      tensorsPerStep.push(done.slice().sort((x, y) => x.stage + x.replica * S - (y.stage + y.replica * S)).map((d) => d.tensors));
      if (!Number.isFinite(loss)) {
        fail({ message: `loss is ${loss} at step ${t}: training diverged; lower --lr or check the model`, stage: S - 1, op: 'F', step: t });
        throw new Error('failed');
      }
      if (!warmup) stepTimesMs.push(stepMs);
      losses.push(loss);
      opts.onStep?.({ step: t, total, loss, stepMs, warmup });
    }
    if (opts.probe ?? opts.trace) {
      const sizes = probeSizes(batch, batch / plan.microbatches / R);
      opts.onPhase?.({ phase: 'probe', detail: `timing each distinct layer at ${sizes.length} micro-batch size${sizes.length === 1 ? '' : 's'} (${sizes.join(', ')} samples) for the simulator; --no-probe skips this` });
      // Each shape is timed by one worker; the others copy its points (probe-plan.ts).
      const workerOf = plan.balance.flatMap((b, k) => Array.from({ length: b }, () => k % S));
      const skips = probeSkips(model.layers, workerOf, S);
      const probe = (w: number): ToStage => ({ type: 'probe', sizes, skip: skips[w % S] });
      // Workers sharing one GPU probe one at a time (the replicas that do not probe answer at once): probed together,
      // each would time the others' kernels as its own; the shared-GPU model (simulate/shared-gpu) adds the contention.
      const probed: Extract<FromStage, { type: 'costs' }>[] = [];
      if (gpuAdapter)
        for (const [i, w] of workers.entries()) {
          w.postMessage(probe(i));
          probed.push(...(await all('costs', 600_000, 1)));
        }
      else {
        workers.forEach((w, i) => w.postMessage(probe(i)));
        probed.push(...(await all('costs')));
      }
      layerCosts = fillTwins(model.layers, workerOf, probed.flatMap((m) => m.costs));
      workers[0].postMessage({ type: 'peak' } satisfies ToStage);
      peakFlops = (await all('peak', 600_000, 1))[0].flops;
    }
    if (opts.saveWeights) {
      broadcast({ type: 'get-weights' });
      const byLayer = Object.assign({}, ...(await all('weights')).map((m) => m.weights)) as Weights;
      // In model order, whichever stage answered first: the file has the same shape for every plan.
      weights = Object.fromEntries(model.layers.filter((l) => byLayer[l.name]).map((l) => [l.name, byLayer[l.name]]));
    }
  } catch (e) {
    opts.signal?.removeEventListener('abort', onAbort);
    if (failure) await collectEvents(1000);
    await stopAll();
    if (failure) {
      const f = failure as NonNullable<typeof failure>;
      const where = [f.stage !== undefined ? `stage ${f.stage}` : null, f.replica !== undefined ? `replica ${f.replica}` : null, f.op ? `op ${f.op}` : null, f.step !== undefined && f.step !== null ? `step ${f.step}` : null].filter(Boolean).join(', ');
      throw new PipelineError(`${where ? `${where}: ` : ''}${f.message}`, buildTraceFile(events, meta()), f);
    }
    throw e;
  }
  opts.signal?.removeEventListener('abort', onAbort);
  stopping = true;
  broadcast({ type: 'stop' });
  await stopAll();
  return { trace: buildTraceFile(events, meta()), stepTimesMs, losses, weights, tensorsPerStep };
}
