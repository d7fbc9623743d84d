// Analytic bubble of each schedule: the mean share of the step a stage sits idle, for equal stages and free communication.
import type { Plan } from '../plan/types';
import { checkChunks } from '../plan/check';
import { stageCount } from '../plan/types';

/**
 * Idle over step, the same on every stage (so also their mean, as core/analysis/utilization.ts measures it), when
 * every stage costs the same and communication is free; null for a plan that cannot be scheduled. With S stages,
 * M micro-batches, v chunks and k the idle time per stage in units of one op:
 *
 * - gpipe, 1f1b (and interleaved-1f1b with v = 1): (S−1)/(M+S−1), GPipe's; any ratio of F to B.
 * - interleaved-1f1b: k/(v·M + k) with k = (S−1) + (v−1)·max(0, S−M), in units of one chunk's F+B = (F+B)/v;
 *   for M ≥ S that is Megatron-LM's (S−1)/(v·M + S−1). With fewer micro-batches than stages a group of M cannot
 *   cover the S-step round trip, and every chunk after the first waits the missing S−M steps again. Any ratio of F to B.
 * - zb-h1 with F = B = W: k/(3M + k) with k = (S−1) + max(0, S−M) in units of F; for M ≥ S that is
 *   (S−1)/(3M + S−1): idle (S−1)(F+B−W) per stage against 1F1B's (S−1)(F+B+W), a third of it.
 *
 * test/schedule/analytic.test.ts replays every schedule for S ≤ 8, M ≤ 16, v ≤ 4 and finds these values exactly.
 */
export function analyticBubble(plan: Pick<Plan, 'balance' | 'microbatches' | 'schedule' | 'chunks'>): number | null {
  if (checkChunks(plan).length) return null;
  const S = stageCount(plan);
  const M = plan.microbatches;
  if (!Number.isInteger(S) || S < 1 || !Number.isInteger(M) || M < 1) return null;
  const short = Math.max(0, S - M);
  switch (plan.schedule) {
    case 'gpipe':
    case '1f1b':
      return (S - 1) / (M + S - 1);
    case 'interleaved-1f1b': {
      const v = plan.chunks ?? 1;
      const k = S - 1 + (v - 1) * short;
      return k / (v * M + k);
    }
    case 'zb-h1': {
      const k = S - 1 + short;
      return k / (3 * M + k);
    }
    default:
      return null;
  }
}

/** Whose formula analyticBubble used for this plan, e.g. "zb-h1's (S−1)/(3M+S−1) with F = B = W": what a report labels the figure with. */
export function analyticBubbleFormula(plan: Pick<Plan, 'balance' | 'microbatches' | 'schedule' | 'chunks'>): string | null {
  if (analyticBubble(plan) === null) return null;
  const short = stageCount(plan) > plan.microbatches;
  switch (plan.schedule) {
    case 'gpipe':
    case '1f1b':
      return "GPipe's (S−1)/(M+S−1)";
    case 'interleaved-1f1b':
      return short && (plan.chunks ?? 1) > 1 ? "interleaved 1F1B's k/(v·M+k), k = (S−1)+(v−1)(S−M)" : "interleaved 1F1B's (S−1)/(v·M+S−1)";
    case 'zb-h1':
      return short ? "zb-h1's k/(3M+k), k = (S−1)+(S−M), with F = B = W" : "zb-h1's (S−1)/(3M+S−1) with F = B = W";
    default:
      return null;
  }
}
