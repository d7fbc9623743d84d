// Messages between the executor (main thread) and the stage workers, as one discriminated union each way.
import type { ModelSpec } from '../model/types';
import type { ScheduledOp } from '../schedule/types';
import type { Plan, SyncConfig } from '../plan/types';
import type { TraceEvent } from '../trace/schema';
import type { LayerCost } from '../trace/timeline';
import type { BackendName, GpuAdapter } from './backends';
import type { OptimizerConfig } from './optimizer';
import type { ReduceMsg } from './allreduce';
import type { Packed } from './compress';


/** A worker's current op in shared memory: [op code + 1 (0: none yet), step, micro-batch (−1: none), chunk]. */
export const STATUS_FIELDS = 4;
export const STATUS_OPS = ['F', 'B', 'W', 'R', 'OPT', 'ALLREDUCE', 'SEND', 'RECV', 'probe'] as const;
export type StatusOp = (typeof STATUS_OPS)[number];

export function writeStatus(st: Int32Array | null, op: StatusOp, step: number, microbatch = -1, chunk = -1): void {
  if (!st) return;
  Atomics.store(st, 1, step);
  Atomics.store(st, 2, microbatch);
  Atomics.store(st, 3, chunk);
  Atomics.store(st, 0, STATUS_OPS.indexOf(op) + 1);
}

/** The op a status names, as failures name it ("B micro-batch 3"), or null before the first op. */
export function readStatus(st: Int32Array): { op: string; step: number } | null {
  const code = Atomics.load(st, 0);
  if (!code) return null;
  const mb = Atomics.load(st, 2);
  const chunk = Atomics.load(st, 3);
  return { op: `${STATUS_OPS[code - 1]}${mb >= 0 ? ` micro-batch ${mb}` : ''}${chunk >= 0 ? ` chunk ${chunk}` : ''}`, step: Atomics.load(st, 1) };
}

/** A fault to inject, for tests of the failure path. */
export interface Fault {
  stage: number;
  /** Which replica of the stage (default 0). */
  replica?: number;
  step: number;
  op: 'F' | 'B' | 'R' | 'OPT' | 'ALLREDUCE';
  /** throw: an exception in the op; exit: the worker thread dies; nan: the op yields NaN; hang: the op never returns; oom: the op allocates until the worker runs out of memory. */
  kind: 'throw' | 'exit' | 'nan' | 'hang' | 'oom';
}

export interface StageInit {
  stage: number;
  stages: number;
  /** This worker's replica of the stage, of `plan.replicas`. */
  replica: number;
  sync: SyncConfig;
  /** The worker's model chunks: chunk c is virtual stage c·stages + stage, layers [firstLayer, firstLayer + layers). One unless interleaved. */
  chunks: { firstLayer: number; layers: number }[];
  /** The model, with initialWeights trimmed to this stage's layers. */
  model: ModelSpec;
  plan: Plan;
  ops: ScheduledOp[];
  batch: number;
  seed: number;
  optimizer: OptimizerConfig;
  backend: BackendName;
  trace: boolean;
  /** Run start, epoch milliseconds on the shared clock. */
  t0Ms: number;
  fault?: Fault;
}

export type ToStage =
  /** `last`: the run's final step, after which the worker hands over every event it still holds. */
  | { type: 'step'; step: number; last: boolean }
  | { type: 'get-weights' }
  /** Time every layer's forward and backward at these micro-batch sizes. */
  /** `skip`: layers whose shape another worker times (probe-plan.ts). */
  | { type: 'probe'; sizes: number[]; skip?: string[] }
  /** Measure the backend's float32 matmul rate. */
  | { type: 'peak' }
  /** Hand over recorded events now, even in the middle of a step (after a failure elsewhere). */
  | { type: 'flush' }
  | { type: 'stop' };

export type FromStage =
  /** `gpu`: the adapter a webgpu worker opened its own Dawn device on. */
  | { type: 'ready'; backend: string; tfjs: string; gpu?: GpuAdapter }
  | { type: 'step-done'; stage: number; replica: number; step: number; loss: number | null; events: TraceEvent[]; tensors: number; bytes: number }
  /** `op`/`step`: what the worker is doing or waiting in when it answers a flush. */
  | { type: 'events'; stage: number; replica: number; events: TraceEvent[]; op: string; step: number | null }
  | { type: 'costs'; stage: number; replica: number; costs: LayerCost[] }
  | { type: 'peak'; flops: number }
  | { type: 'weights'; weights: Record<string, Record<string, { shape: number[]; values: Float32Array }>> }
  | { type: 'error'; stage: number; replica?: number; op: string; step: number | null; message: string; events: TraceEvent[] };

/** Replica ↔ parameter server (sync mode `ps`): gradients pushed, weights pulled, one flat buffer per stage. */
export type ToServer = { type: 'push'; step: number; replica: number; packed: Packed };
export type FromServer = { type: 'weights'; step: number; data: Float32Array };

/** Between replicas of one stage. */
export type ReplicaMessage = ReduceMsg;

export interface ServerInit {
  stage: number;
  replicas: number;
  /** The stage's layers, for initial weights (the same the replicas make from the seed). */
  model: ModelSpec;
  /** The worker's layers, chunk by chunk. */
  chunks: { firstLayer: number; layers: number }[];
  seed: number;
  optimizer: OptimizerConfig;
}

/** A tensor moving between neighbouring stages over their MessagePort. */
export interface Transfer {
  kind: 'act' | 'grad';
  step: number;
  microbatch: number;
  /** The receiver's model chunk. */
  chunk: number;
  shape: number[];
  data: Float32Array;
  /** Sender's clock at the start of the SEND, for the flow arrow. */
  sentUs: number;
}
