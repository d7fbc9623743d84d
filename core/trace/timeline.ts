// The Timeline: one run in memory, measured or predicted, as a columnar table of ops on one clock (HTA's per-rank table).
import type { OpKind, Plan } from '../schedule/types';
import type { LayerSummary } from '../model/types';
import type { HostInfo, StepRecord } from './schema';

export const OP_KINDS: readonly OpKind[] = ['F', 'B', 'W', 'R', 'SEND', 'RECV', 'ALLREDUCE', 'OPT'];
export const COMPUTE_KINDS: readonly OpKind[] = ['F', 'B', 'W', 'R', 'OPT'];
export const opCode = (k: OpKind): number => OP_KINDS.indexOf(k);
/** Op codes by name, for tight loops over OpTable.kind. */
export const OP = Object.fromEntries(OP_KINDS.map((k, i) => [k, i])) as Record<OpKind, number>;

/** Columnar op table: row i is one op. -1 marks "none" in integer columns (no micro-batch, no peer). */
export interface OpTable {
  length: number;
  kind: Uint8Array; // index into OP_KINDS
  stage: Int32Array;
  replica: Int32Array;
  lane: Uint8Array; // 0 compute, 1 send, 2 recv, 3 all-reduce
  microbatch: Int32Array;
  chunk: Int32Array;
  step: Int32Array;
  peer: Int32Array;
  /** Microseconds from the run start. */
  start: Float64Array;
  dur: Float64Array;
  bytes: Float64Array;
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
}

/** Per-layer cost probe: forward/backward time at several micro-batch sizes, measured on the layer's stage worker. */
export interface LayerCost {
  layer: string;
  stage: number;
  /** Time of one forward and one backward (dx and dW) at `size` samples, ms. */
  points: { size: number; forwardMs: number; backwardMs: number }[];
  /** Bytes a forward keeps for its backward, per sample. */
  savedBytesPerSample: number;
  /** Bytes of the layer's weights (float32). */
  paramBytes: number;
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
}

/** Accumulates rows, then freezes them into an OpTable. */
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
    const rows = this.rows.slice().sort((a, b) => a.start - b.start);
    const n = rows.length;
    const t: OpTable = {
      length: n, kind: new Uint8Array(n), stage: new Int32Array(n), replica: new Int32Array(n), lane: new Uint8Array(n),
      microbatch: new Int32Array(n), chunk: new Int32Array(n), step: new Int32Array(n), peer: new Int32Array(n),
      start: new Float64Array(n), dur: new Float64Array(n), bytes: new Float64Array(n),
    };
    rows.forEach((r, i) => {
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
    return t;
  }
}

/** Row i of a table as an object (for small inspections and tests; analyses read the columns). */
export function opAt(t: OpTable, i: number): OpRow {
  return {
    kind: OP_KINDS[t.kind[i]], stage: t.stage[i], replica: t.replica[i], lane: t.lane[i],
    microbatch: t.microbatch[i] < 0 ? undefined : t.microbatch[i], chunk: t.chunk[i] < 0 ? undefined : t.chunk[i],
    step: t.step[i], peer: t.peer[i] < 0 ? undefined : t.peer[i], start: t.start[i], dur: t.dur[i], bytes: t.bytes[i],
  };
}
