// The recommender on hand-built cost models: ranking, memory limits, layouts, a costly head pulled onto its own stage, clear errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CostModel } from '../../core/simulate/cost-model';
import { simulate, predictedPeakMemory } from '../../core/simulate/simulate';
import type { LayerSummary } from '../../core/model/types';
import type { Plan } from '../../core/plan/types';
import { UsageError } from '../../core/config/errors';
import { layoutString, recommend, stageBytesModel, stepTimeMs } from '../../core/recommend/recommend';

/** A transformer-shaped model: embedding, `blocks` blocks, LM head. */
function transformerLayers(blocks: number): LayerSummary[] {
  return [
    { name: 'embedding', kind: 'embedding', params: 1000, flops: 1000, activationBytes: 4096 },
    ...Array.from({ length: blocks }, (_, i) => ({ name: `block_${i}`, kind: 'transformer-block' as const, params: 2000, flops: 1e5, activationBytes: 4096 })),
    { name: 'head', kind: 'lm-head', params: 8000, flops: 5e5, activationBytes: 32768 },
  ];
}

/**
 * Per-layer forward ms per sample (backward twice that), a fixed cost per op, a fast link; weights and
 * saved activations sized so memory matters at the limits the tests set.
 */
function costModel(forwardMsPerSample: number[], extra: Partial<CostModel> = {}): CostModel {
  return {
    layers: forwardMsPerSample.map((f, i) => ({
      name: `layer_${i}`,
      points: [1, 2, 4, 8, 16].map((size) => ({ size, forwardMs: f * size, backwardMs: 2 * f * size })),
      savedBytesPerSample: 1 << 20,
      paramBytes: 4 << 20,
      activationBytesPerSample: 64 << 10,
      flops: 1e6,
    })),
    opOverheadMs: 0.2,
    link: { latencyMs: 0.05, bytesPerMs: 1 << 20 },
    opt: { fixedMs: 0.5, msPerParamByte: 1e-7 },
    computeScale: 1,
    memory: { baseBytes: 16 << 20, stateBytesPerParamByte: 2 },
    ...extra,
  };
}

const plan = (balance: number[], microbatches = 4, schedule: Plan['schedule'] = '1f1b', recompute: Plan['recompute'] = 'never'): Plan => ({ balance, microbatches, schedule, recompute, replicas: 1 });

test('layout strings: E and H for a transformer\'s embedding and head, block counts between; counts otherwise', () => {
  const tf = transformerLayers(6);
  assert.equal(layoutString([4, 4], tf), 'E,3|3,H');
  assert.equal(layoutString([7, 1], tf), 'E,6|H');
  assert.equal(layoutString([1, 7], tf), 'E|6,H');
  assert.equal(layoutString([1, 6, 1], tf), 'E|6|H');
  assert.equal(layoutString([2, 2, 2, 2], tf), 'E,1|2|2|1,H');
  assert.equal(layoutString([8], tf), 'E,6,H');
  const mlp: LayerSummary[] = Array.from({ length: 8 }, (_, i) => ({ name: `dense_${i}`, kind: 'dense', params: 1, flops: 1, activationBytes: 4 }));
  assert.equal(layoutString([3, 3, 2], mlp), '3|3|2');
});

test('plans come ranked by predicted step time, each as the simulator predicts it, with speedups against the traced plan', () => {
  const layers = transformerLayers(6);
  const costs = costModel([0.2, 1, 1, 1, 1, 1, 1, 2]);
  const traced = plan([4, 4], 2);
  const plans = recommend({ costs, layers, batch: 16, traced, top: 10 });
  assert.equal(plans.length, 10);
  const tracedMs = stepTimeMs(simulate({ plan: traced, batch: 16, costs, layers }));
  for (let i = 0; i < plans.length; i++) {
    const p = plans[i];
    if (i > 0) assert.ok(plans[i - 1].predictedStepTimeMs <= p.predictedStepTimeMs * (1 + 1e-9), `plan ${i} is out of order`);
    const asPlan = { ...plan(p.balance, p.microbatches, p.schedule, p.recompute), ...(p.chunks ? { chunks: p.chunks } : {}) };
    const ms = stepTimeMs(simulate({ plan: asPlan, batch: 16, costs, layers }));
    assert.ok(Math.abs(ms - p.predictedStepTimeMs) < 1e-9);
    assert.ok(Math.abs(p.speedup - tracedMs / ms) < 1e-9);
    assert.equal(p.peakMemoryBytes, Math.max(...predictedPeakMemory({ plan: asPlan, batch: 16, costs })));
    assert.ok(p.bubbleFraction >= 0 && p.bubbleFraction < 1);
    assert.equal(p.layout, layoutString(p.balance, layers));
    assert.equal(16 % p.microbatches, 0);
  }
  // The best beats the traced plan; the search finds more micro-batches worth it when the per-op cost is small.
  assert.ok(plans[0].speedup > 1);
  assert.ok(plans[0].microbatches > 2);
  // A hand-made cost model has no fit, so no interval: every gain counts.
  assert.ok(plans.every((p) => p.intervalRelative === 0 && p.faster === p.speedup > 1));
});

test('a very costly last layer: the recommended balance moves layers off the last stage', () => {
  const layers = transformerLayers(6);
  // The head costs as much as five blocks.
  const costs = costModel([0.2, 1, 1, 1, 1, 1, 1, 5]);
  for (const traced of [[4, 4], [2, 2, 2, 2]]) {
    const best = recommend({ costs, layers, batch: 16, traced: plan(traced), top: 1 })[0];
    assert.equal(best.balance.length, traced.length);
    assert.ok(best.balance[traced.length - 1] < traced[traced.length - 1], `best for S=${traced.length}: [${best.balance}] (${best.layout})`);
    assert.ok(best.speedup > 1.2, `speedup ${best.speedup}`);
  }
  // A head as costly as all six blocks: alone on the last stage.
  const heavy = costModel([0.2, 1, 1, 1, 1, 1, 1, 6]);
  assert.equal(recommend({ costs: heavy, layers, batch: 16, traced: plan([4, 4]), top: 1 })[0].layout, 'E,6|H');
  // --stages overrides the traced plan's stage count.
  const three = recommend({ costs, layers, batch: 16, traced: plan([4, 4]), stages: 3, top: 3 });
  assert.ok(three.every((p) => p.balance.length === 3));
});

test('the memory limit: every plan fits it, a tight one forces recompute, and none fitting is one clear error', () => {
  const layers = transformerLayers(6);
  const costs = costModel([0.2, 1, 1, 1, 1, 1, 1, 2]);
  const traced = plan([4, 4], 2);
  const all = recommend({ costs, layers, batch: 16, traced, top: 10_000 });
  // Just below the leanest plan that keeps all activations: only recomputing plans fit.
  const limit = Math.min(...all.filter((p) => p.recompute === 'never').map((p) => p.peakMemoryBytes)) - 1;
  const limited = recommend({ costs, layers, batch: 16, traced, top: 10_000, memoryLimitBytes: limit });
  assert.ok(limited.length > 0);
  assert.ok(limited.every((p) => p.peakMemoryBytes <= limit && p.recompute !== 'never'));
  // Under a limit the search tries at least the plans it tries without one.
  const key = (p: { balance: number[]; microbatches: number; schedule: string; recompute: string }) => `${p.balance}/${p.microbatches}/${p.schedule}/${p.recompute}`;
  const tried = new Set(limited.map(key));
  assert.ok(all.filter((p) => p.peakMemoryBytes <= limit).every((p) => tried.has(key(p))));
  assert.ok(limited[0].predictedStepTimeMs > all[0].predictedStepTimeMs);
  assert.throws(
    () => recommend({ costs, layers, batch: 16, traced, memoryLimitBytes: 1 << 20 }),
    (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.equal(e.problems.length, 1);
      assert.match(e.problems[0], /^memory limit 1\.00 MiB is below the peak memory of every plan tried \(the least is [\d.]+ MiB: balance \[[\d,]+\], \d+ micro-batches, (gpipe|1f1b|zb-h1|interleaved-1f1b), recompute [a-z-]+\); raise --memory-limit to at least [\d.]+ MiB or use more --stages$/);
      return true;
    },
  );
});

test('more stages than layers is a usage error naming the rule, the values and the fix', () => {
  const layers = transformerLayers(1);
  const costs = costModel([1, 1, 1]);
  assert.throws(() => recommend({ costs, layers, batch: 8, traced: plan([2, 1]), stages: 4 }), {
    message: 'stages is 4 but the model has only 3 layers, and a stage needs at least one; use --stages 3 or fewer',
  });
});

test('the DP\'s memory model matches the simulator\'s peak memory stage by stage', () => {
  const costs = costModel([1, 2, 1, 3, 1, 1, 2]);
  costs.layers.forEach((l, i) => {
    l.savedBytesPerSample = (i + 1) * 1000;
    l.activationBytesPerSample = (7 - i) * 300;
    l.paramBytes = (i % 3) * 5000;
    // What zb-h1's B keeps for W: measured on some layers, the default (dL/dy of the output) on the others.
    if (i % 2) l.pendingBytesPerSample = (i + 2) * 700;
  });
  for (const balance of [[3, 4], [1, 2, 4], [2, 2, 2, 1], [7]])
    for (const M of [1, 2, 4, 8])
      // zb-h1 holds each micro-batch's activations until its W, not its B.
      for (const schedule of ['gpipe', '1f1b', 'zb-h1'] as const)
        for (const recompute of ['never', 'except-last', 'always'] as const) {
          const p = plan(balance, M, schedule, recompute);
          const want = predictedPeakMemory({ plan: p, batch: 16, costs });
          const bytes = stageBytesModel(costs, { stages: balance.length, microbatches: M, schedule, recompute }, 16 / M);
          let first = 0;
          const got = balance.map((n, s) => bytes(s, first, (first += n)));
          assert.deepEqual(got.map(Math.round), want.map(Math.round), `[${balance}] M=${M} ${schedule} ${recompute}`);
        }
});
