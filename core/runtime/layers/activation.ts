// Element-wise activation layer.
import type { LayerFactory } from './types';
import { activationGrad, activationNeeds, applyActivation } from './common';

export const activation: LayerFactory = (tf, spec) => {
  if (spec.config.kind !== 'activation') throw new Error(`activation: layer ${spec.name} is a ${spec.config.kind}`);
  const a = spec.config.activation;
  const needs = activationNeeds(a);
  return {
    // saved: [y] for relu/sigmoid/tanh, [x] for gelu, [] for linear
    forward(_w, x) {
      return tf.tidy(() => {
        const y = applyActivation(tf, a, x);
        return { y, saved: needs === 'y' ? [tf.clone(y)] : needs === 'z' ? [tf.clone(x)] : [] };
      });
    },
    backward(_w, saved, dy, want) {
      if (!want.dx) return { dx: null, dw: [] };
      return { dx: activationGrad(tf, a, dy, saved[0] ?? null), dw: [] };
    },
  };
};
