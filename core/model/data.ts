// Synthetic, learnable training data generated from the seed and the step: identical on every machine and plan.
import type { ModelSpec } from './types';
import { shapeSize } from './types';
import { keyed, normals, uniforms } from './rng';

export interface Batch {
  x: Float32Array | Int32Array;
  y: Float32Array | Int32Array;
  /** Samples in the batch. */
  size: number;
}

/**
 * The minibatch of step `step`. Classification labels follow a rule the model can learn:
 * mlp — the index of the largest input feature; cnn — which quadrant-and-row holds a bright patch;
 * transformer — the next token of an arithmetic sequence (a + i·b) mod vocab.
 */
export function makeBatch(model: ModelSpec, seed: number, step: number, size: number): Batch {
  const inSize = shapeSize(model.inputShape);
  const tSize = Math.max(1, shapeSize(model.targetShape));
  const g = normals(keyed(seed, 'data', step));
  const u = uniforms(keyed(seed, 'data-uniform', step));
  if (model.inputDtype === 'int32') {
    const vocab = model.layers[0].config.kind === 'embedding' ? model.layers[0].config.vocab : 256;
    const x = new Int32Array(size * inSize);
    const y = new Int32Array(size * tSize);
    for (let s = 0; s < size; s++) {
      const a = Math.floor(u() * vocab);
      const b = 1 + Math.floor(u() * 7);
      for (let i = 0; i < inSize; i++) x[s * inSize + i] = (a + i * b) % vocab;
      for (let i = 0; i < tSize; i++) y[s * tSize + i] = (a + (i + 1) * b) % vocab;
    }
    return { x, y, size };
  }
  const x = new Float32Array(size * inSize);
  for (let i = 0; i < x.length; i++) x[i] = g();
  if (model.loss === 'mse') {
    const y = new Float32Array(size * tSize);
    for (let i = 0; i < y.length; i++) y[i] = Math.tanh(x[i % x.length]);
    return { x, y, size };
  }
  const last = model.layers[model.layers.length - 1];
  const classes = last.outputShape[last.outputShape.length - 1];
  const y = new Int32Array(size * tSize);
  if (model.inputShape.length === 3) {
    // Images: draw a bright 4x4 patch at a class-dependent place.
    const [h, w, c] = model.inputShape;
    for (let s = 0; s < size; s++) {
      const label = Math.floor(u() * classes);
      y[s] = label;
      const row = Math.floor((label * (h - 4)) / Math.max(1, classes - 1));
      const col = (label % 2) * Math.max(0, w - 4);
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 4; j++)
          for (let k = 0; k < c; k++) x[s * inSize + ((row + i) * w + col + j) * c + k] += 3;
    }
    return { x, y, size };
  }
  for (let s = 0; s < size; s++) {
    let best = 0;
    for (let i = 1; i < Math.min(classes, inSize); i++) if (x[s * inSize + i] > x[s * inSize + best]) best = i;
    y[s] = best;
  }
  return { x, y, size };
}

/** Rows [from, to) of a per-sample-major array with `per` values per sample. */
export function sliceSamples<T extends Float32Array | Int32Array>(a: T, per: number, from: number, to: number): T {
  return a.slice(from * per, to * per) as T;
}
