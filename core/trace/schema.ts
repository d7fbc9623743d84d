// The trace file: Chrome Trace Event JSON plus a `pipeprof` metadata block (DESIGN.md, "The trace file").
import type { OpKind } from '../schedule/types';
import type { Plan } from '../plan/types';
import type { LayerSummary } from '../model/types';
import type { LayerCost, RankInfo } from './timeline';

export const TRACE_VERSION = 1;

/** Lanes (Chrome `tid`) within a stage's process. */
export const LANE = { compute: 0, send: 1, recv: 2, allreduce: 3 } as const;
export const LANE_NAMES = ['compute', 'send', 'recv', 'all-reduce'];

export interface CompleteEvent {
  ph: 'X';
  pid: number;
  tid: number;
  ts: number;
  dur: number;
  name: string;
  cat: 'compute' | 'comm';
  /** `label`: a collective's name (PyTorch traces); `kernel`: a GPU kernel under a pipeline op (Timeline.kernels, not ops); `launch`, `hta`: a PyTorch kernel's launch time and how HTA reads it (OpTable). */
  args: { op: OpKind; stage: number; microbatch?: number; step: number; peer?: number; bytes?: number; chunk?: number; replica?: number; label?: string; kernel?: boolean; launch?: number; hta?: number };
}
export interface FlowEvent { ph: 's' | 'f'; id: number; pid: number; tid: number; ts: number; name: string; cat: 'flow'; bp?: 'e' }
export interface CounterEvent { ph: 'C'; pid: number; ts: number; name: 'memory' | 'loss'; args: Record<string, number> }
export interface MetadataEvent { ph: 'M'; pid: number; tid?: number; name: 'process_name' | 'thread_name' | 'process_sort_index'; args: Record<string, string | number> }
export type TraceEvent = CompleteEvent | FlowEvent | CounterEvent | MetadataEvent;

export interface StepRecord {
  step: number;
  /** Microseconds from the run start. */
  startUs: number;
  endUs: number;
  loss: number;
  warmup: boolean;
}

export interface HostInfo {
  platform: string;
  arch: string;
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  node: string;
  tfjs: string;
  /** Measured float32 matmul rate of one stage worker on this backend, FLOP/s (the peak that achieved FLOP/s is compared with). */
  peakFlops?: number;
  /** The GPU the stage workers ran on (webgpu): every worker opened its own Dawn device on this adapter. */
  gpu?: GpuInfo;
}

/** A GPU shared by a run's stage workers, and how their ops were timed on it. */
export interface GpuInfo {
  adapter: string;
  vendor: string;
  architecture: string;
  description: string;
  /** Stage workers (stages × replicas) that shared it, each with its own device and queue. */
  devices: number;
  /** gpu-completion: an op ends when the GPU finished its work (the device queue's onSubmittedWorkDone). */
  timing: 'gpu-completion' | 'readback';
  /** async: tensors read back with data() (never a blocking dataSync). */
  readback: 'async';
}

export interface TraceMeta {
  version: number;
  /** A capture is measured; a simulator's output is predicted. Absent means measured. */
  source?: 'measured' | 'predicted';
  status: 'complete' | 'failed';
  /** `kineto`: imported from PyTorch profiler traces (pipeprof import); `ranks` then says which file each row came from. */
  origin?: 'pipeprof' | 'kineto';
  ranks?: RankInfo[];
  error?: { message: string; stage?: number; op?: string; step?: number | null };
  /** Null only for an imported PyTorch trace without pipeline annotations. */
  plan: Plan | null;
  model: { name: string; options: Record<string, number | string>; loss: string };
  backend: string;
  host: HostInfo;
  /** `sync`: how replicas combined gradients (present with replicas, or a sync mode other than step). */
  run: { batch: number; steps: number; warmup: number; optimizer: string; lr: number; seed: number; sync?: { sync: string; allreduce: string; compress: string } };
  layers: LayerSummary[];
  steps: StepRecord[];
  /** Per-layer forward/backward cost probe at several micro-batch sizes (absent on failed runs). */
  layerCosts?: LayerCost[];
}

export interface TraceFile {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  pipeprof: TraceMeta;
}
