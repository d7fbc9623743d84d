// Final layer norm then projection to the vocabulary: [B, T, d] → logits [B, T, vocab].
import type { Tensor, LayerFactory } from './types';
import { colSum, dims, layerNormApply, layerNormBackward, layerNormForward, matmulByTransposed, tidy, weightGrad } from './common';

export const lmHead: LayerFactory = (tf, spec) => {
  if (spec.config.kind !== 'lm-head') throw new Error(`lm-head: layer ${spec.name} is a ${spec.config.kind}`);
  const { dModel: d, vocab, epsilon } = spec.config;
  return {
    // saved: [x̂ [N, d], rstd [N, 1]]
    forward(w, x) {
      return tf.tidy(() => {
        const lead = dims(x).slice(0, -1);
        const ln = layerNormForward(tf, tf.reshape(x, [x.size / d, d]), w[0], w[1], epsilon);
        const y = tf.reshape(tf.fused.matMul({ a: ln.y, b: w[2], bias: w[3] }), [...lead, vocab]);
        return { y, saved: [ln.xhat, ln.rstd] };
      });
    },
    backward(w, saved, dy, want) {
      if (!want.dx && !want.dw) return { dx: null, dw: [] };
      return tidy(tf, () => {
        const [xhat, rstd] = saved;
        const dy2 = tf.reshape(dy, [dy.size / vocab, vocab]);
        const dw: Tensor[] = [];
        // dh is needed for dx and for dγ, dβ.
        const ln = layerNormBackward(tf, matmulByTransposed(tf, dy2, w[2]), xhat, rstd, w[0], want);
        if (want.dw) dw.push(ln.dgamma!, ln.dbeta!, weightGrad(tf, layerNormApply(tf, xhat, w[0], w[1]), dy2), colSum(tf, dy2));
        const dx = ln.dx ? tf.reshape(ln.dx, [...dims(dy).slice(0, -1), d]) : null;
        return { dx, dw };
      });
    },
    // B keeps dh = dy·Wᵀ, the product behind dx, because dγ and dβ need it too.
    split: {
      input(w, saved, dy, wantDx) {
        return tidy(tf, () => {
          const [xhat, rstd] = saved;
          const dy2 = tf.reshape(dy, [dy.size / vocab, vocab]);
          const dh = matmulByTransposed(tf, dy2, w[2]);
          const ln = layerNormBackward(tf, dh, xhat, rstd, w[0], { dx: wantDx, dw: false });
          return { dx: ln.dx ? tf.reshape(ln.dx, [...dims(dy).slice(0, -1), d]) : null, pending: [dy2, dh] };
        });
      },
      weight(w, saved, [dy2, dh]) {
        return tidy(tf, () => {
          const [xhat, rstd] = saved;
          const ln = layerNormBackward(tf, dh, xhat, rstd, w[0], { dx: false, dw: true });
          return [ln.dgamma!, ln.dbeta!, weightGrad(tf, layerNormApply(tf, xhat, w[0], w[1]), dy2), colSum(tf, dy2)];
        });
      },
    },
  };
};
