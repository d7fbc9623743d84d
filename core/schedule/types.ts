// Schedule types: a schedule is, per stage, the ordered compute ops of one step.

export type ComputeOpKind = 'F' | 'B' | 'W' | 'R';
/** GPU activity of a PyTorch profiler (Kineto) trace: a compute kernel, an NCCL kernel, a memory copy, a memset. */
export type GpuOpKind = 'KERNEL' | 'COMM' | 'MEMCPY' | 'MEMSET' | 'SYNC';
/** COMPRESS and DECOMPRESS: gradient compression around all-reduce and parameter-server traffic (compute on the worker). */
export type OpKind = ComputeOpKind | 'SEND' | 'RECV' | 'ALLREDUCE' | 'OPT' | GpuOpKind | 'COMPRESS' | 'DECOMPRESS';
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
