// Initial weights from the seed alone, keyed by layer and weight name, so every plan starts from the same point.
import type { LayerSpec, ModelSpec, WeightSpec } from './types';
import { shapeSize } from './types';
import { keyed, normals, uniforms } from './rng';

export function initWeight(seed: number, layer: string, w: WeightSpec): Float32Array {
  const n = shapeSize(w.shape);
  const out = new Float32Array(n);
  const key = keyed(seed, 'init', layer, w.name);
  switch (w.init.kind) {
    case 'zeros':
      break;
    case 'ones':
      out.fill(1);
      break;
    case 'normal': {
      const g = normals(key);
      for (let i = 0; i < n; i++) out[i] = g() * w.init.std;
      break;
    }
    case 'glorot': {
      const limit = Math.sqrt(6 / (w.init.fanIn + w.init.fanOut));
      const u = uniforms(key);
      for (let i = 0; i < n; i++) out[i] = (2 * u() - 1) * limit;
      break;
    }
  }
  return out;
}

/** The initial values of one layer's weights, in `spec.weights` order: from the model file if it has them, else from the seed. */
export function initLayer(model: ModelSpec, spec: LayerSpec, seed: number): Float32Array[] {
  const loaded = model.initialWeights?.[spec.name];
  return spec.weights.map((w) => {
    const values = loaded?.[w.name];
    return values ? Float32Array.from(values) : initWeight(seed, spec.name, w);
  });
}
