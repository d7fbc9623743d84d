// Loading tfjs Layers model.json files: real tfjs-layers exports, the Keras-converter shape, and every error case.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { parseLayersModel, attachWeights } from '../../core/model/tfjs-json';
import { loadModelJson } from '../../core/io/load-model-json';
import type { ModelSpec } from '../../core/model/types';
import { save, writeModelFiles } from './layers-model-fixture';
import type { Json, Saved } from './layers-model-fixture';

before(async () => {
  await tf.setBackend('cpu');
});

const root = mkdtempSync(join(tmpdir(), 'pipeprof-tfjs-json-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const writeModel = (saved: Saved, o: { shards?: number; json?: (j: Json) => void } = {}) => writeModelFiles(join(root, `m${dirs++}`), saved, o);

/** Per-sample shape of a tfjs layer's output. */
const outShape = (l: tfl.layers.Layer) => (l.outputShape as number[]).slice(1);

/** The spec's layers have the tfjs model's names, output shapes and parameter counts, and its exact initial weights. */
function assertMatches(spec: ModelSpec, model: tfl.LayersModel) {
  const kept = model.layers.filter((l) => l.getClassName() !== 'Dropout');
  assert.deepEqual(spec.layers.map((l) => l.name), kept.map((l) => l.name));
  for (const [i, l] of kept.entries()) {
    const s = spec.layers[i];
    assert.deepEqual(s.outputShape, outShape(l), `${l.name} output shape`);
    assert.equal(s.params, l.countParams(), `${l.name} params`);
    const values = l.getWeights().map((w) => w.dataSync() as Float32Array);
    assert.equal(s.weights.length, values.length, `${l.name} weight count`);
    for (const [j, w] of s.weights.entries()) {
      assert.deepEqual(spec.initialWeights?.[s.name]?.[w.name], values[j], `${l.name}/${w.name}`);
    }
  }
}

function mlpModel(): tfl.Sequential {
  return tfl.sequential({ layers: [
    tfl.layers.dense({ inputShape: [5], units: 8, activation: 'relu', name: 'hidden' }),
    tfl.layers.dropout({ rate: 0.5, name: 'drop' }),
    tfl.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
  ] });
}

test('dense → dropout → dense(softmax) from tfjs-layers: names, shapes, params, softmax-ce, exact weights (two shards)', async () => {
  const model = mlpModel();
  const file = writeModel(await save(model), { shards: 2 });
  const spec = await loadModelJson(file);
  assertMatches(spec, model);
  assert.equal(spec.name, file);
  assert.deepEqual(spec.inputShape, [5]);
  assert.equal(spec.inputDtype, 'float32');
  assert.equal(spec.loss, 'softmax-ce');
  assert.deepEqual(spec.targetShape, []);
  assert.equal(spec.targetDtype, 'int32');
  assert.deepEqual(spec.layers.map((l) => l.config), [
    { kind: 'dense', units: 8, activation: 'relu', useBias: true },
    { kind: 'dense', units: 3, activation: 'linear', useBias: true },
  ]);
});

test('conv net from tfjs-layers: conv2d, maxPooling2d, flatten, layerNormalization, dense; mse loss', async () => {
  const model = tfl.sequential({ layers: [
    tfl.layers.conv2d({ inputShape: [9, 9, 2], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv_a' }),
    tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool_a' }),
    tfl.layers.conv2d({ filters: 3, kernelSize: [2, 3], strides: 2, padding: 'valid', activation: 'tanh', useBias: false, name: 'conv_b' }),
    tfl.layers.maxPooling2d({ poolSize: [1, 2], strides: 1, padding: 'same', name: 'pool_b' }),
    tfl.layers.flatten({ name: 'flat' }),
    tfl.layers.layerNormalization({ epsilon: 1e-5, name: 'norm' }),
    tfl.layers.dense({ units: 6, activation: 'sigmoid', name: 'fc' }),
    tfl.layers.activation({ activation: 'gelu', name: 'act' }),
    tfl.layers.activation({ activation: 'gelu_new', name: 'act_tanh' }),
    tfl.layers.dense({ units: 2, name: 'head' }),
  ] });
  const spec = await loadModelJson(writeModel(await save(model)));
  assertMatches(spec, model);
  assert.deepEqual(spec.layers.map((l) => l.config.kind), ['conv2d', 'maxpool2d', 'conv2d', 'maxpool2d', 'flatten', 'layernorm', 'dense', 'activation', 'activation', 'dense']);
  assert.deepEqual(spec.layers[8].config, { kind: 'activation', activation: 'gelu' });
  assert.deepEqual(spec.layers[0].config, { kind: 'conv2d', filters: 4, kernelSize: [3, 3], strides: [1, 1], padding: 'same', activation: 'relu', useBias: true });
  assert.deepEqual(spec.layers[2].config, { kind: 'conv2d', filters: 3, kernelSize: [2, 3], strides: [2, 2], padding: 'valid', activation: 'tanh', useBias: false });
  assert.deepEqual(spec.layers[3].config, { kind: 'maxpool2d', poolSize: [1, 2], strides: [1, 1], padding: 'same' });
  assert.deepEqual(spec.layers[5].config, { kind: 'layernorm', epsilon: 1e-5 });
  assert.equal(spec.loss, 'mse');
  assert.deepEqual(spec.targetShape, [2]);
  assert.equal(spec.targetDtype, 'float32');
});

test('a softmax Activation as the last layer becomes a linear activation with softmax-ce', async () => {
  const model = tfl.sequential({ layers: [
    tfl.layers.dense({ inputShape: [4], units: 3, name: 'logits' }),
    tfl.layers.activation({ activation: 'softmax', name: 'probs' }),
  ] });
  const { spec } = parseLayersModel({ modelTopology: (await save(model)).modelTopology }, 'model.json');
  assert.deepEqual(spec.layers[1].config, { kind: 'activation', activation: 'linear' });
  assert.equal(spec.loss, 'softmax-ce');
});

test('a model.json without weightsManifest has no initialWeights (weights come from the seed)', async () => {
  const file = writeModel(await save(mlpModel()), { json: (j) => delete j.weightsManifest });
  const spec = await loadModelJson(file);
  assert.equal(spec.initialWeights, undefined);
  assert.deepEqual(spec.layers.map((l) => l.params), [48, 27]);
});

/** A model.json as tensorflowjs_converter writes it from a Keras .h5 (topology under model_config). */
function kerasJson(layers: unknown, weights: tf.io.WeightsManifestEntry[]): Json {
  return {
    format: 'layers-model',
    generatedBy: 'keras v2.15.0',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: {
      keras_version: '2.15.0',
      backend: 'tensorflow',
      model_config: { class_name: 'Sequential', config: layers },
      training_config: { loss: 'mse' },
    },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights }],
  };
}

test('Keras-converter shape: model_config, InputLayer with batch_shape, sequential/…/kernel:0 names', () => {
  const layers = {
    name: 'sequential',
    layers: [
      { class_name: 'InputLayer', config: { batch_shape: [null, 3], dtype: 'float32', sparse: false, name: 'input_layer' } },
      { module: 'keras.layers', class_name: 'Dense', config: { name: 'dense', trainable: true, dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' } }, units: 2, activation: 'tanh', use_bias: true }, build_config: { input_shape: [null, 3] } },
      { class_name: 'Dropout', config: { name: 'dropout', rate: 0.1 } },
      { class_name: 'Dense', config: { name: 'dense_1', units: 1, activation: 'linear', use_bias: false } },
    ],
  };
  const weights = [
    { name: 'sequential/dense/kernel:0', shape: [3, 2], dtype: 'float32' as const },
    { name: 'sequential/dense/bias:0', shape: [2], dtype: 'float32' as const },
    { name: 'sequential/dense_1/kernel:0', shape: [2, 1], dtype: 'float32' as const },
  ];
  const { spec, weightGroups } = parseLayersModel(kerasJson(layers, weights), 'keras/model.json');
  assert.deepEqual(spec.layers.map((l) => [l.name, l.outputShape, l.params]), [['dense', [2], 8], ['dense_1', [1], 2]]);
  assert.equal(spec.loss, 'mse');
  assert.deepEqual(spec.targetShape, [1]);
  assert.equal(spec.options.source, '2.15.0');
  assert.deepEqual(weightGroups[0].weights.map((w) => `${w.layer}.${w.weight}`), ['dense.kernel', 'dense.bias', 'dense_1.kernel']);
  const values = Float32Array.from({ length: 10 }, (_, i) => i + 0.5);
  const loaded = attachWeights(spec, weightGroups, [values.buffer]);
  assert.deepEqual(loaded.initialWeights, {
    dense: { kernel: values.slice(0, 6), bias: values.slice(6, 8) },
    dense_1: { kernel: values.slice(8, 10) },
  });
});

test('old Keras: Sequential config as a bare array of layers with batch_input_shape, dense_1/kernel names', () => {
  const layers = [
    { class_name: 'Conv2D', config: { name: 'conv2d_1', batch_input_shape: [null, 6, 6, 1], filters: 2, kernel_size: [3, 3], strides: [1, 1], padding: 'valid', data_format: 'channels_last', dilation_rate: [1, 1], activation: 'relu', use_bias: true } },
    { class_name: 'MaxPooling2D', config: { name: 'max_pooling2d_1', pool_size: [2, 2], strides: null, padding: 'valid' } },
    { class_name: 'Flatten', config: { name: 'flatten_1' } },
    { class_name: 'Dense', config: { name: 'dense_1', units: 3, activation: 'softmax' } },
  ];
  const weights = [
    { name: 'conv2d_1/kernel', shape: [3, 3, 1, 2], dtype: 'float32' as const },
    { name: 'conv2d_1/bias', shape: [2], dtype: 'float32' as const },
    { name: 'dense_1/kernel', shape: [8, 3], dtype: 'float32' as const },
    { name: 'dense_1/bias', shape: [3], dtype: 'float32' as const },
  ];
  const { spec } = parseLayersModel(kerasJson(layers, weights), 'model.json');
  assert.deepEqual(spec.layers.map((l) => l.outputShape), [[4, 4, 2], [2, 2, 2], [8], [3]]);
  assert.deepEqual(spec.layers[1].config, { kind: 'maxpool2d', poolSize: [2, 2], strides: [2, 2], padding: 'valid' });
  assert.equal(spec.loss, 'softmax-ce');
});

test('quantized weights (uint8, float16) dequantize like tf.io.decodeWeights; optimizer entries are skipped', () => {
  const layers = [{ class_name: 'Dense', config: { name: 'd', batch_input_shape: [null, 2], units: 2, use_bias: true } }];
  const weights: tf.io.WeightsManifestEntry[] = [
    { name: 'd/kernel', shape: [2, 2], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
    { name: 'Adam/iter', shape: [], dtype: 'int32', group: 'optimizer' },
    { name: 'd/bias', shape: [2], dtype: 'float32', quantization: { dtype: 'float16' } },
  ];
  const bytes = new Uint8Array(4 + 4 + 4);
  bytes.set([0, 3, 7, 255], 0);
  new DataView(bytes.buffer).setInt32(4, 12345, true);
  new DataView(bytes.buffer).setUint16(8, 0x3c00, true); // 1.0
  new DataView(bytes.buffer).setUint16(10, 0xc500, true); // -5.0
  const json = kerasJson(layers, weights);
  const { spec, weightGroups } = parseLayersModel(json, 'q/model.json');
  const loaded = attachWeights(spec, weightGroups, [bytes.buffer]);
  const ref = tf.io.decodeWeights(bytes.buffer, weights);
  assert.deepEqual(loaded.initialWeights!.d.kernel, ref['d/kernel'].dataSync());
  assert.deepEqual(loaded.initialWeights!.d.bias, ref['d/bias'].dataSync());
  assert.deepEqual(Array.from(loaded.initialWeights!.d.bias), [1, -5]);
});

// ---- errors: one message naming the file and the layer or field, with the rule and the fix ----

test('not a JSON object, no modelTopology, invalid JSON file, graph model', async () => {
  assert.throws(() => parseLayersModel(42, 'model.json'), /^Error: model\.json: is not a JSON object \(found number\)/);
  assert.throws(() => parseLayersModel([], 'model.json'), /model\.json: is not a JSON object \(found an array\)/);
  assert.throws(() => parseLayersModel({ weightsManifest: [] }, 'a/model.json'), /^Error: a\/model\.json: has no modelTopology object/);
  assert.throws(() => parseLayersModel({ format: 'graph-model', modelTopology: { node: [] } }, 'model.json'), /model\.json: is a tfjs graph model.*--output_format tfjs_layers_model/);
  const dir = join(root, 'badjson');
  mkdirSync(dir);
  writeFileSync(join(dir, 'model.json'), '{ "modelTopology": ');
  await assert.rejects(loadModelJson(join(dir, 'model.json')), (e: Error) => e.message.startsWith(`${join(dir, 'model.json')}: is not valid JSON`));
  await assert.rejects(loadModelJson(join(dir, 'nope.json')), /nope\.json: model file not found/);
});

test('a functional model is refused', async () => {
  const input = tfl.input({ shape: [4] });
  const output = tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor;
  const saved = await save(tfl.model({ inputs: input, outputs: output }));
  assert.throws(() => parseLayersModel({ modelTopology: saved.modelTopology }, 'model.json'),
    /^Error: model\.json: the model is a Model \(functional\) model; pipeprof loads Sequential models only.*tf\.sequential\(\)/);
  assert.throws(() => parseLayersModel({ modelTopology: { model_config: { class_name: 'Functional', config: {} } } }, 'k.json'), /^Error: k\.json: the model is a Functional/);
});

test('an unsupported layer class names the layer, lists the supported classes and the fix', async () => {
  const model = tfl.sequential({ layers: [
    tfl.layers.lstm({ inputShape: [3, 4], units: 2, recurrentInitializer: 'glorotUniform', name: 'lstm_1' }),
    tfl.layers.dense({ units: 1 }),
  ] });
  const file = writeModel(await save(model));
  await assert.rejects(loadModelJson(file), {
    message: `${file}: layer "lstm_1" has class LSTM, which pipeprof cannot split or train; supported: Dense, Conv2D, MaxPooling2D, Flatten, Activation, LayerNormalization, Dropout, InputLayer. Replace it or use a built-in model (--model mlp|cnn|transformer)`,
  });
});

test('unsupported activation; softmax not on the last layer', async () => {
  const elu = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2, activation: 'elu', name: 'dense_elu' })] });
  assert.throws(() => parseLayersModel({ modelTopology: elu.toJSON(null, false) }, 'model.json'),
    /^Error: model\.json: layer "dense_elu" \(Dense\) has activation "elu", which pipeprof's runtime does not implement; supported: linear, relu, tanh, gelu, sigmoid/);
  const early = tfl.sequential({ layers: [
    tfl.layers.dense({ inputShape: [3], units: 2, activation: 'softmax', name: 'early' }),
    tfl.layers.dropout({ rate: 0.2 }),
    tfl.layers.dense({ units: 2, name: 'late' }),
  ] });
  assert.throws(() => parseLayersModel({ modelTopology: early.toJSON(null, false) }, 'model.json'),
    /^Error: model\.json: layer "early" has activation softmax but is not the last layer \(layer "late" follows\).*move it to the output layer/);
});

test('missing or open input shape', async () => {
  const saved = await save(mlpModel());
  delete saved.modelTopology.config.layers[0].config.batch_input_shape;
  assert.throws(() => parseLayersModel({ modelTopology: saved.modelTopology }, 'model.json'),
    /^Error: model\.json: the first layer "hidden" \(Dense\) has no batch_input_shape .* input shape is unknown; give the first layer an input shape/);
  saved.modelTopology.config.layers[0].config.batch_input_shape = [null, null];
  assert.throws(() => parseLayersModel({ modelTopology: saved.modelTopology }, 'model.json'), /model\.json: layer "hidden" has input shape \[null,null\].*fixed per-sample dimensions/);
});

test('unsupported layer fields: channels_first, dilation, layer norm over another axis', () => {
  const conv = (extra: Json) => ({ modelTopology: { class_name: 'Sequential', config: { layers: [
    { class_name: 'Conv2D', config: { name: 'c1', batch_input_shape: [null, 5, 5, 1], filters: 1, kernel_size: 3, ...extra } },
  ] } } });
  assert.throws(() => parseLayersModel(conv({ data_format: 'channels_first' }), 'm.json'), /^Error: m\.json: layer "c1" \(Conv2D\) field data_format is "channels_first"; pipeprof supports channels_last/);
  assert.throws(() => parseLayersModel(conv({ dilation_rate: [2, 2] }), 'm.json'), /m\.json: layer "c1" \(Conv2D\) field dilation_rate is \[2,2\]; pipeprof supports dilation 1 only; use dilation_rate 1/);
  const ln = { modelTopology: { class_name: 'Sequential', config: { layers: [
    { class_name: 'LayerNormalization', config: { name: 'ln', batch_input_shape: [null, 4, 6], axis: [1] } },
  ] } } };
  assert.throws(() => parseLayersModel(ln, 'm.json'), /m\.json: layer "ln" \(LayerNormalization\) field axis is \[1\]; pipeprof's layernorm normalizes only the last axis \(-1, here 2\); set axis=-1/);
});

test('weight manifest errors: unknown layer, wrong shape, missing weight, non-float32 dtype', async () => {
  const saved = await save(mlpModel());
  const json = (edit: (w: Json[]) => void) => {
    const weights = saved.weightSpecs.map((w) => ({ ...w })) as Json[];
    edit(weights);
    return { modelTopology: saved.modelTopology, weightsManifest: [{ paths: ['w.bin'], weights }] };
  };
  assert.throws(() => parseLayersModel(json((w) => { w[0].name = 'other_model/dense_9/kernel'; }), 'model.json'),
    /^Error: model\.json: weightsManifest entry "other_model\/dense_9\/kernel" names no layer of this model \(layers: hidden, out\); .*export model\.json and its \.bin files together/);
  assert.throws(() => parseLayersModel(json((w) => { w[2].shape = [8, 4]; }), 'model.json'),
    /model\.json: weightsManifest entry "out\/kernel" has shape \[8,4\] but layer "out" \(dense, input \[8\]\) needs \[8,3\]/);
  assert.throws(() => parseLayersModel(json((w) => { w.splice(3, 1); }), 'model.json'),
    /^Error: model\.json: layer "out" weight "bias" \(shape \[3\]\) is missing from weightsManifest/);
  assert.throws(() => parseLayersModel(json((w) => { w[1].dtype = 'int32'; }), 'model.json'),
    /^Error: model\.json: weightsManifest entry "hidden\/bias" \(layer "hidden"\) has dtype int32; pipeprof trains float32 weights only/);
  assert.throws(() => parseLayersModel(json((w) => { w[1].quantization = { dtype: 'int4' }; }), 'model.json'),
    /model\.json: weightsManifest entry "hidden\/bias" has quantization .*dequantizes uint8, uint16 and float16 only/);
});

test('shard files: byte length that does not match the manifest, a missing shard file', async () => {
  const saved = await save(mlpModel());
  const file = writeModel(saved, { shards: 2 });
  const shard2 = join(file, '..', 'group1-shard2of2.bin');
  writeFileSync(shard2, readFileSync(shard2).subarray(4));
  await assert.rejects(loadModelJson(file), {
    message: `${file}: weight files group1-shard1of2.bin, group1-shard2of2.bin hold 296 bytes but weightsManifest group 0 lists 300 bytes for its 4 weights; the .bin files do not belong to this model.json (truncated copy or another export); export model.json and its .bin files together from the same model`,
  });
  rmSync(shard2);
  await assert.rejects(loadModelJson(file), (e: Error) => e.message.startsWith(`${file}: weight file "group1-shard2of2.bin" listed in weightsManifest is missing (looked for ${shard2})`));
});
