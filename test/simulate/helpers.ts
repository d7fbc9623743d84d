// Shared set-up for simulator tests: hand-made cost models and a look at a predicted timeline's ops.
import type { CostModel } from '../../core/simulate/cost-model';
import type { LayerSummary } from '../../core/model/types';
import type { OpRow, Timeline } from '../../core/trace/timeline';
import { opAt } from '../../core/trace/timeline';
import type { Plan } from '../../core/plan/types';

/** L equal layers: forward f ms and backward b ms per micro-batch of `mb` samples (proportional to samples), free links, free OPT. */
export function unitCosts(L: number, opts: { f?: number; b?: number; mb?: number; saved?: number; act?: number; params?: number } = {}): CostModel {
  const { f = 1, b = 2, mb = 1, saved = 1000, act = 100, params = 4000 } = opts;
  return {
    layers: Array.from({ length: L }, (_, i) => ({
      name: `layer_${i}`, points: [{ size: mb, forwardMs: f, backwardMs: b }], savedBytesPerSample: saved, paramBytes: params,
      activationBytesPerSample: act, flops: 1000,
    })),
    opOverheadMs: 0,
    link: { latencyMs: 0, bytesPerMs: Infinity },
    opt: { fixedMs: 0, msPerParamByte: 0 },
    computeScale: 1,
    memory: { baseBytes: 0, stateBytesPerParamByte: 0 },
  };
}

export function summaries(c: CostModel): LayerSummary[] {
  return c.layers.map((l) => ({ name: l.name, kind: 'dense', params: l.paramBytes / 4, flops: l.flops, activationBytes: l.activationBytesPerSample }));
}

export const plan = (balance: number[], microbatches: number, schedule: Plan['schedule'] = '1f1b', recompute: Plan['recompute'] = 'never'): Plan =>
  ({ balance, microbatches, schedule, recompute, replicas: 1 });

export function rows(t: Timeline): OpRow[] {
  return Array.from({ length: t.ops.length }, (_, i) => opAt(t.ops, i));
}

export const stepMs = (t: Timeline, i = 0): number => (t.steps[i].endUs - t.steps[i].startUs) / 1000;

/** A cost model with curved per-layer costs, uneven weights, and every fitted term non-zero. */
export function richCosts(): CostModel {
  const c = unitCosts(6, { mb: 2 });
  c.layers.forEach((l, i) => {
    l.points = [1, 2, 4, 8].map((size) => ({ size, forwardMs: 0.2 + 0.3 * size * (1 + i / 4), backwardMs: 0.3 + 0.7 * size * (1 + i / 5) + 0.01 * size * size }));
    l.paramBytes = 4000 * (i + 1);
    l.savedBytesPerSample = 2000 + 100 * i;
  });
  c.opOverheadMs = 0.15;
  c.computeScale = 1.3;
  c.link = { latencyMs: 0.05, bytesPerMs: 5000, wakeMs: 0.2 };
  c.opt = { fixedMs: 0.8, msPerParamByte: 2e-5 };
  c.memory = { baseBytes: 1e6, stateBytesPerParamByte: 2 };
  c.lossMsPerSample = 0.1;
  c.stepOverhead = { startMs: 0.3, endMs: 0.2 };
  c.gradAccumMsPerParamByte = 1e-5;
  c.inputMsPerSample = 0.02;
  return c;
}

/** A simulated run passed off as a measured one (what calibration and the CLI read). */
export const asMeasured = (t: Timeline): Timeline => ({ ...t, source: 'measured' });
