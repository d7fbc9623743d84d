// The probe's plan: each shape timed by one worker, balanced by FLOPs, the last layer's shape on its own worker; twins filled in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinModel } from '../../core/model/builtin';
import { fillTwins, probeShapeKey, probeSkips } from '../../core/runtime/probe-plan';
import type { LayerCost } from '../../core/trace/timeline';

test('a shape on several workers is timed by one; the heaviest shapes go first to the least-loaded worker', () => {
  // embedding, 4 blocks, head: [3 | 3] puts blocks on both workers; the head (last) stays with worker 1.
  const m = builtinModel('transformer', { vocab: 96, dModel: 32, heads: 2, seqLen: 8, blocks: 4, ffn: 64 });
  const workerOf = [0, 0, 0, 1, 1, 1];
  const skips = probeSkips(m.layers, workerOf, 2);
  const timedBy = (name: string) => [0, 1].filter((w) => workerOf[m.layers.findIndex((l) => l.name === name)] === w && !skips[w].includes(name));
  // Every block shares one key; exactly one worker times blocks, the other skips all of its own.
  const blocks = m.layers.filter((l) => l.name.startsWith('block_')).map((l) => l.name);
  assert.equal(new Set(m.layers.slice(1, 5).map((l) => probeShapeKey(l, false))).size, 1);
  const timers = new Set(blocks.flatMap(timedBy));
  assert.equal(timers.size, 1, JSON.stringify(skips));
  assert.deepEqual(timedBy('head'), [1]);
  assert.deepEqual(timedBy('embedding'), [0]);
  // The head outweighs a block: the blocks go to worker 0, which holds only the light embedding.
  assert.deepEqual([...timers], [0]);
  assert.deepEqual(skips[1], ['block_2', 'block_3']);
});

test('twins timed elsewhere copy the points, keep their own stage, and never carry the loss', () => {
  const m = builtinModel('mlp', { width: 16, depth: 4 });
  const workerOf = [0, 0, 1, 1];
  const pt = (v: number, loss?: number) => [{ size: 1, forwardMs: v, backwardMs: 2 * v, ...(loss !== undefined ? { lossMs: loss } : {}) }];
  const timed: LayerCost[] = [
    { layer: 'dense_0', stage: 0, points: pt(1), savedBytesPerSample: 4, paramBytes: 8 },
    { layer: 'dense_1', stage: 0, points: pt(2), savedBytesPerSample: 4, paramBytes: 8 },
    { layer: 'dense_3', stage: 1, points: pt(3, 0.5), savedBytesPerSample: 4, paramBytes: 8 },
  ];
  const all = fillTwins(m.layers, workerOf, timed);
  assert.deepEqual(all.map((c) => c.layer), ['dense_0', 'dense_1', 'dense_2', 'dense_3']);
  assert.equal(probeShapeKey(m.layers[2], false), probeShapeKey(m.layers[1], false));
  assert.deepEqual(all[2], { ...timed[1], layer: 'dense_2', stage: 1 });
  assert.equal(all[3].points[0].lossMs, 0.5);
  // A layer with no twin timed anywhere is left out (calibration then says the probe is incomplete).
  assert.deepEqual(fillTwins(m.layers, workerOf, timed.slice(0, 1)).map((c) => c.layer), ['dense_0']);
});
