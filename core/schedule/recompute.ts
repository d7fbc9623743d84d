// Re-materialization (GPipe): which micro-batches drop their activations after F and recompute them (R) before B.
import type { RecomputeMode } from '../plan/types';

/**
 * torchgpipe's modes: `always` recomputes every micro-batch; `except-last` every one but the last,
 * whose backward follows its forward at once so keeping its activations costs nothing; `never` keeps all.
 */
export function recomputes(mode: RecomputeMode, microbatch: number, microbatches: number): boolean {
  return mode === 'always' || (mode === 'except-last' && microbatch < microbatches - 1);
}
