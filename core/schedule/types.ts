// Plan and schedule types: a schedule is, per stage, the ordered compute ops of one step.

export const SCHEDULES = ['gpipe', '1f1b', 'interleaved-1f1b', 'zb-h1'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];
export const RECOMPUTE_MODES = ['always', 'except-last', 'never'] as const;
export type RecomputeMode = (typeof RECOMPUTE_MODES)[number];

export type ComputeOpKind = 'F' | 'B' | 'W' | 'R';
/** GPU activity of a PyTorch profiler (Kineto) trace: a compute kernel, an NCCL kernel, a memory copy, a memset. */
export type GpuOpKind = 'KERNEL' | 'COMM' | 'MEMCPY' | 'MEMSET' | 'SYNC';
/** COMPRESS and DECOMPRESS: gradient compression around all-reduce and parameter-server traffic (compute on the worker). */
export type OpKind = ComputeOpKind | 'SEND' | 'RECV' | 'ALLREDUCE' | 'OPT' | GpuOpKind | 'COMPRESS' | 'DECOMPRESS';
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

/**
 * Rounds of interleaved 1F1B: micro-batches go through the chunks in groups of M / rounds (S when S divides M).
 * Megatron-LM asks M to be a multiple of S; torch.distributed.pipelining's ScheduleInterleaved1F1B relaxes that to
 * rounds = max(1, ⌊M/S⌋) dividing M (so 10 micro-batches on 4 stages run as 2 rounds of 5). We follow torch.
 */
export function interleavedRounds(stages: number, microbatches: number): number {
  return Math.max(1, Math.floor(microbatches / stages));
}

const roundsFit = (S: number, M: number) => M % interleavedRounds(S, M) === 0;

/**
 * Problems with a plan's model chunks, one line each (rule, values, fix); empty when the plan can be scheduled.
 * interleaved-1f1b with chunks 1 is allowed and is exactly 1F1B; the other schedules run one chunk per stage.
 */
export function checkChunks(plan: Pick<Plan, 'balance' | 'microbatches' | 'schedule' | 'chunks'>): string[] {
  const v = plan.chunks ?? 1;
  const n = plan.balance.length;
  if (!Number.isInteger(v) || v < 1)
    return [`chunks must be a whole number of at least 1 (got ${v}); use chunks 1 for no interleaving, or 2 or more with schedule interleaved-1f1b`];
  if (v === 1) return [];
  const problems: string[] = [];
  if (plan.schedule !== 'interleaved-1f1b')
    problems.push(`schedule ${plan.schedule} runs one model chunk per stage but the plan has chunks ${v}; use schedule interleaved-1f1b, or chunks 1`);
  if (n % v !== 0) {
    const S = Math.max(1, Math.round(n / v));
    problems.push(
      `balance lists layers per virtual stage, a multiple of chunks ${v}, but has ${n} entries (balance: [${plan.balance.join(',')}]); give ${S * v} entries for ${S} stages × ${v} chunks, or change chunks`,
    );
  } else if (plan.schedule === 'interleaved-1f1b' && n > 0) {
    const S = n / v;
    const M = plan.microbatches;
    if (Number.isInteger(M) && M >= 1 && !roundsFit(S, M)) {
      let lo = M - 1;
      while (lo > 1 && !roundsFit(S, lo)) lo--;
      let hi = M + 1;
      while (!roundsFit(S, hi)) hi++;
      problems.push(
        `interleaved-1f1b needs the micro-batches to split into max(1, ⌊M/S⌋) equal rounds (torch.distributed.pipelining's rule), but ${M} micro-batches on ${S} stages make ${interleavedRounds(S, M)} rounds of ${+(M / interleavedRounds(S, M)).toFixed(2)}; use ${lo} or ${hi} micro-batches`,
      );
    }
  }
  return problems;
}

/** One compute op a stage runs; `chunk` is the model chunk (virtual stage) for interleaved schedules. */
export interface ScheduledOp {
  op: ComputeOpKind;
  stage: number;
  microbatch: number;
  chunk?: number;
}

/** schedule[s] = the ops stage s runs in one step, in order. */
export type Schedule = ScheduledOp[][];

export function opLabel(o: ScheduledOp): string {
  return `${o.op}${o.microbatch}${o.chunk !== undefined ? `.${o.chunk}` : ''}`;
}
