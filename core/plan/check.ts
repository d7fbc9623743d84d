// The one checker of a plan: every rule a plan must meet, each problem as rule → values → fix.
import type { Plan } from './types';

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
