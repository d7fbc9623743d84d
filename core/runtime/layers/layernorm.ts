// Layer normalisation over the last axis with learned gain and bias.
import type { Tensor, LayerFactory } from './types';
import { layerNormBackward, layerNormForward, tidy } from './common';

export const layernorm: LayerFactory = (tf, spec) => {
  if (spec.config.kind !== 'layernorm') throw new Error(`layernorm: layer ${spec.name} is a ${spec.config.kind}`);
  const { epsilon } = spec.config;
  return {
    // saved: [x̂, rstd]
    forward(w, x) {
      return tf.tidy(() => {
        const { y, xhat, rstd } = layerNormForward(tf, x, w[0], w[1], epsilon);
        return { y, saved: [xhat, rstd] };
      });
    },
    backward(w, saved, dy, want) {
      if (!want.dx && !want.dw) return { dx: null, dw: [] };
      return tidy(tf, () => {
        const r = layerNormBackward(tf, dy, saved[0], saved[1], w[0], want);
        return { dx: r.dx, dw: want.dw ? [r.dgamma!, r.dbeta!] : ([] as Tensor[]) };
      });
    },
  };
};
