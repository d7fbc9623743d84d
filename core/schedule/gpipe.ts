// GPipe: all forwards of the step, then all backwards in reverse micro-batch order (torchgpipe's clock cycles).
import type { Schedule, ScheduledOp } from './types';
import type { RecomputeMode } from '../plan/types';
import { recomputes } from './recompute';

/** torchgpipe's clock cycles: at tick k, the (microbatch, stage) pairs with microbatch + stage = k. */
export function clockCycles(microbatches: number, stages: number): [number, number][][] {
  const out: [number, number][][] = [];
  for (let k = 0; k < microbatches + stages - 1; k++) {
    const tick: [number, number][] = [];
    for (let s = Math.max(0, k - microbatches + 1); s < Math.min(stages, k + 1); s++) tick.push([k - s, s]);
    out.push(tick);
  }
  return out;
}

/** The backward op of one micro-batch (of one model chunk, when given), preceded by its recompute when the mode asks for one. */
export function backwardOps(stage: number, microbatch: number, microbatches: number, recompute: RecomputeMode, chunk?: number): ScheduledOp[] {
  const at = (op: 'R' | 'B'): ScheduledOp => (chunk === undefined ? { op, stage, microbatch } : { op, stage, microbatch, chunk });
  return recomputes(recompute, microbatch, microbatches) ? [at('R'), at('B')] : [at('B')];
}

export function gpipe(opts: { stages: number; microbatches: number; recompute?: RecomputeMode }): Schedule {
  const { stages, microbatches, recompute = 'never' } = opts;
  const schedule: Schedule = [];
  for (let s = 0; s < stages; s++) {
    const ops: ScheduledOp[] = [];
    for (let m = 0; m < microbatches; m++) ops.push({ op: 'F', stage: s, microbatch: m });
    for (let m = microbatches - 1; m >= 0; m--) ops.push(...backwardOps(s, m, microbatches, recompute));
    schedule.push(ops);
  }
  return schedule;
}
