// Step-time spread: the range of the measured steps and the ones that ran slow, which says how far one run's numbers hold.
import type { Timeline } from '../trace/timeline';
import { measuredSteps, median } from './utilization';

/** A step at least this many times the median counts as slow. */
export const SLOW_STEP = 1.1;

export interface StepSpread {
  minMs: number;
  maxMs: number;
  /** (max − min) / median: 0 for a single step. */
  relative: number;
  /** Measured steps that took at least SLOW_STEP × the median, by step number. */
  slowSteps: number[];
}

/**
 * How much the measured steps vary. Step times move with the machine (another process, a busy memory bus, the JIT
 * still compiling in the first seconds), so a run whose steps spread widely, or has slow ones, should be measured
 * again or compared with another plan in alternating runs rather than taken at its median alone.
 */
export function stepSpread(t: Timeline): StepSpread {
  const steps = measuredSteps(t);
  const ms = steps.map((s) => (s.endUs - s.startUs) / 1000);
  const mid = median(ms);
  const minMs = Math.min(...ms);
  const maxMs = Math.max(...ms);
  return {
    minMs,
    maxMs,
    relative: mid > 0 ? (maxMs - minMs) / mid : 0,
    slowSteps: steps.filter((_, i) => mid > 0 && ms[i] >= SLOW_STEP * mid).map((s) => s.step),
  };
}
