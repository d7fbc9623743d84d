// The built-in models: the mlp's input width option and the shapes it gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinModel } from '../../core/model/builtin';

test('mlp: a wider input changes only the first layer, and the options record it', () => {
  const plain = builtinModel('mlp', { width: 64, depth: 3 });
  const wide = builtinModel('mlp', { width: 64, depth: 3, input: 96 });
  assert.deepEqual(plain.inputShape, [64]);
  assert.deepEqual(plain.options, { width: 64, depth: 3 }, 'the default input adds no option to traces');
  assert.deepEqual(wide.inputShape, [96]);
  assert.deepEqual(wide.options, { width: 64, depth: 3, input: 96 });
  const kernel = (m: typeof plain, i: number) => m.layers[i].weights.find((w) => w.name === 'kernel')!.shape;
  assert.deepEqual(kernel(wide, 0), [96, 64]);
  assert.deepEqual(kernel(plain, 0), [64, 64]);
  for (const i of [1, 2]) assert.deepEqual(kernel(wide, i), kernel(plain, i));
  assert.ok(wide.layers[0].flops > plain.layers[0].flops, 'the first layer costs more');
});
