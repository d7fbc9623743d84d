// The plan: layers per stage, micro-batches, schedule, recompute, replicas and their sync; one type for every part of pipeprof.

export const SCHEDULES = ['gpipe', '1f1b', 'interleaved-1f1b', 'zb-h1'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];
export const RECOMPUTE_MODES = ['always', 'except-last', 'never'] as const;
export type RecomputeMode = (typeof RECOMPUTE_MODES)[number];

/** How a stage's replicas combine gradients: see DESIGN.md's vocabulary (all-reduce, Pipe-SGD, parameter server). */
export const SYNC_MODES = ['step', 'layerwise', 'pipelined', 'ps'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];
export const ALLREDUCE_ALGOS = ['ring', 'naive'] as const;
export type AllReduceAlgo = (typeof ALLREDUCE_ALGOS)[number];
export const COMPRESSIONS = ['none', 'fp16', 'int8'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** Gradient sync of a plan with replicas: the mode, the all-reduce algorithm and the wire compression. */
export interface SyncConfig {
  sync: SyncMode;
  allreduce: AllReduceAlgo;
  compress: Compression;
}
export const DEFAULT_SYNC: SyncConfig = { sync: 'step', allreduce: 'ring', compress: 'none' };

export interface Plan {
  /**
   * Layers per stage, e.g. [3, 3, 2]. With `chunks` v > 1: layers per virtual stage, S·v entries in virtual-stage
   * order, where virtual stage k = c·S + s is model chunk c on stage s (Megatron-LM's and torch.distributed.pipelining's layout).
   */
  balance: number[];
  /** Model chunks per stage (v) for interleaved-1f1b; absent means 1. */
  chunks?: number;
  microbatches: number;
  schedule: ScheduleName;
  recompute: RecomputeMode;
  replicas: number;
  /** With replicas (or a sync mode other than step): how gradients are combined. Absent: DEFAULT_SYNC. */
  sync?: SyncConfig;
}

/** Workers in the pipeline: balance lists S·v virtual stages. Meaningful when checkChunks(plan) is empty. */
export function stageCount(plan: Pick<Plan, 'balance' | 'chunks'>): number {
  return plan.balance.length / (plan.chunks ?? 1);
}

/** Virtual stages (S·v): one per balance entry. */
export function virtualStages(plan: Pick<Plan, 'balance' | 'chunks'>): number {
  return plan.balance.length;
}
