// How far a prediction holds: an interval from the traced run's spread, the calibration's residual and how far the plan is from the traced one.
import type { Plan } from '../plan/types';
import type { CostModel } from './cost-model';

/** A predicted step time with its interval (about 95 %: two standard errors). */
export interface Prediction {
  ms: number;
  /** Half-width of the interval as a share of `ms`. */
  relative: number;
  lowMs: number;
  highMs: number;
}

/**
 * How far `plan` is from the traced plan: doublings of the micro-batch size (the probe's curves then decide), and
 * whether layers move between stages (the probe's relative costs of layers then decide).
 */
export function planDistance(fit: NonNullable<CostModel['fit']>, plan: Plan, batch: number): { sizes: number; moved: number } {
  const samples = batch / plan.microbatches / Math.max(1, plan.replicas ?? 1);
  const same = plan.balance.length === fit.tracedBalance.length && plan.balance.every((b, i) => b === fit.tracedBalance[i]);
  return { sizes: Math.abs(Math.log2(samples / fit.tracedSamples)), moved: same ? 0 : 1 };
}

/**
 * The interval of a predicted step time: two standard errors of three independent parts: the traced run's own
 * step-to-step spread (a new run varies as much), the model's residual on the traced plan, and the shape error: the
 * probe's disagreement with the run, growing with each move away from the traced plan (layers moved, doublings of the
 * micro-batch size), and the probe's own noise at another size.
 * Without a fit (a hand-made cost model) the interval is empty.
 */
export function predictionOf(costs: CostModel, plan: Plan, batch: number, ms: number): Prediction {
  const fit = costs.fit;
  if (!fit) return { ms, relative: 0, lowMs: ms, highMs: ms };
  const d = planDistance(fit, plan, batch);
  // The probe's noise enters once at another size (its point there against the anchor at the traced size, √2 of one point).
  const shape = Math.hypot(fit.shapeSpread * (d.moved + d.sizes), d.sizes > 0 ? Math.SQRT2 * (fit.probeNoise ?? 0) : 0);
  const relative = 2 * Math.hypot(fit.stepSpread, fit.residual, shape);
  return { ms, relative, lowMs: ms * (1 - relative), highMs: ms * (1 + relative) };
}

/** `1160.0 ms ± 6.1 %`: one way to print a prediction, in text and in the editor. */
export function predictionText(p: Pick<Prediction, 'ms' | 'relative'>): string {
  return p.relative > 0 ? `${p.ms.toFixed(1)} ms ± ${(p.relative * 100).toFixed(1)} %` : `${p.ms.toFixed(1)} ms`;
}
