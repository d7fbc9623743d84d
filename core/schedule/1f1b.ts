// 1F1B (PipeDream-Flush): a warm-up of forwards, then one forward one backward, then the remaining backwards.
import type { Schedule, ScheduledOp } from './types';
import type { RecomputeMode } from '../plan/types';
import { backwardOps } from './gpipe';

export function oneFOneB(opts: { stages: number; microbatches: number; recompute?: RecomputeMode }): Schedule {
  const { stages, microbatches, recompute = 'never' } = opts;
  const schedule: Schedule = [];
  for (let s = 0; s < stages; s++) {
    const warmup = Math.min(stages - s - 1, microbatches);
    const ops: ScheduledOp[] = [];
    let f = 0;
    let b = 0;
    for (; f < warmup; f++) ops.push({ op: 'F', stage: s, microbatch: f });
    while (f < microbatches) {
      ops.push({ op: 'F', stage: s, microbatch: f++ });
      ops.push(...backwardOps(s, b++, microbatches, recompute));
    }
    while (b < microbatches) ops.push(...backwardOps(s, b++, microbatches, recompute));
    schedule.push(ops);
  }
  return schedule;
}
