// The Timeline: one run in memory, measured or predicted, as a columnar table of ops on one clock (HTA's per-rank table).
import type { OpKind } from '../schedule/types';
import type { Plan } from '../plan/types';
import type { LayerSummary } from '../model/types';
import type { HostInfo, StepRecord } from './schema';

/**
 * Op kinds by code. Append only: codes are stored in OpTable.kind. KERNEL…MEMSET and SYNC (Kineto's cuda_sync: a
 * stream or event wait drawn on the GPU, which HTA's breakdown counts as GPU time) come from PyTorch (Kineto) traces;
 * COMPRESS and DECOMPRESS from replicas with gradient compression.
 */
export const OP_KINDS: readonly OpKind[] = ['F', 'B', 'W', 'R', 'SEND', 'RECV', 'ALLREDUCE', 'OPT', 'KERNEL', 'COMM', 'MEMCPY', 'MEMSET', 'COMPRESS', 'DECOMPRESS', 'SYNC'];
/** The kinds a pipeline runs (what pipeprof's recorder and simulator write); the rest only come from PyTorch traces. */
export const PIPELINE_KINDS: readonly OpKind[] = [...OP_KINDS.slice(0, 8), 'COMPRESS', 'DECOMPRESS'];
export const COMPUTE_KINDS: readonly OpKind[] = ['F', 'B', 'W', 'R', 'OPT', 'COMPRESS', 'DECOMPRESS'];
export const opCode = (k: OpKind): number => OP_KINDS.indexOf(k);
/** Op codes by name, for tight loops over OpTable.kind. */
export const OP = Object.fromEntries(OP_KINDS.map((k, i) => [k, i])) as Record<OpKind, number>;

/**
 * Lane of each kind, as a recorder or importer places it: 0 compute, 1 send, 2 recv, 3 all-reduce (and other
 * collectives: COMM), 4 memory (MEMCPY, MEMSET). Analyses of communication read lanes 1–3 only.
 */
export const LANE_OF_KIND: readonly number[] = OP_KINDS.map((k) =>
  k === 'SEND' ? 1 : k === 'RECV' ? 2 : k === 'ALLREDUCE' || k === 'COMM' ? 3 : k === 'MEMCPY' || k === 'MEMSET' || k === 'SYNC' ? 4 : 0,
);

/**
 * How HTA reads a GPU event (hta/common/types.py's name patterns, hta/utils/utils.py get_kernel_type; the filters of
 * hta/common/trace.py and hta/common/trace_filter.py), packed into OpTable.hta: bits 0–1 the kernel
 * type by name (HTA_COMPUTE, HTA_COMM, HTA_MEMORY, HTA_OTHER), HTA_UNCORRELATED when it has no correlation id ≥ 0 (HTA
 * then files it with the CPU events, kept by its own start in the last-step filter), HTA_NO_STREAM when it has no
 * stream (HTA's breakdown leaves it out).
 */
export const HTA_COMPUTE = 0;
export const HTA_COMM = 1;
export const HTA_MEMORY = 2;
export const HTA_OTHER = 3;
export const HTA_UNCORRELATED = 4;
export const HTA_NO_STREAM = 8;
/** Columnar op table: row i is one op. -1 marks "none" in integer columns (no micro-batch, no peer). */
export interface OpTable {
  length: number;
  kind: Uint8Array; // index into OP_KINDS
  stage: Int32Array;
  replica: Int32Array;
  lane: Uint8Array; // LANE_OF_KIND: 0 compute, 1 send, 2 recv, 3 all-reduce / collective, 4 memory
  microbatch: Int32Array;
  chunk: Int32Array;
  step: Int32Array;
  peer: Int32Array;
  /** Microseconds from the run start. */
  start: Float64Array;
  dur: Float64Array;
  bytes: Float64Array;
  /** Optional: index into Timeline.labels (e.g. an NCCL collective's name), -1 for none. Absent in pipeprof traces. */
  label?: Int32Array;
  /** Optional (Kineto kernels): when the CPU launched it, µs on the run clock; NaN when the launch is not in the trace. */
  launch?: Float64Array;
  /** Optional (Kineto kernels): how Holistic Trace Analysis reads it (the HTA_* type and flags above). */
  hta?: Uint8Array;
}

export interface OpRow {
  kind: OpKind;
  stage: number;
  replica?: number;
  lane: number;
  microbatch?: number;
  chunk?: number;
  step: number;
  peer?: number;
  start: number;
  dur: number;
  bytes?: number;
  /** Index into Timeline.labels, when the table has a label column. */
  label?: number;
}

/** Per-layer cost probe: forward/backward time at several micro-batch sizes, measured on the layer's stage worker. */
export interface LayerCost {
  layer: string;
  stage: number;
  /**
   * Time of one forward and one backward (dx and dW) at `size` samples, ms; and of the split backward's halves
   * (zb-h1's B: dx alone, W: dW alone), absent in traces from before the split was probed. `lossMs`, on the model's
   * last layer only: the loss and its gradient on that layer's output, the targets made as a run makes them (absent
   * in older traces).
   */
  points: { size: number; forwardMs: number; backwardMs: number; inputGradMs?: number; weightGradMs?: number; lossMs?: number }[];
  /** Bytes a forward keeps for its backward, per sample. */
  savedBytesPerSample: number;
  /** Bytes the split backward's B keeps for W, per sample; absent in traces from before it was probed. */
  pendingBytesPerSample?: number;
  /** Bytes of the layer's weights (float32). */
  paramBytes: number;
}

/** One rank of a PyTorch profiler (Kineto) trace and where its ops sit in the Timeline. */
export interface RankInfo {
  rank: number;
  worldSize: number | null;
  file: string;
  /** The row (Timeline stage) and replica its ops and kernels are on. */
  stage: number;
  replica: number;
  /** torch.distributed.pipelining stages it ran (from its `PP:` annotations); empty without them. */
  ppStages: number[];
  /** Added to the file's `ts` to put it on the Timeline's clock: baseTimeNanoseconds/1000 − run origin − skewUs. */
  clockOffsetUs: number;
  /** Clock skew removed from this rank, µs, estimated from its NCCL collectives (0 when not estimated). */
  skewUs: number;
  /** Step numbers (ProfilerStep#N) the file covers, in order. */
  steps: number[];
  /** The rule that identified its pipeline ops ('PP:', 'Forward {i}', 'DeepSpeed _exec_*', 'Megatron forward_step', 'p2p pattern'); absent without a pipeline. */
  opsRule?: string;
  /** HTA rounds its file's events inward to whole µs: a ts has a fraction of a µs, or an event has no ts. */
  fractionalTs?: boolean;
  /** Run-clock start of its latest-starting ProfilerStep#N (CPU side), for HTA's last-step filter; absent without steps. */
  lastStepStartUs?: number;
  /** 'cpu': its file had no GPU activity, so its ops and `kernels` are CPU ranges (kineto-cpu.ts); absent: GPU time. */
  timedOn?: 'cpu';
}

export interface Timeline {
  source: 'measured' | 'predicted';
  status: 'complete' | 'failed';
  /** Stage count; pids beyond it (replicas) map through `replica`. */
  stages: number;
  plan: Plan | null;
  /** Samples per minibatch, when known. */
  batch: number | null;
  model: { name: string; options: Record<string, number | string>; loss: string } | null;
  layers: LayerSummary[];
  layerCosts: LayerCost[];
  steps: StepRecord[];
  ops: OpTable;
  /** Memory counter samples per stage (bytes in use). */
  memory: { stage: number; ts: number; bytes: number }[];
  backend: string | null;
  host: HostInfo | null;
  /** The optimizer the run used (pipeprof traces), for runs that repeat it (recommend --verify). */
  optimizer?: string;
  /** What the timeline was built from; absent means a pipeprof trace or simulation. */
  origin?: 'pipeprof' | 'kineto';
  /** Strings that OpTable.label columns index (collective names and the like). */
  labels?: string[];
  /** Kineto: one entry per rank file, in row order. */
  ranks?: RankInfo[];
  /**
   * Kineto: every GPU kernel, memcpy and memset of every rank (kinds KERNEL, COMM, MEMCPY, MEMSET), rows as in `ranks`.
   * Without pipeline annotations this is the same table as `ops`; with them, `ops` holds the pipeline ops (F, B, …)
   * and this the kernels underneath, so that analyses of ops never count a kernel twice.
   */
  kernels?: OpTable;
}

/** An empty table with room for `cap` rows; write rows in place, then call finishOpTable with the row count. */
export function allocOpTable(cap: number): OpTable {
  return {
    length: 0, kind: new Uint8Array(cap), stage: new Int32Array(cap), replica: new Int32Array(cap), lane: new Uint8Array(cap),
    microbatch: new Int32Array(cap), chunk: new Int32Array(cap), step: new Int32Array(cap), peer: new Int32Array(cap),
    start: new Float64Array(cap), dur: new Float64Array(cap), bytes: new Float64Array(cap),
  };
}

type Column = Uint8Array | Int32Array | Float64Array;
const COLUMNS = ['kind', 'stage', 'replica', 'lane', 'microbatch', 'chunk', 'step', 'peer', 'start', 'dur', 'bytes'] as const;

/**
 * The first `n` rows of `t`, sorted by start (stable). When they are sorted already and the columns are sized
 * exactly, the columns are handed over without a copy (copying a million rows costs a full GC).
 */
export function finishOpTable(t: OpTable, n: number): OpTable {
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) if (t.start[i] < t.start[i - 1]) sorted = false;
  const out = { length: n } as OpTable;
  const columns: readonly (keyof OpTable & string)[] = [...COLUMNS, ...(t.label ? ['label' as const] : []), ...(t.launch ? ['launch' as const] : []), ...(t.hta ? ['hta' as const] : [])];
  if (sorted) {
    for (const c of columns) (out[c] as Column) = (t[c] as Column).length === n ? (t[c] as Column) : ((t[c] as Column).slice(0, n) as Column);
    return out;
  }
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => t.start[a] - t.start[b] || a - b);
  for (const c of columns) {
    const src = t[c] as Column;
    const dst = new (src.constructor as new (n: number) => Column)(n);
    for (let i = 0; i < n; i++) dst[i] = src[order[i]];
    (out[c] as Column) = dst;
  }
  return out;
}

/** Accumulates rows as objects (for small tables, e.g. a simulated run), then freezes them into an OpTable. */
export class OpTableBuilder {
  private rows: OpRow[] = [];
  push(r: OpRow): void {
    this.rows.push(r);
  }
  get length(): number {
    return this.rows.length;
  }
  /** Rows sorted by start time. */
  build(): OpTable {
    const n = this.rows.length;
    const t = allocOpTable(n);
    this.rows.forEach((r, i) => {
      t.kind[i] = opCode(r.kind);
      t.stage[i] = r.stage;
      t.replica[i] = r.replica ?? 0;
      t.lane[i] = r.lane;
      t.microbatch[i] = r.microbatch ?? -1;
      t.chunk[i] = r.chunk ?? -1;
      t.step[i] = r.step;
      t.peer[i] = r.peer ?? -1;
      t.start[i] = r.start;
      t.dur[i] = r.dur;
      t.bytes[i] = r.bytes ?? 0;
    });
    return finishOpTable(t, n);
  }
}

/** Row i of a table as an object (for small inspections and tests; analyses read the columns). */
export function opAt(t: OpTable, i: number): OpRow {
  return {
    kind: OP_KINDS[t.kind[i]], stage: t.stage[i], replica: t.replica[i], lane: t.lane[i],
    microbatch: t.microbatch[i] < 0 ? undefined : t.microbatch[i], chunk: t.chunk[i] < 0 ? undefined : t.chunk[i],
    step: t.step[i], peer: t.peer[i] < 0 ? undefined : t.peer[i], start: t.start[i], dur: t.dur[i], bytes: t.bytes[i],
    ...(t.label && t.label[i] >= 0 ? { label: t.label[i] } : {}),
  };
}

/** Index of the window holding t (windows sorted by start, non-overlapping assumed; the latest-starting wins), or -1. */
export function windowAt(w: { startUs: number; endUs: number }[], t: number): number {
  let lo = 0;
  let hi = w.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (w[mid].startUs <= t) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi >= 0 && t <= w[hi].endUs ? hi : -1;
}
