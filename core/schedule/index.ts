// Builds the schedule a plan asks for, and checks it.
import type { Plan, Schedule } from './types';
import { gpipe } from './gpipe';
import { oneFOneB } from './1f1b';
import { validateSchedule } from './validate';

export function buildSchedule(plan: Pick<Plan, 'balance' | 'microbatches' | 'schedule' | 'recompute'>): Schedule {
  const opts = { stages: plan.balance.length, microbatches: plan.microbatches, recompute: plan.recompute };
  const schedule = plan.schedule === 'gpipe' ? gpipe(opts) : oneFOneB(opts);
  const problems = validateSchedule(schedule, opts);
  if (problems.length) throw new Error(`internal: schedule ${plan.schedule} is invalid: ${problems.join('; ')}`);
  return schedule;
}

export * from './types';
export { gpipe, clockCycles } from './gpipe';
export { oneFOneB } from './1f1b';
export { validateSchedule, unitTimeline, dependencies } from './validate';
export { recomputes } from './recompute';
