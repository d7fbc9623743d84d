// Per-layer costs (split by FLOPs share, or from the layer cost probe), bytes, achieved FLOP/s; peak memory per stage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { costs, probeAt } from '../../core/analysis/costs';
import { peakMemory } from '../../core/analysis/memory';
import type { LayerSummary } from '../../core/model/types';
import { timeline } from './fixtures';

const LAYERS: LayerSummary[] = [
  { name: 'a', kind: 'dense', params: 10, flops: 1000, activationBytes: 64 },
  { name: 'b', kind: 'dense', params: 20, flops: 2000, activationBytes: 32 },
  { name: 'c', kind: 'dense', params: 5, flops: 500, activationBytes: 16 },
];

// Stage 0 holds layers a, b; stage 1 holds c. Two micro-batches of 2 samples; F 3 ms, B 6 ms on stage 0.
const t = timeline({
  stages: 2,
  plan: { balance: [2, 1], microbatches: 2 },
  batch: 4,
  layers: LAYERS,
  peakFlops: 4e6,
  steps: [{
    start: 0, end: 30,
    ops: [[0, 'F', 0, 0, 3], [0, 'F', 1, 3, 6], [1, 'F', 0, 6, 7], [1, 'B', 0, 7, 9], [1, 'F', 1, 9, 10], [1, 'B', 1, 10, 12], [0, 'B', 0, 12, 18], [0, 'B', 1, 18, 24]],
  }],
  memory: [{ stage: 0, ts: 1000, bytes: 100 }, { stage: 0, ts: 5000, bytes: 300 }, { stage: 0, ts: 20000, bytes: 200 }, { stage: 1, ts: 7000, bytes: 50 }],
});

test('per-layer F/B/R ms: the stage\'s op time split by FLOPs share; params × 4 bytes', () => {
  const c = costs(t);
  assert.equal(c.microbatchSize, 2);
  const row = (n: string) => c.layers.find((l) => l.layer === n)!;
  assert.deepEqual([row('a').fMs, row('b').fMs, row('c').fMs], [1, 2, 1]);
  assert.deepEqual([row('a').bMs, row('b').bMs, row('c').bMs], [2, 4, 2]);
  assert.equal(row('b').rMs, 2); // no recompute measured: a recompute costs a forward
  assert.deepEqual([row('a').paramBytes, row('a').activationBytesPerMicrobatch, row('a').source], [40, 128, 'split']);
});

test('achieved FLOP/s per stage: flops × samples × (1 fwd + 2 bwd) / compute time, and its share of the host peak', () => {
  const c = costs(t);
  // Stage 0: 3000 FLOPs/sample × 4 samples × 3 = 36000 FLOPs in 18 ms → 2e6 FLOP/s, half the 4e6 peak.
  assert.equal(c.stages[0].flopsPerStep, 36000);
  assert.equal(c.stages[0].computeMs, 18);
  assert.ok(Math.abs(c.stages[0].achievedFlops! - 2e6) < 1e-6);
  assert.ok(Math.abs(c.stages[0].peakShare! - 0.5) < 1e-12);
  // Stage 1: 500 × 4 × 3 = 6000 FLOPs in 6 ms → 1e6.
  assert.ok(Math.abs(c.stages[1].achievedFlops! - 1e6) < 1e-6);
});

test('with a cost probe, layer times are interpolated at the micro-batch size', () => {
  assert.equal(probeAt([{ size: 1, forwardMs: 1, backwardMs: 2 }, { size: 4, forwardMs: 4, backwardMs: 8 }], 2, 'forwardMs'), 2);
  assert.equal(probeAt([{ size: 4, forwardMs: 4, backwardMs: 8 }], 2, 'backwardMs'), 4);
  const probed = { ...t, layerCosts: [{ layer: 'a', stage: 0, points: [{ size: 1, forwardMs: 0.5, backwardMs: 1 }, { size: 4, forwardMs: 2, backwardMs: 4 }], savedBytesPerSample: 64, paramBytes: 44 }] };
  const a = costs(probed).layers[0];
  assert.deepEqual([a.fMs, a.bMs, a.rMs, a.paramBytes, a.source], [1, 2, 1, 44, 'probe']);
  assert.equal(costs(probed).layers[1].source, 'split');
});

test('peak memory per stage from the counters, with the step it fell in', () => {
  const m = peakMemory(t);
  assert.deepEqual(m.map((s) => [s.peakBytes, s.peakAtUs, s.peakStep, s.firstBytes, s.samples]), [[300, 5000, 0, 100, 3], [50, 7000, 0, 50, 1]]);
  const none = peakMemory({ ...t, memory: [] });
  assert.equal(none[0].peakBytes, null);
});
