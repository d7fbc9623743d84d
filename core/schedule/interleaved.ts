// Interleaved 1F1B (Megatron-LM's virtual pipeline): v model chunks per stage, micro-batches taken through the chunks in groups.
import type { Schedule, ScheduledOp } from './types';
import type { RecomputeMode } from '../plan/types';
import { interleavedRounds } from '../plan/check';
import { backwardOps } from './gpipe';
import { oneFOneB } from './1f1b';

/**
 * Stage s runs the k-th forward on chunk ⌊k/g⌋ mod v and the k-th backward on chunk v−1−(⌊k/g⌋ mod v), each chunk's
 * micro-batches in order, where g = M / rounds is the group size (S when S divides M). It first runs
 * (v−1)·g + 2(S−s−1) forwards (Megatron-LM's num_warmup_microbatches, capped at M·v), then one forward one backward,
 * then the remaining backwards. Same order as Megatron-LM's forward_backward_pipelining_with_interleaving
 * (get_model_chunk_id over its schedule table) and torch.distributed.pipelining's ScheduleInterleaved1F1B.
 * With chunks 1 it is exactly 1F1B (the interleaved warm-up formula would only add in-flight micro-batches).
 * M must split into interleavedRounds(S, M) equal rounds: see checkChunks. Memory: stage s holds at most
 * min(M·v, (v−1)·g + 2(S−s−1) + 1) chunk activations, each 1/v of a stage's, so stage 0 keeps S + (S−1)/v
 * stages' worth where 1F1B keeps S.
 */
export function interleaved1F1B(opts: { stages: number; microbatches: number; chunks: number; recompute?: RecomputeMode }): Schedule {
  const { stages: S, microbatches: M, chunks: v, recompute = 'never' } = opts;
  if (v === 1) return oneFOneB(opts);
  const g = M / interleavedRounds(S, M);
  const total = M * v;
  const schedule: Schedule = [];
  for (let s = 0; s < S; s++) {
    const warmup = Math.min((v - 1) * g + 2 * (S - s - 1), total);
    const fwd = new Array<number>(v).fill(0);
    const bwd = new Array<number>(v).fill(0);
    const ops: ScheduledOp[] = [];
    const forward = (k: number) => {
      const chunk = Math.floor(k / g) % v;
      ops.push({ op: 'F', stage: s, microbatch: fwd[chunk]++, chunk });
    };
    const backward = (k: number) => {
      const chunk = v - 1 - (Math.floor(k / g) % v);
      ops.push(...backwardOps(s, bwd[chunk]++, M, recompute, chunk));
    };
    let f = 0;
    let b = 0;
    while (f < warmup) forward(f++);
    while (f < total) {
      forward(f++);
      backward(b++);
    }
    while (b < total) backward(b++);
    schedule.push(ops);
  }
  return schedule;
}
