// Builds the schedule a plan asks for, and checks it.
import type { Schedule } from './types';
import type { Plan } from '../plan/types';
import { checkChunks } from '../plan/check';
import { stageCount } from '../plan/types';
import { gpipe } from './gpipe';
import { oneFOneB } from './1f1b';
import { interleaved1F1B } from './interleaved';
import { zbH1 } from './zb-h1';
import { validateSchedule } from './validate';

/** Throws the plan's chunk problems (one line each) as they are; throws `internal:` when a generator breaks its own rules. */
export function buildSchedule(plan: Pick<Plan, 'balance' | 'microbatches' | 'schedule' | 'recompute' | 'chunks'>): Schedule {
  const plain = checkChunks(plan);
  if (plain.length) throw new Error(plain.join('\n'));
  const chunks = plan.chunks ?? 1;
  const opts = { stages: stageCount(plan), microbatches: plan.microbatches, recompute: plan.recompute };
  const schedule =
    plan.schedule === 'gpipe' ? gpipe(opts)
    : plan.schedule === 'interleaved-1f1b' ? interleaved1F1B({ ...opts, chunks })
    : plan.schedule === 'zb-h1' ? zbH1(opts)
    : oneFOneB(opts);
  const problems = validateSchedule(schedule, { stages: opts.stages, microbatches: opts.microbatches, chunks, splitW: plan.schedule === 'zb-h1' });
  if (problems.length) throw new Error(`internal: schedule ${plan.schedule} is invalid: ${problems.join('; ')}`);
  return schedule;
}

export * from './types';
export { gpipe, clockCycles } from './gpipe';
export { oneFOneB } from './1f1b';
export { interleaved1F1B } from './interleaved';
export { zbH1 } from './zb-h1';
export { validateSchedule, unitTimeline, dependencies } from './validate';
export { recomputes } from './recompute';
export { analyticBubble } from './analytic';
