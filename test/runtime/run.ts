// Shared set-up for runtime tests: small models and a one-call pipeline run.
import { builtinModel } from '../../core/model/builtin';
import type { BuiltinModel } from '../../core/model/builtin';
import { runPipeline } from '../../core/runtime/executor';
import type { RunOptions, RunResult, Weights } from '../../core/runtime/executor';
import assert from 'node:assert/strict';
import type { Plan } from '../../core/plan/types';
import { DEFAULT_OPTIMIZER } from '../../core/runtime/optimizer';

export const SMALL: Record<BuiltinModel, Record<string, number>> = {
  mlp: { width: 32, depth: 4 },
  cnn: { imageSize: 8, filters: 4, hidden: 16, classes: 4 },
  transformer: { vocab: 96, dModel: 32, heads: 2, seqLen: 8, blocks: 2, ffn: 64 },
};

export function smallRun(model: BuiltinModel, plan: Partial<Plan> & { balance: number[] }, extra: Partial<RunOptions> = {}): Promise<RunResult> {
  return runPipeline({
    model: builtinModel(model, SMALL[model]),
    plan: { microbatches: 1, schedule: '1f1b', recompute: 'never', replicas: 1, ...plan },
    batch: 8, steps: 3, warmup: 0, optimizer: { ...DEFAULT_OPTIMIZER, kind: 'momentum', lr: 0.05 },
    backend: 'wasm', seed: 7, trace: true, saveWeights: true, ...extra,
  });
}

/** Weights as a run returns them, or as plain arrays (from JSON). */
export type WeightsLike = Weights | Record<string, Record<string, { shape: number[]; values: ArrayLike<number> }>>;

/** The largest relative difference between two runs' weights, and where: |a − b| / (1 + |b|). */
export function maxDiff(a: WeightsLike, b: WeightsLike): { diff: number; where: string } {
  let worst = { diff: 0, where: '' };
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), 'same layers');
  for (const layer of Object.keys(a))
    for (const w of Object.keys(a[layer])) {
      assert.deepEqual(a[layer][w].shape, b[layer][w].shape);
      const x = a[layer][w].values, y = b[layer][w].values;
      for (let i = 0; i < x.length; i++) {
        const d = Math.abs(x[i] - y[i]) / (1 + Math.abs(y[i]));
        if (d > worst.diff) worst = { diff: d, where: `${layer}/${w}[${i}]` };
      }
    }
  return worst;
}
