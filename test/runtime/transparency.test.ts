// Transparency (torchgpipe): pipelined training gives the weights of unsplit training on the whole minibatch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Plan } from '../../core/plan/types';
import { maxDiff, smallRun } from './run';

const cases: { model: 'mlp' | 'cnn' | 'transformer'; plans: (Partial<Plan> & { balance: number[] })[] }[] = [
  { model: 'mlp', plans: [
    { balance: [2, 2], microbatches: 4, schedule: 'gpipe', recompute: 'never' },
    { balance: [1, 1, 1, 1], microbatches: 2, schedule: '1f1b', recompute: 'always' },
    { balance: [1, 3], microbatches: 8, schedule: '1f1b', recompute: 'except-last' },
    // The backward split into B (dx) and W (dW), and model chunks (one stage with two chunks hands tensors to itself).
    { balance: [2, 2], microbatches: 4, schedule: 'zb-h1', recompute: 'never' },
    { balance: [1, 1, 1, 1], chunks: 2, microbatches: 4, schedule: 'interleaved-1f1b', recompute: 'except-last' },
    { balance: [2, 2], chunks: 2, microbatches: 2, schedule: 'interleaved-1f1b', recompute: 'never' },
  ] },
  { model: 'cnn', plans: [
    { balance: [3, 2, 2], microbatches: 2, schedule: 'gpipe', recompute: 'always' },
    { balance: [4, 3], microbatches: 4, schedule: '1f1b', recompute: 'except-last' },
    { balance: [4, 3], microbatches: 2, schedule: 'zb-h1', recompute: 'always' },
    { balance: [2, 2, 1, 2], chunks: 2, microbatches: 2, schedule: 'interleaved-1f1b', recompute: 'never' },
  ] },
  { model: 'transformer', plans: [
    { balance: [2, 2], microbatches: 4, schedule: '1f1b', recompute: 'never' },
    { balance: [1, 2, 1], microbatches: 2, schedule: 'gpipe', recompute: 'always' },
    { balance: [2, 2], microbatches: 4, schedule: 'zb-h1', recompute: 'except-last' },
    { balance: [1, 1, 1, 1], chunks: 2, microbatches: 2, schedule: 'interleaved-1f1b', recompute: 'never' },
  ] },
];

for (const { model, plans } of cases) {
  test(`transparency: ${model} pipelined equals unsplit after 3 steps`, async () => {
    const unsplit = await smallRun(model, { balance: [plans[0].balance.reduce((a, b) => a + b, 0)], microbatches: 1 });
    for (const plan of plans) {
      const piped = await smallRun(model, plan);
      const { diff, where } = maxDiff(piped.weights!, unsplit.weights!);
      assert.ok(diff < 2e-6, `${JSON.stringify(plan)}: weights differ by ${diff} at ${where}`);
      piped.losses.forEach((l, i) => assert.ok(Math.abs(l - unsplit.losses[i]) < 1e-5 * (1 + Math.abs(l)), `loss of step ${i}: ${l} vs ${unsplit.losses[i]}`));
      // The weights moved: the comparison is not between two untouched initialisations.
      const first = Object.keys(unsplit.weights!)[0];
      assert.ok(unsplit.losses[0] !== unsplit.losses[2]);
      assert.ok(piped.weights![first]);
    }
  });
}

test('transparency holds for adam and sgd too', async () => {
  for (const kind of ['adam', 'sgd'] as const) {
    const optimizer = { kind, lr: 0.01, momentum: 0.9, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, smoothing: 0 };
    const a = await smallRun('mlp', { balance: [4], microbatches: 1 }, { optimizer });
    const b = await smallRun('mlp', { balance: [1, 3], microbatches: 4, schedule: 'gpipe', recompute: 'always' }, { optimizer });
    const { diff, where } = maxDiff(b.weights!, a.weights!);
    assert.ok(diff < 2e-5, `${kind}: weights differ by ${diff} at ${where}`);
  }
});

test('the comparison is sensitive: another seed, or one step more, gives clearly different weights', async () => {
  const a = await smallRun('mlp', { balance: [4] });
  const b = await smallRun('mlp', { balance: [4] }, { seed: 8 });
  assert.ok(maxDiff(b.weights!, a.weights!).diff > 1e-2);
  const c = await smallRun('mlp', { balance: [2, 2], microbatches: 2 }, { steps: 4 });
  assert.ok(maxDiff(c.weights!, a.weights!).diff > 1e-4);
});
