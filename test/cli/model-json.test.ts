// A user's tfjs Layers model through `capture`: trained from the file's weights, the same whatever the plan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { cli, tmpdir } from '../helpers';
import { save, writeModelFiles } from '../model/layers-model-fixture';
import { loadModelJson } from '../../core/io/load-model-json';
import { makeSamples } from '../../core/model/data';

test('capture trains a tfjs-layers model.json: step 0 loss equals tfjs-layers\' own loss; plans agree', async () => {
  await tf.setBackend('cpu');
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [12], units: 16, activation: 'relu', name: 'hidden_a' }),
      tfl.layers.dense({ units: 16, activation: 'tanh', name: 'hidden_b' }),
      tfl.layers.dense({ units: 5, activation: 'softmax', name: 'probs' }),
    ],
  });
  const dir = tmpdir();
  const file = writeModelFiles(path.join(dir, 'model'), await save(model));

  // The loss tfjs-layers itself gives on step 0's minibatch (categorical cross-entropy of its softmax output).
  const spec = await loadModelJson(file);
  const batch = 8;
  const s = makeSamples(spec, 0, 0, 0, batch);
  const expected = tf.tidy(() => {
    const probs = model.predict(tf.tensor(s.x!, [batch, 12])) as tf.Tensor;
    const picked = tf.sum(tf.mul(tf.oneHot(tf.tensor1d(s.y! as Int32Array, 'int32'), 5), tf.log(probs)), 1);
    return -tf.mean(picked).dataSync()[0];
  });

  const run = async (name: string, plan: string[]) => {
    const r = await cli(['capture', '--model', file, ...plan, '--batch', String(batch), '--steps', '2', '--warmup', '0', '--optimizer', 'sgd', '--lr', '0.1', '--quiet',
      '--out', path.join(dir, `${name}.pptrace.json`), '--save-weights', path.join(dir, `${name}.json`)]);
    assert.equal(r.code, 0, r.err);
    return { trace: JSON.parse(fs.readFileSync(path.join(dir, `${name}.pptrace.json`), 'utf8')), weights: JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8')) };
  };
  const one = await run('one', ['--stages', '1', '--microbatches', '1']);
  const three = await run('three', ['--stages', '3', '--microbatches', '4', '--schedule', 'gpipe']);
  assert.deepEqual(one.trace.pipeprof.layers.map((l: { name: string }) => l.name), ['hidden_a', 'hidden_b', 'probs']);
  assert.ok(Math.abs(one.trace.pipeprof.steps[0].loss - expected) < 1e-5, `step 0 loss ${one.trace.pipeprof.steps[0].loss} vs tfjs-layers ${expected}`);
  assert.ok(Math.abs(three.trace.pipeprof.steps[0].loss - expected) < 1e-5);
  for (const layer of ['hidden_a', 'hidden_b', 'probs'])
    for (const w of ['kernel', 'bias'])
      one.weights[layer][w].values.forEach((v: number, i: number) => assert.ok(Math.abs(v - three.weights[layer][w].values[i]) < 1e-5, `${layer}/${w}[${i}]`));
});
