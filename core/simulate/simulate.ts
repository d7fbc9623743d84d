// The simulator: replays a plan's schedule with the runtime's semantics and a cost model, emitting a predicted Timeline.
import type { Schedule, ScheduledOp } from '../schedule/types';
import type { Plan, SyncConfig } from '../plan/types';
import { DEFAULT_SYNC } from '../plan/types';
import { buildSchedule } from '../schedule';
import { recomputes } from '../schedule/recompute';
import type { LayerSummary } from '../model/types';
import type { LayerCost, OpTable, Timeline } from '../trace/timeline';
import { OP } from '../trace/timeline';
import type { StepRecord } from '../trace/schema';
import type { CostModel } from './cost-model';
import { allReduceMs, kindScaleOf, layerMs, lossMs, optMs, parameterServerMs, stageOpMs } from './cost-model';
import { workerRate } from './contention';
import { computeSlots } from './shared-gpu';

export interface SimulateRequest {
  plan: Plan;
  /** Samples per minibatch; the plan's micro-batch count must divide it. */
  batch: number;
  costs: CostModel;
  layers: LayerSummary[];
  /** Steps to replay (each identical: steps are separated by a barrier). Default 1. */
  steps?: number;
  model?: Timeline['model'];
  /** Use the shared-cores replay even when every stage has a core (for tests: both replays must then agree). */
  shareCores?: boolean;
}

const { F, B, W, R, SEND, RECV, OPT, ALLREDUCE } = OP;

/** buildSchedule validates (a deadlock walk) on every call; the recommender asks for the same few thousand plans over and over. */
const scheduleCache = new Map<string, Schedule>();
function scheduleOf(plan: Plan): Schedule {
  const key = `${plan.schedule}/${plan.balance.length}/${plan.chunks ?? 1}/${plan.microbatches}/${plan.recompute}`;
  let s = scheduleCache.get(key);
  if (!s) {
    if (scheduleCache.size > 512) scheduleCache.clear();
    s = buildSchedule(plan);
    scheduleCache.set(key, s);
  }
  return s;
}

/** Per virtual stage (one model chunk of a worker; the worker itself without chunks): constants of a plan under a cost model. */
interface StagePlan {
  layers: number[];
  fMs: number;
  /** The backward; with a split backward (zb-h1) its input-gradient half, and `wMs` the weight-gradient half. */
  bMs: number;
  wMs: number;
  rMs: number;
  /** Extra time of every weight-gradient op after the chunk's first in a step (gradient accumulation); untraced input making before F. */
  accumMs: number;
  inputMs: number;
  /** Bytes of the activation sent downstream / of the gradient sent upstream, per micro-batch. */
  actBytes: number;
  gradBytes: number;
  /** What a micro-batch holds between F and its last backward op (kept, or only the input until R). */
  keptBytes: number;
  /** Bytes the split backward's B adds until W (see stageBytes). */
  pendingBytes: number;
  inputBytes: number;
}

/** Per worker: its optimizer update, memory besides activations, and its weights for the gradient sync. */
interface WorkerPlan {
  optMs: number;
  constBytes: number;
  /** Bytes of the worker's weights (= of its gradients), and per layer with weights, last layer first (backward order). */
  paramBytes: number;
  buckets: { bytes: number; backMs: number }[];
}

function checkRequest(plan: Plan, batch: number, costs: CostModel): void {
  const L = plan.balance.reduce((a, b) => a + b, 0);
  const R = Math.max(1, plan.replicas ?? 1);
  if (batch % plan.microbatches === 0 && (batch / plan.microbatches) % R !== 0)
    throw new Error(`simulate: replicas ${R} must divide the micro-batch of ${batch / plan.microbatches} samples; choose fewer micro-batches or replicas`);
  if (L !== costs.layers.length)
    throw new Error(`simulate: the plan's balance [${plan.balance.join(',')}] places ${L} layers but the cost model has ${costs.layers.length}; give a balance summing to ${costs.layers.length}`);
  if (!(plan.microbatches >= 1) || !Number.isInteger(plan.microbatches) || batch % plan.microbatches !== 0)
    throw new Error(`simulate: micro-batches ${plan.microbatches} must be a positive integer dividing the batch ${batch}; choose a divisor of ${batch}`);
  const v = plan.chunks ?? 1;
  if (!Number.isInteger(v) || v < 1 || plan.balance.length % v !== 0)
    throw new Error(`simulate: balance [${plan.balance.join(',')}] must list stages × chunks (${v}) virtual stages; give one layer count per virtual stage`);
}

/**
 * Memory terms of a stage holding layers [first, end) with `samples` per micro-batch (end = layer count: the last stage):
 * `constBytes` besides activations, `keptBytes` a micro-batch holds from F to B (what its layers save, and its
 * output; the last stage also dL/dy of the output), `inputBytes` what it holds from F to R when recomputed,
 * `pendingBytes` what a split backward's B adds until W (zb-h1): what it keeps for W, less the last stage's dL/dy, which
 * B either frees or keeps among it.
 */
export function stageBytes(c: CostModel, first: number, end: number, samples: number): { constBytes: number; keptBytes: number; inputBytes: number; pendingBytes: number } {
  let saved = 0;
  let params = 0;
  let pending = 0;
  for (let l = first; l < end; l++) {
    const layer = c.layers[l];
    saved += layer.savedBytesPerSample;
    params += layer.paramBytes;
    pending += layer.pendingBytesPerSample ?? (layer.paramBytes > 0 ? layer.activationBytesPerSample : 0);
  }
  const output = c.layers[end - 1].activationBytesPerSample * samples;
  const dy = end === c.layers.length ? output : 0;
  const input = first > 0 ? c.layers[first - 1].activationBytesPerSample * samples : 0;
  return {
    constBytes: c.memory.baseBytes + params * (1 + c.memory.stateBytesPerParamByte),
    keptBytes: saved * samples + output + dy,
    inputBytes: input + dy,
    pendingBytes: pending * samples - dy,
  };
}

const splits = (plan: Plan) => plan.schedule === 'zb-h1';

/** Per virtual stage k = c·S + s (balance order), then per worker s. */
function stagePlans(plan: Plan, batch: number, c: CostModel): { sp: StagePlan[]; wp: WorkerPlan[] } {
  const V = plan.balance.length;
  const S = V / (plan.chunks ?? 1);
  const split = splits(plan);
  // Each replica takes its share of every micro-batch.
  const mb = batch / plan.microbatches / Math.max(1, plan.replicas ?? 1);
  const sp: StagePlan[] = [];
  let first = 0;
  for (let k = 0; k < V; k++) {
    const end = first + plan.balance[k];
    const layers = Array.from({ length: plan.balance[k] }, (_, i) => first + i);
    const b = stageBytes(c, first, end, mb);
    // R repeats the forward: one interpolation serves both.
    const forward = stageOpMs(c, layers, 'F', mb);
    sp.push({
      layers,
      fMs: forward + (k === V - 1 ? lossMs(c, mb) : 0),
      bMs: stageOpMs(c, layers, split ? 'I' : 'B', mb),
      wMs: split ? stageOpMs(c, layers, 'W', mb) : 0,
      rMs: forward,
      accumMs: (c.gradAccumMsPerParamByte ?? 0) * layers.reduce((n, l) => n + c.layers[l].paramBytes, 0),
      inputMs: k === 0 ? (c.inputMsPerSample ?? 0) * mb : 0,
      actBytes: k < V - 1 ? c.layers[end - 1].activationBytesPerSample * mb : 0,
      gradBytes: first > 0 ? c.layers[first - 1].activationBytesPerSample * mb : 0,
      keptBytes: b.keptBytes,
      inputBytes: b.inputBytes,
      pendingBytes: b.pendingBytes,
    });
    first = end;
  }
  const wp: WorkerPlan[] = Array.from({ length: S }, (_, s) => {
    const mine = sp.filter((_, k) => k % S === s);
    const layers = mine.flatMap((p) => p.layers);
    const paramBytes = layers.reduce((n, l) => n + c.layers[l].paramBytes, 0);
    return {
      optMs: optMs(c, layers),
      constBytes: c.memory.baseBytes + paramBytes * (1 + c.memory.stateBytesPerParamByte),
      paramBytes,
      buckets: layers
        .slice()
        .reverse()
        .map((l) => ({ bytes: c.layers[l].paramBytes, backMs: layerMs(c, l, split ? 'W' : 'B', mb) * c.computeScale * kindScaleOf(c, split ? 'W' : 'B') }))
        .filter((x) => x.bytes > 0),
    };
  });
  return { sp, wp };
}

/** Peak bytes in use per worker: memory is sampled after each compute op, so the peak depends on the op order alone. */
export function predictedPeakMemory(req: { plan: Plan; batch: number; costs: CostModel }): number[] {
  const { plan, batch, costs } = req;
  checkRequest(plan, batch, costs);
  const schedule = scheduleOf(plan);
  const M = plan.microbatches;
  const S = schedule.length;
  const split = splits(plan);
  const { sp, wp } = stagePlans(plan, batch, costs);
  return wp.map((w, s) => {
    let held = 0;
    let peak = 0;
    for (const o of schedule[s]) {
      const p = sp[(o.chunk ?? 0) * S + s];
      const rc = recomputes(plan.recompute, o.microbatch, M);
      const d = heldBytes(o.op, p, split, rc);
      held += d.grow;
      if (held > peak) peak = held;
      held -= d.free;
    }
    return w.constBytes + peak;
  });
}

/**
 * What a compute op does to a worker's activation memory: `grow` while it runs (F keeps its micro-batch's activations,
 * or only the input when it will be recomputed; R the rest; a split B what it keeps for W), `free` at its end (the
 * last backward op of the micro-batch lets everything go).
 */
function heldBytes(op: 'F' | 'R' | 'B' | 'W', p: StagePlan, split: boolean, recomputed: boolean): { grow: number; free: number } {
  if (op === 'F') return { grow: recomputed ? p.inputBytes : p.keptBytes, free: 0 };
  if (op === 'R') return { grow: p.keptBytes - p.inputBytes, free: 0 };
  if (op === 'B') return split ? { grow: p.pendingBytes, free: 0 } : { grow: 0, free: p.keptBytes };
  return { grow: 0, free: p.keptBytes + p.pendingBytes };
}

/** Growable op columns, sorted by start once at the end. */
class Rows {
  n = 0;
  kind: number[] = [];
  stage: number[] = [];
  lane: number[] = [];
  mb: number[] = [];
  step: number[] = [];
  peer: number[] = [];
  start: number[] = [];
  dur: number[] = [];
  bytes: number[] = [];
  chunk: number[] = [];
  push(kind: number, stage: number, lane: number, mb: number, step: number, peer: number, startMs: number, durMs: number, bytes: number, chunk = -1): void {
    this.kind.push(kind);
    this.stage.push(stage);
    this.lane.push(lane);
    this.mb.push(mb);
    this.step.push(step);
    this.peer.push(peer);
    this.start.push(startMs * 1000);
    this.dur.push(durMs * 1000);
    this.bytes.push(bytes);
    this.chunk.push(chunk);
    this.n++;
  }
  table(): OpTable {
    const n = this.n;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const st = this.start;
    order.sort((a, b) => st[a] - st[b] || a - b);
    const t: OpTable = {
      length: n, kind: new Uint8Array(n), stage: new Int32Array(n), replica: new Int32Array(n), lane: new Uint8Array(n),
      microbatch: new Int32Array(n), chunk: new Int32Array(n), step: new Int32Array(n), peer: new Int32Array(n),
      start: new Float64Array(n), dur: new Float64Array(n), bytes: new Float64Array(n),
    };
    for (let j = 0; j < n; j++) {
      const i = order[j];
      t.kind[j] = this.kind[i];
      t.stage[j] = this.stage[i];
      t.lane[j] = this.lane[i];
      t.microbatch[j] = this.mb[i];
      t.chunk[j] = this.chunk[i];
      t.step[j] = this.step[i];
      t.peer[j] = this.peer[i];
      t.start[j] = this.start[i];
      t.dur[j] = this.dur[i];
      t.bytes[j] = this.bytes[i];
    }
    return t;
  }
}

/** What one step's replay reads and writes. Arrays by virtual stage k (× micro-batch) or by worker s. */
interface Replay {
  plan: Plan;
  schedule: Schedule;
  sp: StagePlan[];
  wp: WorkerPlan[];
  S: number;
  V: number;
  chunks: number;
  M: number;
  split: boolean;
  lat: number;
  bpm: number;
  wake: number;
  /** Measured SEND start to the tensor usable by a waiting receiver; NaN: the SEND's end + latency + wake-up. */
  delivery: number;
  deliveryPerByte: number;
  rows: Rows;
  memory: Timeline['memory'];
  /** When the activation / gradient virtual stage k receives is usable by a receiver waiting for it, per (k, m); NaN until sent. */
  actSent: Float64Array;
  gradSent: Float64Array;
  /** Activation bytes each worker holds. */
  held: Float64Array;
  /** Whether the virtual stage computed weight gradients yet in this step (later ones also accumulate). */
  backedUp: Uint8Array;
  costs: CostModel;
  replicas: number;
  sync: SyncConfig;
  /** Start of each worker's latest weight-gradient op (B, or W when split): layer-wise sync starts during the last. */
  lastBStart: Float64Array;
  /** Pipe-SGD: when each worker's all-reduce of the previous step ends; NaN before the first. */
  reduceDone: Float64Array;
  /** Barrier overhead between steps (start + end), for Pipe-SGD's first step. */
  barrierMs: number;
}

const chunkOf = (r: Replay, k: number) => (r.chunks > 1 ? Math.floor(k / r.S) : -1);

/**
 * When worker s may start OPT, its last op having ended at `end`; records the gradient sync as all-reduce rows (lane 3).
 * step: one all-reduce of all gradients; layerwise: one per layer, each starting when the step's last weight-gradient op
 * finished that layer, one at a time on the link; pipelined (Pipe-SGD): this step's all-reduce runs on into the next step,
 * and OPT waits only for the previous step's; ps: push to the server, its update, and the pull.
 */
function syncEnd(r: Replay, s: number, t: number, end: number): number {
  const { replicas: Rn, sync, costs: c } = r;
  const p = r.wp[s];
  const row = (start: number, d: number, bytes: number) => r.rows.push(ALLREDUCE, s, 3, -1, t, -1, start, d, bytes);
  if (sync.sync === 'ps') {
    const d = parameterServerMs(c, p.paramBytes, Rn, sync.compress, p.optMs);
    row(end, d, p.paramBytes);
    return end + d;
  }
  const ar = (bytes: number) => allReduceMs(c, bytes, Rn, sync.allreduce, sync.compress);
  if (sync.sync === 'layerwise') {
    let ready = r.lastBStart[s];
    let linkFree = end;
    let first = true;
    for (const b of p.buckets) {
      ready += b.backMs;
      const st = first ? ready : Math.max(ready, linkFree);
      const d = ar(b.bytes);
      if (d > 0) row(st, d, b.bytes);
      linkFree = st + d;
      first = false;
    }
    return Math.max(end, linkFree);
  }
  const d = ar(p.paramBytes);
  if (sync.sync === 'pipelined') {
    const prev = r.reduceDone[s];
    if (d > 0) row(end, d, p.paramBytes);
    r.reduceDone[s] = end + d;
    // Steady state for the first step: the previous all-reduce started at the previous step's same point.
    return Number.isNaN(prev) ? end + Math.max(0, d - p.optMs - r.barrierMs) : Math.max(end, prev);
  }
  if (d > 0) row(end, d, p.paramBytes);
  return end + d;
}

/** When a RECV that began at `waitStart` ends, for a tensor usable by a waiting receiver at `ready`: no sooner than the latency of taking it in. */
const recvEnd = (r: Replay, waitStart: number, ready: number) => Math.max(ready, waitStart + r.lat);

type ComputeOp = 'F' | 'R' | 'B' | 'W' | 'OPT';

/** The compute time of op `op` of virtual stage k (the accumulation into earlier gradients included). */
function opMs(r: Replay, k: number, op: 'F' | 'R' | 'B' | 'W'): number {
  const p = r.sp[k];
  if (op === 'F') return p.fMs;
  if (op === 'R') return p.rMs;
  const grads = op === 'W' || !r.split;
  return (op === 'W' ? p.wMs : p.bMs) + (grads && r.backedUp[k] ? p.accumMs : 0);
}

/** Records a compute op's end on worker s (virtual stage k; -1 for OPT): its row, and the memory counter sampled after it. */
function computeDone(r: Replay, s: number, k: number, op: ComputeOp, m: number, t: number, start: number, end: number): void {
  if (op === 'OPT') r.rows.push(OPT, s, 0, -1, t, -1, start, end - start, 0);
  else {
    const p = r.sp[k];
    r.rows.push(op === 'F' ? F : op === 'R' ? R : op === 'B' ? B : W, s, 0, m, t, -1, start, end - start, 0, chunkOf(r, k));
    const d = heldBytes(op, p, r.split, recomputes(r.plan.recompute, m, r.M));
    r.held[s] += d.grow - d.free;
    if (op === 'W' || (op === 'B' && !r.split)) {
      r.backedUp[k] = 1;
      r.lastBStart[s] = start;
    }
  }
  r.memory.push({ stage: s, ts: end * 1000, bytes: r.wp[s].constBytes + r.held[s] });
}

/** Records virtual stage k's SEND (a row only between workers) and when its tensor is on its way. */
function sendDone(r: Replay, s: number, k: number, kind: 'act' | 'grad', m: number, t: number, start: number, end: number): void {
  const p = r.sp[k];
  const to = kind === 'act' ? k + 1 : k - 1;
  if (to % r.S !== s) r.rows.push(SEND, s, 1, m, t, to % r.S, start, end - start, kind === 'act' ? p.actBytes : p.gradBytes, chunkOf(r, k));
  // Between workers: usable by a waiting receiver when measured so, else after the SEND, the latency and the wake-up.
  const bytes = kind === 'act' ? p.actBytes : p.gradBytes;
  const ready = to % r.S === s ? end : Number.isNaN(r.delivery) ? end + r.lat + r.wake : start + r.delivery + bytes * r.deliveryPerByte;
  if (kind === 'act') r.actSent[to * r.M + m] = ready;
  else r.gradSent[to * r.M + m] = ready;
}

/** A tensor virtual stage k sends: over the link to another worker, or handed over at once on the same worker. */
function sendMs(r: Replay, s: number, k: number, kind: 'act' | 'grad'): number {
  const to = kind === 'act' ? k + 1 : k - 1;
  return to % r.S === s ? 0 : (kind === 'act' ? r.sp[k].actBytes : r.sp[k].gradBytes) / r.bpm;
}

/** Whether op o of virtual stage k waits for a tensor: F after the first virtual stage, B before the last. */
const receives = (r: Replay, o: ScheduledOp, k: number) => (o.op === 'F' && k > 0) || (o.op === 'B' && k < r.V - 1);

/** When op o's tensor was sent (NaN: not yet), and whether it crosses workers. */
function arrival(r: Replay, o: ScheduledOp, k: number, s: number): { ready: number; remote: boolean } {
  const from = o.op === 'F' ? k - 1 : k + 1;
  return { ready: o.op === 'F' ? r.actSent[k * r.M + o.microbatch] : r.gradSent[k * r.M + o.microbatch], remote: from % r.S !== s };
}

/** One step with a core per stage: each op starts when its stage is free and its input has arrived. Returns the last OPT's end. */
function replayStep(r: Replay, t: number, start: number): number {
  const { S, schedule } = r;
  const ptr = new Int32Array(S);
  const free = new Float64Array(S).fill(start);
  let left = S;
  let lastOpt = start;
  while (left > 0) {
    let progressed = false;
    for (let s = 0; s < S; s++) {
      const ops = schedule[s];
      while (ptr[s] < ops.length) {
        const o = ops[ptr[s]];
        const m = o.microbatch;
        const k = (o.chunk ?? 0) * S + s;
        const p = r.sp[k];
        let now = free[s];
        if (receives(r, o, k)) {
          const { ready, remote } = arrival(r, o, k, s);
          if (Number.isNaN(ready)) break;
          if (remote) {
            const end = recvEnd(r, now, ready);
            r.rows.push(RECV, s, 2, m, t, ((o.op === 'F' ? k - 1 : k + 1) % S), now, end - now, o.op === 'F' ? p.gradBytes : p.actBytes, chunkOf(r, k));
            now = end;
          } else now = Math.max(now, ready);
        } else if (o.op === 'F') now += p.inputMs;
        const d = opMs(r, k, o.op);
        computeDone(r, s, k, o.op, m, t, now, now + d);
        now += d;
        const sends = (o.op === 'F' && k < r.V - 1) || (o.op === 'B' && k > 0);
        if (sends) {
          const kind = o.op === 'F' ? 'act' : 'grad';
          const ms = sendMs(r, s, k, kind);
          sendDone(r, s, k, kind, m, t, now, now + ms);
          now += ms;
        }
        free[s] = now;
        ptr[s]++;
        progressed = true;
        if (ptr[s] === ops.length) {
          now = syncEnd(r, s, t, now);
          const w = r.wp[s];
          computeDone(r, s, -1, 'OPT', -1, t, now, now + w.optMs);
          free[s] = now + w.optMs;
          if (free[s] > lastOpt) lastOpt = free[s];
          left--;
        }
      }
    }
    if (!progressed && left > 0) throw new Error(`internal: simulated ${r.plan.schedule} schedule deadlocks at step ${t}`);
  }
  return lastOpt;
}

const WAITING = 0;
const DELAY = 1;
const CPU = 2;
const DONE = 3;

/**
 * One step with fewer cores than stages, or workers that slow each other (`costs.contention`): stages that compute at
 * the same time share the cores equally (a stage worker is one thread; the OS splits `cores` among the busy ones) and
 * each runs slower by the contention of the others (workerRate). F, B, W, R, OPT and SEND need a core; waiting for
 * a tensor and the link's latency do not. Returns the last OPT's end.
 */
function replayStepShared(r: Replay, t: number, start: number, cores: number): number {
  const R = r.replicas;
  const contention = r.costs.contention ?? 0;
  const { S, schedule } = r;
  const ptr = new Int32Array(S);
  /** Per op: 0 receive, 1 compute, 2 send. */
  const phase = new Int8Array(S);
  const mode = new Int8Array(S);
  const remaining = new Float64Array(S);
  const delayEnd = new Float64Array(S);
  const segStart = new Float64Array(S);
  /** Whether the stage's gradient sync before OPT was placed. */
  const synced = new Uint8Array(S);
  let now = start;
  let lastOpt = start;
  let done = 0;
  const vOf = (s: number) => (schedule[s][ptr[s]].chunk ?? 0) * S + s;

  /** Moves stage s into the state of its (op, phase), skipping phases the op does not have on this stage. */
  const enter = (s: number): void => {
    const ops = schedule[s];
    for (;;) {
      if (ptr[s] > ops.length) {
        mode[s] = DONE;
        done++;
        return;
      }
      segStart[s] = now;
      if (ptr[s] === ops.length) {
        if (!synced[s]) {
          synced[s] = 1;
          const e = syncEnd(r, s, t, now);
          if (e > now) {
            mode[s] = DELAY;
            delayEnd[s] = e;
            return;
          }
        }
        mode[s] = CPU;
        remaining[s] = r.wp[s].optMs;
        return;
      }
      const o = ops[ptr[s]];
      const k = vOf(s);
      const p = r.sp[k];
      if (phase[s] === 0) {
        if (receives(r, o, k)) {
          const { ready, remote } = arrival(r, o, k, s);
          if (Number.isNaN(ready)) mode[s] = WAITING;
          else {
            mode[s] = DELAY;
            delayEnd[s] = remote ? recvEnd(r, now, ready) : now;
          }
          return;
        }
        if (o.op === 'F' && k === 0 && p.inputMs > 0) {
          mode[s] = CPU;
          remaining[s] = p.inputMs;
          return;
        }
        phase[s] = 1;
      }
      if (phase[s] === 1) {
        mode[s] = CPU;
        remaining[s] = opMs(r, k, o.op);
        return;
      }
      if ((o.op === 'F' && k < r.V - 1) || (o.op === 'B' && k > 0)) {
        const ms = sendMs(r, s, k, o.op === 'F' ? 'act' : 'grad');
        if (ms > 0) {
          mode[s] = CPU;
          remaining[s] = ms;
          return;
        }
        // Handed over on the same worker: no send op.
        sendDone(r, s, k, o.op === 'F' ? 'act' : 'grad', o.microbatch, t, now, now);
        wakePeer(s, k, o.op === 'F' ? 'act' : 'grad', o.microbatch);
      }
      ptr[s]++;
      phase[s] = 0;
    }
  };

  /** The worker receiving virtual stage k's tensor may be waiting for exactly it. */
  const wakePeer = (s: number, k: number, kind: 'act' | 'grad', m: number): void => {
    const to = kind === 'act' ? k + 1 : k - 1;
    const peer = to % S;
    const po = schedule[peer][ptr[peer]];
    if (mode[peer] === WAITING && po && po.microbatch === m && po.op === (kind === 'act' ? 'F' : 'B') && vOf(peer) === to) {
      mode[peer] = DELAY;
      const sent = kind === 'act' ? r.actSent[to * r.M + m] : r.gradSent[to * r.M + m];
      delayEnd[peer] = peer === s ? Math.max(now, sent) : recvEnd(r, segStart[peer], sent);
    }
  };

  /** Stage s finished its current segment at `now`. */
  const finish = (s: number): void => {
    const ops = schedule[s];
    if (ptr[s] === ops.length && mode[s] === DELAY) return enter(s); // the sync before OPT is over
    if (ptr[s] === ops.length) {
      computeDone(r, s, -1, 'OPT', -1, t, segStart[s], now);
      if (now > lastOpt) lastOpt = now;
      ptr[s]++;
      return enter(s);
    }
    const o = ops[ptr[s]];
    const m = o.microbatch;
    const k = vOf(s);
    if (phase[s] === 0) {
      const fwd = o.op === 'F';
      // Stage 0 making its input is no op of its own; a receive from another worker is.
      if (mode[s] === DELAY && arrival(r, o, k, s).remote)
        r.rows.push(RECV, s, 2, m, t, (fwd ? k - 1 : k + 1) % S, segStart[s], now - segStart[s], fwd ? r.sp[k].gradBytes : r.sp[k].actBytes, chunkOf(r, k));
      phase[s] = 1;
      return enter(s);
    }
    if (phase[s] === 1) {
      computeDone(r, s, k, o.op, m, t, segStart[s], now);
      phase[s] = 2;
      return enter(s);
    }
    const kind = o.op === 'F' ? 'act' : 'grad';
    sendDone(r, s, k, kind, m, t, segStart[s], now);
    wakePeer(s, k, kind, m);
    ptr[s]++;
    phase[s] = 0;
    enter(s);
  };

  for (let s = 0; s < S; s++) enter(s);
  while (done < S) {
    let busy = 0;
    for (let s = 0; s < S; s++) if (mode[s] === CPU) busy++;
    // Each busy stage stands for its R replicas, all computing on the same machine.
    const rate = workerRate(busy * R, cores * R, contention);
    let next = Infinity;
    for (let s = 0; s < S; s++) {
      const at = mode[s] === CPU ? now + remaining[s] / rate : mode[s] === DELAY ? delayEnd[s] : Infinity;
      if (at < next) next = at;
    }
    if (next === Infinity) throw new Error(`internal: simulated ${r.plan.schedule} schedule deadlocks at step ${t}`);
    const dt = next - now;
    for (let s = 0; s < S; s++) if (mode[s] === CPU) remaining[s] -= dt * rate;
    now = next;
    for (let s = 0; s < S; s++)
      if ((mode[s] === CPU && remaining[s] <= 1e-9) || (mode[s] === DELAY && delayEnd[s] <= now)) finish(s);
  }
  return lastOpt;
}

/**
 * Replays `steps` steps of the plan. Per worker, ops run in schedule order, one at a time (a stage worker is one thread):
 * F of a virtual stage after the first starts with a RECV of its activation (none when the previous virtual stage is on
 * the same worker), and is followed by a SEND downstream unless on the last virtual stage (which computes the loss inside
 * F); B before the last virtual stage starts with a RECV of its gradient and is followed by a SEND upstream unless on
 * the first; with a split backward (zb-h1) W computes the weight gradients later; each worker ends the step with OPT;
 * the next step starts when every worker finished OPT (plus the barrier's overhead). A RECV ends at the stage's free
 * time + link latency when the tensor was already there, else when it is usable (link.deliveryMs after the producer's SEND
 * started when measured, else its SEND end + latency + wake-up). With
 * more workers than `costs.cores`, the workers computing at once share the cores.
 */
export function simulate(req: SimulateRequest): Timeline {
  const { plan, batch, costs } = req;
  checkRequest(plan, batch, costs);
  const steps = req.steps ?? 1;
  const chunks = plan.chunks ?? 1;
  const V = plan.balance.length;
  const S = V / chunks;
  const M = plan.microbatches;
  const { sp, wp } = stagePlans(plan, batch, costs);
  const r: Replay = {
    plan, schedule: scheduleOf(plan), sp, wp, S, V, chunks, M, split: splits(plan), lat: costs.link.latencyMs, bpm: costs.link.bytesPerMs, wake: costs.link.wakeMs ?? 0, delivery: costs.link.deliveryMs ?? NaN, deliveryPerByte: costs.link.deliveryMsPerByte ?? 0,
    rows: new Rows(), memory: [], actSent: new Float64Array(V * M), gradSent: new Float64Array(V * M), held: new Float64Array(S),
    backedUp: new Uint8Array(V), costs, replicas: Math.max(1, plan.replicas ?? 1), sync: plan.sync ?? DEFAULT_SYNC,
    lastBStart: new Float64Array(S), reduceDone: new Float64Array(S).fill(NaN),
    barrierMs: (costs.stepOverhead?.startMs ?? 0) + (costs.stepOverhead?.endMs ?? 0),
  };
  // The replicas of the stages share the cores too: with R of each, a stage gets cores / R of them.
  const cores = computeSlots(costs) / r.replicas;
  const startMs = costs.stepOverhead?.startMs ?? 0;
  const endMs = costs.stepOverhead?.endMs ?? 0;
  const stepRecords: StepRecord[] = [];
  let stepStart = 0;
  for (let t = 0; t < steps; t++) {
    r.actSent.fill(NaN);
    r.gradSent.fill(NaN);
    r.held.fill(0);
    r.backedUp.fill(0);
    const lastOpt = S > cores || (costs.contention ?? 0) > 0 || req.shareCores ? replayStepShared(r, t, stepStart + startMs, cores) : replayStep(r, t, stepStart + startMs);
    const stepEnd = lastOpt + endMs;
    stepRecords.push({ step: t, startUs: stepStart * 1000, endUs: stepEnd * 1000, loss: NaN, warmup: false });
    stepStart = stepEnd;
  }
  r.memory.sort((a, b) => a.ts - b.ts);
  const layerCosts: LayerCost[] = [];
  sp.forEach((p, k) =>
    p.layers.forEach((l) => {
      const c = costs.layers[l];
      // The last layer's points carry the loss where the model has a curve for it, as the probe records it.
      const points = l === costs.layers.length - 1 && costs.loss?.length ? c.points.map((q) => ({ ...q, lossMs: lossMs(costs, q.size) })) : c.points;
      layerCosts.push({ layer: c.name, stage: k % S, points, savedBytesPerSample: c.savedBytesPerSample, paramBytes: c.paramBytes });
    }),
  );
  return {
    source: 'predicted', status: 'complete', stages: S, plan, batch, model: req.model ?? null, layers: req.layers, layerCosts,
    steps: stepRecords, ops: r.rows.table(), memory: r.memory, backend: null, host: null,
  };
}
