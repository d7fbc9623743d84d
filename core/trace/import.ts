// Importer: a parsed pipeprof (or plain Chrome) trace → a Timeline, written straight into columns; every problem is one clear line.
import type { Plan, SyncConfig } from '../plan/types';
import { ALLREDUCE_ALGOS, COMPRESSIONS, RECOMPUTE_MODES, SCHEDULES, SYNC_MODES } from '../plan/types';
import type { LayerSummary } from '../model/types';
import type { HostInfo, StepRecord } from './schema';
import { TRACE_VERSION } from './schema';
import type { LayerCost, OpTable, RankInfo, Timeline } from './timeline';
import { LANE_OF_KIND, OP, OP_KINDS, PIPELINE_KINDS, allocOpTable, finishOpTable, windowAt } from './timeline';
import { UsageError } from '../config/errors';

/** A trace the analyses cannot use: one line naming the file, what is wrong and what to do (exit code 2 in the CLI). */
export class TraceError extends UsageError {
  constructor(message: string) {
    super([message]);
  }
}

const FIX = 'pass a file written by pipeprof capture or simulate';
const DAMAGED = 'the file is damaged; capture it again';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  const s = typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 40)}…` : s;
};

/** Ops a pipeprof trace may name (arbitrary strings in the file: a plain object, so "toString" is no kind). */
const KIND_CODE: Record<string, number> = Object.fromEntries(PIPELINE_KINDS.map((k) => [k, OP[k]]));
/** An imported PyTorch trace (pipeprof import) also holds GPU kinds. */
const ANY_KIND_CODE: Record<string, number> = Object.fromEntries(OP_KINDS.map((k) => [k, OP[k]]));

/**
 * Sane ranges of a trace's numbers: beyond them a value is damage, not a measurement (and would overflow the
 * analyses). Times in µs: |ts| within 10^16 (epoch microseconds are 1.7·10^15), a duration within 10^12 (11 days).
 */
export const TRACE_LIMITS = { timeUs: 1e16, durUs: 1e12, bytes: 1e15, count: 1e15, costMs: 1e9, batch: 1e9, stages: 1e6 } as const;

const int = (v: unknown, none: number): number => (typeof v === 'number' && Number.isInteger(v) ? v : none);

/** Checks the `pipeprof` metadata block and returns its parts; problems name the field. */
function readMeta(meta: unknown, file: string) {
  const bad = (field: string, rule: string, got: unknown, fix = DAMAGED) => new TraceError(`${file}: pipeprof.${field} ${rule} (got ${show(got)}); ${fix}`);
  if (!isObj(meta)) throw new TraceError(`${file}: "pipeprof" must be an object with the run's plan, layers and steps (got ${show(meta)}); ${FIX}`);
  const version = meta.version;
  if (typeof version !== 'number') throw bad('version', 'must be a number', version);
  if (version > TRACE_VERSION) throw new TraceError(`${file}: trace format version ${version} is newer than this pipeprof reads (${TRACE_VERSION}); update pipeprof`);

  const origin = meta.origin === 'kineto' ? ('kineto' as const) : undefined;
  const ranks = origin && Array.isArray(meta.ranks) ? (meta.ranks.filter((r) => isObj(r) && typeof r.rank === 'number' && typeof r.stage === 'number') as unknown as RankInfo[]) : undefined;
  const p = meta.plan;
  // An imported PyTorch trace without pipeline annotations has no plan.
  if (p === null && origin) return { ...readRest(meta, file, null), origin, ranks };
  if (!isObj(p)) throw bad('plan', 'must be an object {balance, microbatches, schedule, recompute, replicas}', p);
  if (!Array.isArray(p.balance) || !p.balance.length || !p.balance.every((b) => Number.isInteger(b) && b > 0))
    throw bad('plan.balance', 'must be a non-empty list of positive layer counts', p.balance);
  if (!Number.isInteger(p.microbatches) || (p.microbatches as number) < 1) throw bad('plan.microbatches', 'must be a positive integer', p.microbatches);
  if (!(SCHEDULES as readonly unknown[]).includes(p.schedule)) throw bad('plan.schedule', `must be one of ${SCHEDULES.join(', ')}`, p.schedule);
  if (p.recompute !== undefined && !(RECOMPUTE_MODES as readonly unknown[]).includes(p.recompute)) throw bad('plan.recompute', `must be one of ${RECOMPUTE_MODES.join(', ')}`, p.recompute);
  if (p.balance.length > TRACE_LIMITS.stages) throw bad('plan.balance', `must list at most ${TRACE_LIMITS.stages} stages`, p.balance.length);
  if ((p.microbatches as number) > TRACE_LIMITS.batch) throw bad('plan.microbatches', `must be at most ${TRACE_LIMITS.batch}`, p.microbatches);
  if (p.replicas !== undefined && (!Number.isInteger(p.replicas) || (p.replicas as number) < 1 || (p.replicas as number) > TRACE_LIMITS.stages))
    throw bad('plan.replicas', `must be a positive integer up to ${TRACE_LIMITS.stages}`, p.replicas);
  const plan: Plan = {
    balance: p.balance as number[], microbatches: p.microbatches as number, schedule: p.schedule as Plan['schedule'],
    recompute: (typeof p.recompute === 'string' ? p.recompute : 'never') as Plan['recompute'], replicas: int(p.replicas, 1),
  };
  const sy = p.sync;
  if (sy !== undefined) {
    if (!isObj(sy) || !(SYNC_MODES as readonly unknown[]).includes(sy.sync) || !(ALLREDUCE_ALGOS as readonly unknown[]).includes(sy.allreduce) || !(COMPRESSIONS as readonly unknown[]).includes(sy.compress))
      throw bad('plan.sync', `must be {sync: ${SYNC_MODES.join('|')}, allreduce: ${ALLREDUCE_ALGOS.join('|')}, compress: ${COMPRESSIONS.join('|')}}`, sy);
    plan.sync = { sync: sy.sync, allreduce: sy.allreduce, compress: sy.compress } as SyncConfig;
  }
  if (p.chunks !== undefined) {
    if (!Number.isInteger(p.chunks) || (p.chunks as number) < 1 || plan.balance.length % (p.chunks as number) !== 0)
      throw bad('plan.chunks', `must be a positive integer dividing the ${plan.balance.length} virtual stages of plan.balance`, p.chunks);
    plan.chunks = p.chunks as number;
  }
  return { ...readRest(meta, file, plan), origin, ranks };
}

/** The metadata besides the plan: steps, layers, costs, model, run, host. */
function readRest(meta: Obj, file: string, plan: Plan | null) {
  const bad = (field: string, rule: string, got: unknown, fix = DAMAGED) => new TraceError(`${file}: pipeprof.${field} ${rule} (got ${show(got)}); ${fix}`);

  if (meta.steps === undefined) throw new TraceError(`${file}: pipeprof.steps is missing, and every analysis needs the step times; ${DAMAGED}`);
  if (!Array.isArray(meta.steps)) throw bad('steps', 'must be a list of {step, startUs, endUs, loss, warmup}', meta.steps);
  const steps: StepRecord[] = meta.steps.map((s, i) => {
    if (!isObj(s) || typeof s.startUs !== 'number' || typeof s.endUs !== 'number' || !(s.endUs >= s.startUs))
      throw bad(`steps[${i}]`, 'must be {step, startUs, endUs, loss, warmup} with endUs ≥ startUs', s);
    if (!(Math.abs(s.startUs) <= TRACE_LIMITS.timeUs) || !(Math.abs(s.endUs) <= TRACE_LIMITS.timeUs) || !(s.endUs - s.startUs <= TRACE_LIMITS.durUs))
      throw bad(`steps[${i}].endUs`, `must be within ${TRACE_LIMITS.durUs} µs of startUs, both within ±${TRACE_LIMITS.timeUs} µs`, [s.startUs, s.endUs]);
    return { step: int(s.step, i), startUs: s.startUs, endUs: s.endUs, loss: typeof s.loss === 'number' ? s.loss : NaN, warmup: s.warmup === true };
  });

  const layersRaw = meta.layers ?? [];
  if (!Array.isArray(layersRaw)) throw bad('layers', 'must be a list of {name, kind, params, flops, activationBytes}', layersRaw);
  const layers: LayerSummary[] = layersRaw.map((l, i) => {
    if (!isObj(l) || typeof l.name !== 'string') throw bad(`layers[${i}]`, 'must be {name, kind, params, flops, activationBytes}', l);
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
    for (const f of ['params', 'flops', 'activationBytes'] as const)
      if (typeof l[f] === 'number' && !(Math.abs(l[f] as number) <= TRACE_LIMITS.count)) throw bad(`layers[${i}].${f}`, `must be a count up to ${TRACE_LIMITS.count}`, l[f]);
    return { name: l.name, kind: String(l.kind ?? 'unknown') as LayerSummary['kind'], params: num(l.params), flops: num(l.flops), activationBytes: num(l.activationBytes) };
  });
  const layerSum = plan ? plan.balance.reduce((a, b) => a + b, 0) : layers.length;
  if (plan && layers.length && layers.length !== layerSum)
    throw new TraceError(`${file}: pipeprof.layers has ${layers.length} layers but plan.balance [${plan!.balance.join(',')}] places ${layerSum}; ${DAMAGED}`);

  const layerCosts: LayerCost[] = Array.isArray(meta.layerCosts)
    ? meta.layerCosts.filter((c): c is LayerCost => isObj(c) && typeof c.layer === 'string' && Array.isArray(c.points))
    : [];
  for (const [i, c] of layerCosts.entries()) {
    for (const [j, pt] of c.points.entries()) {
      if (!isObj(pt)) throw bad(`layerCosts[${i}].points[${j}]`, 'must be {size, forwardMs, backwardMs}', pt);
      for (const f of ['size', 'forwardMs', 'backwardMs', 'inputGradMs', 'weightGradMs', 'lossMs'] as const) {
        const v = (pt as Obj)[f];
        if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= (f === 'size' ? TRACE_LIMITS.batch : TRACE_LIMITS.costMs))))
          throw bad(`layerCosts[${i}].points[${j}].${f}`, `must be a number from 0 to ${f === 'size' ? TRACE_LIMITS.batch : TRACE_LIMITS.costMs}`, v);
      }
    }
    for (const f of ['savedBytesPerSample', 'pendingBytesPerSample', 'paramBytes'] as const) {
      const v = (c as unknown as Obj)[f];
      if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= TRACE_LIMITS.bytes))) throw bad(`layerCosts[${i}].${f}`, `must be a number of bytes from 0 to ${TRACE_LIMITS.bytes}`, v);
    }
  }
  const m = meta.model;
  const model = isObj(m) && typeof m.name === 'string'
    ? { name: m.name, options: (isObj(m.options) ? m.options : {}) as Record<string, number | string>, loss: String(m.loss ?? '') }
    : null;
  const run = meta.run;
  // 0 or absent: not known (an imported PyTorch trace).
  if (isObj(run) && typeof run.batch === 'number' && !(Number.isInteger(run.batch) && run.batch >= 0 && run.batch <= TRACE_LIMITS.batch))
    throw bad('run.batch', `must be a whole number of samples up to ${TRACE_LIMITS.batch} (0: not known)`, run.batch);
  const batch = isObj(run) && typeof run.batch === 'number' && run.batch > 0 ? run.batch : null;
  const host = isObj(meta.host) ? (meta.host as unknown as HostInfo) : null;
  const optimizer = isObj(run) && typeof run.optimizer === 'string' && run.optimizer ? run.optimizer : undefined;
  return {
    plan, steps, layers, layerCosts, model, batch, host, optimizer,
    backend: typeof meta.backend === 'string' ? meta.backend : null,
    status: meta.status === 'failed' ? ('failed' as const) : ('complete' as const),
    source: meta.source === 'predicted' ? ('predicted' as const) : ('measured' as const),
  };
}

/** The step whose window holds `t` (steps sorted by start), or -1. */
function stepAt(steps: StepRecord[], t: number): number {
  const i = windowAt(steps, t);
  return i >= 0 ? steps[i].step : -1;
}

/** Growable op columns (doubling), written in place as events stream in. */
class Columns {
  t = allocOpTable(1024);
  label = new Int32Array(1024).fill(-1);
  /** Kineto kernels' launch times (NaN: none); kept only when some event has one. */
  launch = new Float64Array(1024).fill(NaN);
  anyLaunch = false;
  /** Kineto kernels' reading by HTA (OpTable.hta; 0 when not written); kept only when some event has one. */
  hta = new Uint8Array(1024);
  anyHta = false;
  n = 0;
  /** The next row, growing the columns when full. */
  next(): number {
    if (this.n === this.t.kind.length) {
      const cap = this.n * 2;
      const t = allocOpTable(cap);
      for (const k of Object.keys(t) as (keyof OpTable)[]) {
        const src = this.t[k];
        if (ArrayBuffer.isView(src)) (t[k] as typeof src).set(src as never);
      }
      this.t = t;
      const label = new Int32Array(cap).fill(-1);
      label.set(this.label);
      this.label = label;
      const launch = new Float64Array(cap).fill(NaN);
      launch.set(this.launch);
      this.launch = launch;
      const hta = new Uint8Array(cap);
      hta.set(this.hta);
      this.hta = hta;
    }
    return this.n++;
  }
}

/**
 * Reads a pipeprof (or plain Chrome) trace's events in batches, in file order, into compact columns, then builds the
 * Timeline from the `pipeprof` block (which a capture writes after the events): what `timelineFromTrace` does, without
 * holding the events. Event positions in messages count across batches.
 */
export class TraceReader {
  private readonly ops = new Columns();
  private readonly kernels = new Columns();
  private readonly labels: string[] = [];
  private readonly labelIndex = new Map<string, number>();
  private readonly memory: { pid: number; ts: number; bytes: number }[] = [];
  /** pid → stage, learned from the ops (a pid is one stage × replica). */
  private readonly stageOfPid = new Map<number, number>();
  private anyStep = false;
  private maxStage = -1;
  private seen = 0;
  /** The first op of a kind only an imported PyTorch trace may hold (refused at the end unless the trace is one). */
  private firstGpuOp: { i: number; op: string } | null = null;

  constructor(private readonly file: string) {}

  addEvents(events: readonly unknown[]): void {
    const file = this.file;
    for (let b = 0; b < events.length; b++) {
      const i = this.seen++;
      const e = events[b] as Obj;
      if (e === null || typeof e !== 'object') throw new TraceError(`${file}: traceEvents[${i}] must be an event object (got ${show(e)}); ${DAMAGED}`);
      const ph = e.ph;
      if (ph === 'X') {
        const a = e.args as Obj | undefined;
        if (!a || typeof a !== 'object') continue;
        const op = a.op;
        const stage = a.stage;
        if (typeof op !== 'string' || typeof stage !== 'number') continue; // another tool's slice
        const k = ANY_KIND_CODE[op];
        if (typeof k !== 'number') throw new TraceError(`${file}: traceEvents[${i}].args.op must be one of ${PIPELINE_KINDS.join(', ')} (got ${show(op)}); ${DAMAGED}`);
        if (this.firstGpuOp === null && typeof KIND_CODE[op] !== 'number') this.firstGpuOp = { i, op };
        const ts = e.ts;
        const dur = e.dur;
        if (typeof ts !== 'number' || !Number.isFinite(ts)) throw new TraceError(`${file}: traceEvents[${i}].ts must be a number of microseconds (got ${show(ts)}); ${DAMAGED}`);
        if (!(Math.abs(ts) <= TRACE_LIMITS.timeUs)) throw new TraceError(`${file}: traceEvents[${i}].ts must be within ±${TRACE_LIMITS.timeUs} microseconds (got ${show(ts)}); ${DAMAGED}`);
        if (typeof dur !== 'number' || !(dur >= 0) || dur === Infinity) throw new TraceError(`${file}: traceEvents[${i}].dur must be a non-negative number of microseconds (got ${show(dur)}); ${DAMAGED}`);
        if (dur > TRACE_LIMITS.durUs) throw new TraceError(`${file}: traceEvents[${i}].dur must be at most ${TRACE_LIMITS.durUs} microseconds (11 days) (got ${show(dur)}); ${DAMAGED}`);
        if (a.bytes !== undefined && (typeof a.bytes !== 'number' || !(a.bytes >= 0 && a.bytes <= TRACE_LIMITS.bytes))) throw new TraceError(`${file}: traceEvents[${i}].args.bytes must be a number of bytes from 0 to ${TRACE_LIMITS.bytes} (got ${show(a.bytes)}); ${DAMAGED}`);
        if (!Number.isInteger(stage) || stage < 0 || stage > 1e6) throw new TraceError(`${file}: traceEvents[${i}].args.stage must be a stage index ≥ 0 (got ${show(stage)}); ${DAMAGED}`);
        const isKernel = a.kernel === true;
        const c = isKernel ? this.kernels : this.ops;
        const j = c.next();
        const cols = c.t;
        if (typeof a.label === 'string') {
          let li = this.labelIndex.get(a.label);
          if (li === undefined) {
            li = this.labels.length;
            this.labels.push(a.label);
            this.labelIndex.set(a.label, li);
          }
          c.label[j] = li;
        }
        cols.kind[j] = k;
        cols.stage[j] = stage;
        if (stage > this.maxStage) this.maxStage = stage;
        const tid = e.tid;
        cols.lane[j] = tid === 0 || tid === 1 || tid === 2 || tid === 3 || tid === 4 ? tid : LANE_OF_KIND[k];
        cols.replica[j] = int(a.replica, 0);
        cols.microbatch[j] = int(a.microbatch, -1);
        cols.chunk[j] = int(a.chunk, -1);
        const st = int(a.step, -1);
        if (st >= 0) this.anyStep = true;
        cols.step[j] = st;
        cols.peer[j] = int(a.peer, -1);
        cols.start[j] = ts;
        cols.dur[j] = dur;
        cols.bytes[j] = typeof a.bytes === 'number' ? a.bytes : 0;
        if (typeof a.launch === 'number') {
          c.launch[j] = a.launch;
          c.anyLaunch = true;
        }
        if (typeof a.hta === 'number' && Number.isInteger(a.hta) && a.hta > 0 && a.hta < 16) {
          c.hta[j] = a.hta;
          c.anyHta = true;
        }
        const pid = e.pid;
        if (typeof pid === 'number' && !this.stageOfPid.has(pid) && !isKernel) this.stageOfPid.set(pid, stage);
      } else if (ph === 'C' && e.name === 'memory') {
        const a = e.args as Obj | undefined;
        const bytes = a?.bytes;
        if (typeof bytes === 'number' && typeof e.ts === 'number' && typeof e.pid === 'number') this.memory.push({ pid: e.pid, ts: e.ts, bytes });
      }
    }
  }

  /** The Timeline, given the file's other top-level keys (`pipeprof`, when it is a pipeprof trace), or their metadata read already. */
  finish(header: Record<string, unknown>, meta = header.pipeprof === undefined ? null : readMeta(header.pipeprof, this.file)): Timeline {
    const file = this.file;
    const kinetoOrigin = meta?.origin === 'kineto';
    if (!kinetoOrigin && this.firstGpuOp)
      throw new TraceError(`${file}: traceEvents[${this.firstGpuOp.i}].args.op must be one of ${PIPELINE_KINDS.join(', ')} (got ${show(this.firstGpuOp.op)}); ${DAMAGED}`);
    const n = this.ops.n;
    const cols = this.ops.t;
    if (!meta && n === 0)
      throw new TraceError(`${file}: not a pipeprof trace: no "pipeprof" block and no X events with args.op and args.stage; ${FIX}`);
    const anyStep = this.anyStep;
    let steps = meta?.steps ?? [];
    if (!meta) {
      // A plain Chrome trace: each step spans its ops; without step numbers, the whole trace is one step.
      const span = new Map<number, { s: number; e: number }>();
      for (let i = 0; i < n; i++) {
        const t = anyStep ? cols.step[i] : 0;
        if (!anyStep) cols.step[i] = 0;
        if (t < 0) continue;
        const w = span.get(t);
        const s = cols.start[i];
        const e = s + cols.dur[i];
        if (!w) span.set(t, { s, e });
        else {
          if (s < w.s) w.s = s;
          if (e > w.e) w.e = e;
        }
      }
      steps = [...span.entries()].sort((a, b) => a[0] - b[0]).map(([step, w]) => ({ step, startUs: w.s, endUs: w.e, loss: NaN, warmup: false }));
    } else if (!anyStep && n) {
      // Ops without step numbers: place each in the step whose window holds its start.
      const sorted = steps.slice().sort((a, b) => a.startUs - b.startUs);
      for (let i = 0; i < n; i++) cols.step[i] = stepAt(sorted, cols.start[i]);
    }
    const planStages = meta?.plan ? meta.plan.balance.length / (meta.plan.chunks ?? 1) : 0;
    const stages = Math.max(planStages, this.maxStage + 1, meta?.ranks?.length && !meta.plan ? meta.ranks.length : 0);
    // finishOpTable sorts rows by start, a label column with them.
    const labels = this.labels;
    const build = (c: Columns) => finishOpTable({ ...c.t, ...(labels.length ? { label: c.label } : {}), ...(c.anyLaunch ? { launch: c.launch } : {}), ...(c.anyHta ? { hta: c.hta } : {}) }, c.n);
    const table = build(this.ops);
    const kernels = kinetoOrigin ? (this.kernels.n ? build(this.kernels) : table) : undefined;
    return {
      source: meta?.source ?? 'measured',
      status: meta?.status ?? 'complete',
      stages,
      plan: meta?.plan ?? null,
      batch: meta?.batch ?? null,
      model: meta?.model ?? null,
      layers: meta?.layers ?? [],
      layerCosts: meta?.layerCosts ?? [],
      steps,
      ops: table,
      memory: this.memory.map((m) => ({ stage: this.stageOfPid.get(m.pid) ?? m.pid, ts: m.ts, bytes: m.bytes })),
      backend: meta?.backend ?? null,
      host: meta?.host ?? null,
      ...(meta?.optimizer ? { optimizer: meta.optimizer } : {}),
      ...(kinetoOrigin ? { origin: 'kineto' as const, ranks: meta!.ranks ?? [], labels, kernels } : {}),
    };
  }
}

/**
 * Builds the Timeline of a parsed trace. A pipeprof trace carries its plan, layers and steps; a plain Chrome trace whose
 * `X` events have `args.op` and `args.stage` is accepted too, with plan null and steps taken from the ops' `args.step`.
 */
export function timelineFromTrace(json: unknown, file: string): Timeline {
  if (!isObj(json) || !Array.isArray(json.traceEvents))
    throw new TraceError(`${file}: not a trace: expected a JSON object with "traceEvents" (a Chrome trace); ${FIX}`);
  const reader = new TraceReader(file);
  // The metadata first: a damaged pipeprof block is named before any event.
  const meta = json.pipeprof === undefined ? null : readMeta(json.pipeprof, file);
  reader.addEvents(json.traceEvents as unknown[]);
  const { traceEvents: _events, ...header } = json;
  void _events;
  return reader.finish(header, meta);
}
