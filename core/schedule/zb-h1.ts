// ZB-H1 (Zero Bubble Pipeline Parallelism, Qi et al. 2023): 1F1B with the backward split into B and W, W delayed to fill the tail.
import type { Schedule, ScheduledOp } from './types';
import type { RecomputeMode } from '../plan/types';
import { backwardOps } from './gpipe';

/**
 * The F and B order is 1F1B's (S−s−1 warm-up forwards, so the same peak of in-flight activations); stage s holds
 * back its first s weight gradients: the j-th B is followed by W(j−s) once j ≥ s, and the last s W fill the tail
 * where 1F1B's later stages sit idle. Every stage then has S micro-batches with F done and W pending, as the paper's
 * §2.1 asks; with F = B = W and M ≥ S the idle time per stage drops from 1F1B's 3(S−1) to S−1. Same order as
 * torch.distributed.pipelining's ScheduleInterleavedZeroBubble with one stage per rank (ZB1P, num_1f1b_microbatches = rank).
 */
export function zbH1(opts: { stages: number; microbatches: number; recompute?: RecomputeMode }): Schedule {
  const { stages: S, microbatches: M, recompute = 'never' } = opts;
  const schedule: Schedule = [];
  for (let s = 0; s < S; s++) {
    const warmup = Math.min(S - s - 1, M);
    const ops: ScheduledOp[] = [];
    let f = 0;
    let b = 0;
    let w = 0;
    const backward = () => {
      ops.push(...backwardOps(s, b++, M, recompute));
      if (b > s) ops.push({ op: 'W', stage: s, microbatch: w++ });
    };
    for (; f < warmup; f++) ops.push({ op: 'F', stage: s, microbatch: f });
    while (f < M) {
      ops.push({ op: 'F', stage: s, microbatch: f++ });
      backward();
    }
    while (b < M) backward();
    while (w < M) ops.push({ op: 'W', stage: s, microbatch: w++ });
    schedule.push(ops);
  }
  return schedule;
}
