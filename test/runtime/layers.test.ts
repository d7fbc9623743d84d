// Every layer kind's hand-written backward against tfjs autodiff of a plainly written forward, on cpu and wasm.
//
// The reference (forward values and tf.grads) always runs on cpu: on wasm, autodiff itself fails for conv2d
// (no 'Conv2DBackpropFilter' kernel) and embedding (no 'UnsortedSegmentSum'). The layer under test runs on the
// backend named in the test, from the same inputs, weights and upstream gradient.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// The Node build of tfjs-core registers no gradients; tfjs-layers registers them all (the reference needs them).
import '@tensorflow/tfjs-layers';
import type { Activation, LayerConfig, LayerSpec } from '../../core/model/types';
import { buildLayer, buildSequential } from '../../core/model/layers';
import { mlp, cnn, transformer } from '../../core/model/builtin';
import { makeLayer, splitBackward } from '../../core/runtime/layers/index';
import { lossAndGrad } from '../../core/runtime/layers/loss';
import type { Tensor } from '../../core/runtime/layers/types';

// eslint-disable-next-line @typescript-eslint/no-require-imports
require('@tensorflow/tfjs-backend-wasm');
tf.env().set('IS_TEST', true); // quiets the cpu backend's "install tfjs-node" banner

const BACKENDS = ['cpu', 'wasm'] as const;
/** Largest |a − r| over largest |r|. */
const TOL = 1e-4;

async function use(backend: string): Promise<void> {
  assert.equal(await tf.setBackend(backend), true, `backend ${backend} failed to start`);
}

// ---- deterministic data ------------------------------------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
}

function normals(seed: number, n: number, std = 1, mean = 0): Float32Array {
  const u = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = mean + std * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

function ints(seed: number, n: number, max: number): Int32Array {
  const u = rng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(u() * max));
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Weights for a spec: gains near 1, everything else small and random (zeros would hide errors). */
function weightsFor(spec: LayerSpec, seed: number): Float32Array[] {
  return spec.weights.map((w, i) =>
    w.init.kind === 'ones' ? normals(seed + i, size(w.shape), 0.1, 1) : normals(seed + i, size(w.shape), w.init.kind === 'zeros' ? 0.1 : 0.5));
}

// ---- comparison --------------------------------------------------------------------------------

function relErr(a: ArrayLike<number>, r: ArrayLike<number>): number {
  assert.equal(a.length, r.length, 'length');
  let e = 0;
  let m = 0;
  for (let i = 0; i < r.length; i++) {
    e = Math.max(e, Math.abs(a[i] - r[i]));
    m = Math.max(m, Math.abs(r[i]));
  }
  return m === 0 ? e : e / m;
}

function close(actual: Tensor, expected: { shape: number[]; values: Float32Array }, what: string): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  const values = actual.dataSync();
  for (const v of values) assert.ok(Number.isFinite(v), `${what}: non-finite value ${v}`);
  const err = relErr(values, expected.values);
  assert.ok(err <= TOL, `${what}: relative error ${err.toExponential(2)} > ${TOL}`);
}

// ---- plain forwards for the reference (autodiff) -----------------------------------------------

const GELU_C = Math.sqrt(2 / Math.PI);

function act(a: Activation, z: Tensor): Tensor {
  switch (a) {
    case 'linear': return tf.mul(z, 1);
    case 'relu': return tf.relu(z);
    case 'tanh': return tf.tanh(z);
    case 'sigmoid': return tf.div(1, tf.add(1, tf.exp(tf.neg(z))));
    case 'gelu': return tf.mul(tf.mul(0.5, z), tf.add(1, tf.tanh(tf.mul(GELU_C, tf.add(z, tf.mul(0.044715, tf.pow(z, 3)))))));
  }
}

function layerNorm(x: Tensor, g: Tensor, b: Tensor, eps: number): Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), g), b);
}

function dense(x: Tensor, w: Tensor, b?: Tensor): Tensor {
  const k = x.shape[x.rank - 1] as number;
  const y = tf.matMul(tf.reshape(x, [-1, k]), w);
  return tf.reshape(b ? tf.add(y, b) : y, [...x.shape.slice(0, -1), w.shape[1] as number]);
}

/** The layer's forward written plainly: y = f(x, w). */
function plainForward(cfg: LayerConfig, x: Tensor, w: Tensor[]): Tensor {
  switch (cfg.kind) {
    case 'dense': return act(cfg.activation, dense(x, w[0], cfg.useBias ? w[1] : undefined));
    case 'conv2d': {
      const z = tf.conv2d(x as tf.Tensor4D, w[0] as tf.Tensor4D, cfg.strides, cfg.padding);
      return act(cfg.activation, cfg.useBias ? tf.add(z, w[1]) : z);
    }
    case 'maxpool2d': return tf.maxPool(x as tf.Tensor4D, cfg.poolSize, cfg.strides, cfg.padding);
    case 'flatten': return tf.reshape(x, [x.shape[0] as number, -1]);
    case 'activation': return act(cfg.activation, x);
    case 'layernorm': return layerNorm(x, w[0], w[1], cfg.epsilon);
    case 'embedding': {
      const y = tf.gather(w[0], x);
      return cfg.positional ? tf.add(y, w[1]) : y;
    }
    case 'lm-head': return dense(layerNorm(x, w[0], w[1], cfg.epsilon), w[2], w[3]);
    case 'transformer-block': {
      const [g1, b1, wqkv, bqkv, wp, bp, g2, b2, w1, c1, w2, c2] = w;
      const { dModel: d, heads, epsilon } = cfg;
      const t = x.shape[1] as number;
      const hd = d / heads;
      const [q, k, v] = tf.split(dense(layerNorm(x, g1, b1, epsilon), wqkv, bqkv), 3, 2);
      const causal = tf.cast(tf.linalg.bandPart(tf.ones([t, t]), -1, 0), 'bool');
      const outs: Tensor[] = [];
      for (let h = 0; h < heads; h++) {
        const part = (m: Tensor) => tf.slice(m, [0, 0, h * hd], [-1, -1, hd]);
        const s = tf.div(tf.matMul(part(q), part(k), false, true), Math.sqrt(hd));
        const p = tf.softmax(tf.where(tf.broadcastTo(causal, s.shape), s, tf.fill(s.shape, -1e9)));
        outs.push(tf.matMul(p, part(v)));
      }
      const x1 = tf.add(x, dense(tf.concat(outs, 2), wp, bp));
      return tf.add(x1, dense(act('gelu', dense(layerNorm(x1, g2, b2, epsilon), w1, c1)), w2, c2));
    }
  }
}

// ---- the check -----------------------------------------------------------------------------------

interface Case {
  name: string;
  spec: LayerSpec;
  batch: number;
  /** Mean of the random input (default 0). */
  xMean?: number;
}

interface Data {
  x: Float32Array | Int32Array;
  xShape: number[];
  w: Float32Array[];
  dy: Float32Array;
}

interface Reference {
  y: { shape: number[]; values: Float32Array };
  dx: { shape: number[]; values: Float32Array } | null;
  dw: { shape: number[]; values: Float32Array }[];
}

function dataFor(c: Case, seed: number): Data {
  const xShape = [c.batch, ...c.spec.inputShape];
  const x = c.spec.inputDtype === 'int32'
    ? ints(seed, size(xShape), c.spec.config.kind === 'embedding' ? c.spec.config.vocab : 10)
    : normals(seed, size(xShape), 1, c.xMean ?? 0);
  return { x, xShape, w: weightsFor(c.spec, seed + 100), dy: normals(seed + 200, c.batch * size(c.spec.outputShape)) };
}

async function reference(c: Case, d: Data): Promise<Reference> {
  await use('cpu');
  let ref: Reference | undefined;
  tf.tidy(() => {
    const x = tf.tensor(d.x, d.xShape, c.spec.inputDtype);
    const w = d.w.map((v, i) => tf.tensor(v, c.spec.weights[i].shape));
    const y = plainForward(c.spec.config, x, w);
    const dy = tf.tensor(d.dy, y.shape);
    const floatInput = c.spec.inputDtype === 'float32';
    const args = floatInput ? [x, ...w] : w;
    const grads = tf.grads((...a: Tensor[]) => plainForward(c.spec.config, floatInput ? a[0] : x, floatInput ? a.slice(1) : a))(args, dy);
    const out = (t: Tensor) => ({ shape: t.shape as number[], values: t.dataSync() as Float32Array });
    ref = { y: out(y), dx: floatInput ? out(grads[0]) : null, dw: (floatInput ? grads.slice(1) : grads).map(out) };
  });
  return ref!;
}

async function checkLayer(backend: string, c: Case, seed = 1): Promise<void> {
  const d = dataFor(c, seed);
  const ref = await reference(c, d);
  await use(backend);
  const layer = makeLayer(tf, c.spec);
  const x = tf.tensor(d.x, d.xShape, c.spec.inputDtype);
  const w = d.w.map((v, i) => tf.tensor(v, c.spec.weights[i].shape));
  const dy = tf.tensor(d.dy, [c.batch, ...c.spec.outputShape]);
  const all = { dx: true, dw: true };
  const floatInput = c.spec.inputDtype === 'float32';

  // Warm-up: backends may allocate something once.
  const warm = layer.forward(w, x);
  const wb = layer.backward(w, warm.saved, dy, all);
  tf.dispose([warm.y, ...warm.saved, ...wb.dw]);
  wb.dx?.dispose();

  const before = tf.memory().numTensors;
  const { y, saved } = layer.forward(w, x);
  close(y, ref.y, `${c.name} y`);
  const r = layer.backward(w, saved, dy, all);
  if (floatInput) close(r.dx!, ref.dx!, `${c.name} dx`);
  else assert.equal(r.dx, null, `${c.name}: dx of an int32 input must be null`);
  assert.equal(r.dw.length, c.spec.weights.length, `${c.name}: one dw per weight`);
  r.dw.forEach((g, i) => {
    assert.deepEqual(g.shape, c.spec.weights[i].shape, `${c.name} d${c.spec.weights[i].name} shape`);
    close(g, ref.dw[i], `${c.name} d${c.spec.weights[i].name}`);
  });

  // Only what is asked for, with the same values.
  const onlyDw = layer.backward(w, saved, dy, { dx: false, dw: true });
  assert.equal(onlyDw.dx, null, `${c.name}: dx must be null when not wanted`);
  onlyDw.dw.forEach((g, i) => close(g, ref.dw[i], `${c.name} d${c.spec.weights[i].name} (dw only)`));
  const onlyDx = layer.backward(w, saved, dy, { dx: true, dw: false });
  assert.deepEqual(onlyDx.dw, [], `${c.name}: dw must be [] when not wanted`);
  if (floatInput) close(onlyDx.dx!, ref.dx!, `${c.name} dx (dx only)`);
  const none = layer.backward(w, saved, dy, { dx: false, dw: false });
  assert.equal(none.dx, null);
  assert.deepEqual(none.dw, []);

  // The split backward (zb-h1's B then W) gives the same gradients; what B keeps is the caller's to dispose.
  const split = splitBackward(layer);
  const b = split.input(w, saved, dy, floatInput);
  if (floatInput) close(b.dx!, ref.dx!, `${c.name} dx (split B)`);
  else assert.equal(b.dx, null, `${c.name}: split B's dx of an int32 input must be null`);
  const sw = split.weight(w, saved, b.pending);
  assert.equal(sw.length, c.spec.weights.length, `${c.name}: split W gives one dw per weight`);
  sw.forEach((g, i) => close(g, ref.dw[i], `${c.name} d${c.spec.weights[i].name} (split W)`));
  tf.dispose([...sw, ...b.pending.filter((t) => t !== dy)]);
  b.dx?.dispose();

  // The backward must leave its arguments alive, and nothing must leak.
  assert.ok(!x.isDisposed && !dy.isDisposed && w.every((t) => !t.isDisposed) && saved.every((t) => !t.isDisposed), `${c.name}: backward disposed an argument`);
  tf.dispose([y, ...saved, ...r.dw, ...onlyDw.dw]);
  r.dx?.dispose();
  onlyDx.dx?.dispose();
  assert.equal(tf.memory().numTensors, before, `${c.name}: forward + backward leaked ${tf.memory().numTensors - before} tensors`);
  tf.dispose([x, dy, ...w]);
}

// ---- the cases ---------------------------------------------------------------------------------

const ACTIVATIONS: Activation[] = ['linear', 'relu', 'tanh', 'gelu', 'sigmoid'];

const layer = (name: string, config: LayerConfig, inputShape: number[], batch: number, dtype: 'float32' | 'int32' = 'float32', xMean = 0): Case =>
  ({ name, spec: buildLayer(name, config, inputShape, dtype), batch, xMean });

const CASES: Case[] = [
  ...ACTIVATIONS.map((a) => layer(`dense ${a}`, { kind: 'dense', units: 4, activation: a, useBias: true }, [5], 3)),
  layer('dense [B, T, k] gelu, no bias', { kind: 'dense', units: 6, activation: 'gelu', useBias: false }, [3, 5], 2),
  layer('dense small batch, wide (transposes dz, not W)', { kind: 'dense', units: 40, activation: 'relu', useBias: true }, [30], 2),
  layer('conv2d 3x3 same stride 1 relu', { kind: 'conv2d', filters: 4, kernelSize: [3, 3], strides: [1, 1], padding: 'same', activation: 'relu', useBias: true }, [6, 6, 3], 2),
  layer('conv2d 3x3 valid stride 2 tanh', { kind: 'conv2d', filters: 3, kernelSize: [3, 3], strides: [2, 2], padding: 'valid', activation: 'tanh', useBias: true }, [7, 7, 2], 2),
  layer('conv2d 2x3 same stride [2,1] gelu, no bias', { kind: 'conv2d', filters: 5, kernelSize: [2, 3], strides: [2, 1], padding: 'same', activation: 'gelu', useBias: false }, [7, 5, 2], 2),
  layer('conv2d 2x2 same stride 1 sigmoid (uneven padding)', { kind: 'conv2d', filters: 2, kernelSize: [2, 2], strides: [1, 1], padding: 'same', activation: 'sigmoid', useBias: true }, [5, 6, 3], 3),
  layer('conv2d 3x3 valid stride 1 linear', { kind: 'conv2d', filters: 3, kernelSize: [3, 3], strides: [1, 1], padding: 'valid', activation: 'linear', useBias: true }, [6, 5, 2], 2),
  layer('maxpool2d 2x2/2 valid', { kind: 'maxpool2d', poolSize: [2, 2], strides: [2, 2], padding: 'valid' }, [6, 6, 3], 2),
  layer('maxpool2d 3x3/2 same (overlapping)', { kind: 'maxpool2d', poolSize: [3, 3], strides: [2, 2], padding: 'same' }, [7, 6, 2], 2),
  // Windows of only negative values: tfjs-backend-wasm's own MaxPoolGrad gets these wrong.
  layer('maxpool2d 2x2/2 valid, negative inputs', { kind: 'maxpool2d', poolSize: [2, 2], strides: [2, 2], padding: 'valid' }, [5, 7, 3], 2, 'float32', -2),
  layer('maxpool2d 3x3/1 same, negative inputs', { kind: 'maxpool2d', poolSize: [3, 3], strides: [1, 1], padding: 'same' }, [6, 5, 2], 2, 'float32', -2),
  layer('flatten', { kind: 'flatten' }, [3, 4, 2], 2),
  ...ACTIVATIONS.map((a) => layer(`activation ${a}`, { kind: 'activation', activation: a }, [3, 4], 2)),
  layer('layernorm', { kind: 'layernorm', epsilon: 1e-5 }, [3, 8], 2),
  layer('embedding with positions', { kind: 'embedding', vocab: 11, dModel: 6, seqLen: 5, positional: true }, [5], 3, 'int32'),
  layer('embedding without positions', { kind: 'embedding', vocab: 7, dModel: 4, seqLen: 6, positional: false }, [6], 2, 'int32'),
  layer('transformer-block', { kind: 'transformer-block', dModel: 8, heads: 2, seqLen: 5, ffn: 12, epsilon: 1e-5 }, [5, 8], 2),
  layer('transformer-block, 4 heads', { kind: 'transformer-block', dModel: 12, heads: 4, seqLen: 6, ffn: 16, epsilon: 1e-5 }, [6, 12], 3),
  layer('lm-head', { kind: 'lm-head', dModel: 8, vocab: 10, epsilon: 1e-5 }, [4, 8], 2),
];

for (const backend of BACKENDS) {
  for (const c of CASES) {
    test(`${c.name}: backward matches autodiff on ${backend}`, async () => {
      await checkLayer(backend, c);
    });
  }
}

// ---- details the generic check does not cover -----------------------------------------------------

test('embedding: repeated ids add their gradients', async () => {
  for (const backend of BACKENDS) {
    await use(backend);
    const spec = buildLayer('e', { kind: 'embedding', vocab: 4, dModel: 2, seqLen: 3, positional: false }, [3], 'int32');
    const l = makeLayer(tf, spec);
    const w = [tf.zeros([4, 2])];
    const x = tf.tensor2d([[1, 1, 3], [1, 0, 3]], [2, 3], 'int32');
    const { y, saved } = l.forward(w, x);
    const r = l.backward(w, saved, tf.ones([2, 3, 2]), { dx: true, dw: true });
    assert.deepEqual(Array.from(r.dw[0].dataSync()), [1, 1, 3, 3, 0, 0, 2, 2], backend);
    tf.dispose([y, ...saved, ...r.dw, x, ...w]);
  }
});

test('conv2d at the cnn\'s conv_1 shape (14x14x16 → 32) on wasm', async () => {
  const spec = cnn().layers[2]; // conv_1: 14x14x16 → 32
  await checkLayer('wasm', { name: spec.name, spec, batch: 2 }, 5);
});

test('makeLayer rejects an unknown kind', () => {
  const spec = { ...buildLayer('f', { kind: 'flatten' }, [2, 2]), config: { kind: 'pooling' } } as unknown as LayerSpec;
  assert.throws(() => makeLayer(tf, spec), /unknown kind "pooling"/);
});

// ---- whole built-in models: every layer chains, shapes line up, no leaks -------------------------------

for (const backend of BACKENDS) {
  test(`built-in models run forward and backward through every layer on ${backend}`, async () => {
    await use(backend);
    const models = [mlp({ width: 8, depth: 3 }), cnn({ imageSize: 8, filters: 2, hidden: 6, classes: 3 }), transformer({ vocab: 13, dModel: 8, heads: 2, seqLen: 4, blocks: 2, ffn: 8 })];
    for (const m of models) {
      const B = 2;
      const before = tf.memory().numTensors;
      const impls = m.layers.map((s) => makeLayer(tf, s));
      const ws = m.layers.map((s, i) => weightsFor(s, 10 * i).map((v, j) => tf.tensor(v, s.weights[j].shape)));
      const x = m.inputDtype === 'int32' ? tf.tensor(ints(3, B * size(m.inputShape), 13), [B, ...m.inputShape], 'int32') : tf.tensor(normals(3, B * size(m.inputShape)), [B, ...m.inputShape]);
      const saved: Tensor[][] = [];
      const outs: Tensor[] = [];
      let h = x;
      impls.forEach((l, i) => {
        const r = l.forward(ws[i], h);
        assert.deepEqual(r.y.shape, [B, ...m.layers[i].outputShape], `${m.name} ${m.layers[i].name} output shape`);
        saved.push(r.saved);
        outs.push(r.y);
        h = r.y;
      });
      const target = m.targetDtype === 'int32' ? tf.tensor(ints(4, B * Math.max(1, size(m.targetShape)), 3), [B, ...m.targetShape], 'int32') : tf.zeros(h.shape);
      const { loss, dy } = lossAndGrad(tf, m.loss, h, target, B * Math.max(1, size(m.targetShape)));
      assert.ok(Number.isFinite(loss.dataSync()[0]) && loss.dataSync()[0] > 0, `${m.name} loss`);
      let g: Tensor = dy;
      for (let i = impls.length - 1; i >= 0; i--) {
        const r = impls[i].backward(ws[i], saved[i], g, { dx: i > 0, dw: true });
        r.dw.forEach((d, j) => assert.deepEqual(d.shape, m.layers[i].weights[j].shape, `${m.name} ${m.layers[i].name} d${m.layers[i].weights[j].name}`));
        tf.dispose(r.dw);
        g.dispose();
        if (i > 0) {
          assert.deepEqual(r.dx!.shape, [B, ...m.layers[i].inputShape], `${m.name} ${m.layers[i].name} dx shape`);
          g = r.dx!;
        } else assert.equal(r.dx, null);
      }
      tf.dispose([x, target, loss, ...outs, ...saved.flat(), ...ws.flat()]);
      assert.equal(tf.memory().numTensors, before, `${m.name}: leaked tensors`);
    }
  });
}

// ---- loss ----------------------------------------------------------------------------------------------

for (const backend of BACKENDS) {
  test(`softmax-ce loss and gradient match autodiff on ${backend}`, async () => {
    const shape = [3, 4, 7];
    const yv = normals(21, size(shape), 3);
    const tv = ints(22, 12, 7);
    const denom = 12;
    await use('cpu');
    const ref = tf.tidy(() => {
      const t = tf.oneHot(tf.tensor(tv, [3, 4], 'int32'), 7);
      const f = (y: Tensor) => tf.div(tf.neg(tf.sum(tf.mul(t, tf.log(tf.softmax(y))))), denom);
      const y = tf.tensor(yv, shape);
      return { loss: f(y).dataSync()[0], dy: { shape, values: tf.grad(f)(y).dataSync() as Float32Array } };
    });
    // By hand: mean over the 12 positions of −log softmax at the target.
    let byHand = 0;
    for (let p = 0; p < 12; p++) {
      const row = Array.from(yv.slice(p * 7, p * 7 + 7));
      const mx = Math.max(...row);
      byHand += mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0)) - row[tv[p]];
    }
    assert.ok(Math.abs(ref.loss - byHand / denom) < 1e-5);
    await use(backend);
    const before = tf.memory().numTensors;
    const y = tf.tensor(yv, shape);
    const t = tf.tensor(tv, [3, 4], 'int32');
    const r = lossAndGrad(tf, 'softmax-ce', y, t, denom);
    assert.deepEqual(r.loss.shape, []);
    assert.ok(Math.abs(r.loss.dataSync()[0] - byHand / denom) < 1e-5 * Math.max(1, byHand / denom), `loss ${r.loss.dataSync()[0]} vs ${byHand / denom}`);
    close(r.dy, ref.dy, 'softmax-ce dy');
    tf.dispose([y, t, r.loss, r.dy]);
    assert.equal(tf.memory().numTensors, before, 'loss leaked tensors');
  });

  test(`softmax-ce is stable for huge logits on ${backend}`, async () => {
    await use(backend);
    tf.tidy(() => {
      const r = lossAndGrad(tf, 'softmax-ce', tf.tensor2d([[1000, 0, -1000], [-5e4, 5e4, 0]]), tf.tensor1d([0, 0], 'int32'), 2);
      // row 0: correct class dominates → ~0; row 1: wrong by 1e5 → 1e5.
      assert.ok(Math.abs(r.loss.dataSync()[0] - 1e5 / 2) < 1, `loss ${r.loss.dataSync()[0]}`);
      for (const v of r.dy.dataSync()) assert.ok(Number.isFinite(v));
    });
  });

  test(`mse loss and gradient match autodiff on ${backend}`, async () => {
    const shape = [3, 5];
    const yv = normals(31, 15);
    const tv = normals(32, 15);
    const denom = 3;
    await use('cpu');
    const ref = tf.tidy(() => {
      const t = tf.tensor(tv, shape);
      const f = (y: Tensor) => tf.div(tf.sum(tf.square(tf.sub(y, t))), denom);
      return { dy: { shape, values: tf.grad(f)(tf.tensor(yv, shape)).dataSync() as Float32Array } };
    });
    let byHand = 0;
    for (let i = 0; i < 15; i++) byHand += (yv[i] - tv[i]) ** 2;
    await use(backend);
    const y = tf.tensor(yv, shape);
    const t = tf.tensor(tv, shape);
    const r = lossAndGrad(tf, 'mse', y, t, denom);
    assert.ok(Math.abs(r.loss.dataSync()[0] - byHand / denom) < 1e-5 * (byHand / denom));
    close(r.dy, ref.dy, 'mse dy');
    tf.dispose([y, t, r.loss, r.dy]);
  });

  test(`micro-batch losses and gradients add up to the minibatch mean on ${backend}`, async () => {
    await use(backend);
    tf.tidy(() => {
      const B = 4;
      const T = 3;
      const y = tf.tensor(normals(41, B * T * 5), [B, T, 5]);
      const t = tf.tensor(ints(42, B * T, 5), [B, T], 'int32');
      const whole = lossAndGrad(tf, 'softmax-ce', y, t, B * T);
      const parts = [0, 2].map((s) => lossAndGrad(tf, 'softmax-ce', tf.slice(y, [s, 0, 0], [2, T, 5]), tf.slice(t, [s, 0], [2, T]), B * T));
      const sum = parts[0].loss.dataSync()[0] + parts[1].loss.dataSync()[0];
      assert.ok(Math.abs(sum - whole.loss.dataSync()[0]) < 1e-5);
      // The whole-batch mean: per-position −log p averaged over B·T.
      const mean = tf.mean(tf.neg(tf.sum(tf.mul(tf.oneHot(t, 5), tf.logSoftmax(y)), -1))).dataSync()[0];
      assert.ok(Math.abs(whole.loss.dataSync()[0] - mean) < 1e-5);
      assert.equal(relErr(tf.concat([parts[0].dy, parts[1].dy]).dataSync(), whole.dy.dataSync()), 0);
    });
  });
}

test('softmax-ce gives the same result without a TensorScatterUpdate kernel (the oneHot path)', async () => {
  await use('cpu');
  const y = tf.tensor(normals(51, 6 * 9, 2), [2, 3, 9]);
  const t = tf.tensor(ints(52, 6, 9), [2, 3], 'int32');
  const withKernel = lossAndGrad(tf, 'softmax-ce', y, t, 6);
  const config = tf.getKernel('TensorScatterUpdate', 'cpu')!;
  tf.unregisterKernel('TensorScatterUpdate', 'cpu');
  try {
    const without = lossAndGrad(tf, 'softmax-ce', y, t, 6);
    assert.ok(Math.abs(without.loss.dataSync()[0] - withKernel.loss.dataSync()[0]) < 1e-6);
    assert.ok(relErr(without.dy.dataSync(), withKernel.dy.dataSync()) < 1e-6);
    tf.dispose([without.loss, without.dy]);
  } finally {
    tf.registerKernel(config);
  }
  tf.dispose([y, t, withKernel.loss, withKernel.dy]);
});

// ---- buildSequential specs are accepted as they come from the model builder -----------------------

test('a dense layer after a transformer-shaped input keeps the leading axes', async () => {
  await use('cpu');
  const [spec] = buildSequential([4, 6], 'float32', [{ name: 'd', config: { kind: 'dense', units: 3, activation: 'relu', useBias: true } }]);
  const l = makeLayer(tf, spec);
  tf.tidy(() => {
    const { y, saved } = l.forward([tf.ones([6, 3]), tf.zeros([3])], tf.ones([2, 4, 6]));
    assert.deepEqual(y.shape, [2, 4, 3]);
    assert.deepEqual(Array.from(y.dataSync()).slice(0, 3), [6, 6, 6]);
    tf.dispose(saved);
  });
});
