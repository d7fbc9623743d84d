// Flatten [B, ...] → [B, n]; the backward reshapes the gradient back.
import type { LayerFactory } from './types';

export const flatten: LayerFactory = (tf, spec) => {
  if (spec.config.kind !== 'flatten') throw new Error(`flatten: layer ${spec.name} is a ${spec.config.kind}`);
  const n = spec.inputShape.reduce((a, b) => a * b, 1);
  return {
    // saved: nothing (the input shape is the spec's)
    forward(_w, x) {
      return { y: tf.reshape(x, [x.shape[0] as number, n]), saved: [] };
    },
    backward(_w, _saved, dy, want) {
      if (!want.dx) return { dx: null, dw: [] };
      return { dx: tf.reshape(dy, [dy.shape[0] as number, ...spec.inputShape]), dw: [] };
    },
  };
};
