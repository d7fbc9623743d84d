// Token (+ learned position) embedding: int32 ids [B, T] → [B, T, dModel]; no gradient for the ids.
//
// dTokens sums the rows of dy by token id. tf.unsortedSegmentSum would do it, but the wasm backend has no
// 'UnsortedSegmentSum' kernel; tf.scatterND adds duplicate indices on every backend, so it is used instead.
import type { Tensor, LayerFactory } from './types';
import { colSum, dims, tidy } from './common';

export const embedding: LayerFactory = (tf, spec) => {
  if (spec.config.kind !== 'embedding') throw new Error(`embedding: layer ${spec.name} is a ${spec.config.kind}`);
  const { vocab, dModel, positional } = spec.config;
  return {
    // saved: [ids as int32 [B·T, 1]]
    forward(w, x) {
      return tf.tidy(() => {
        const [b, t] = dims(x);
        const ids = x.dtype === 'int32' ? tf.reshape(x, [b * t]) : tf.cast(tf.reshape(x, [b * t]), 'int32');
        let y = tf.reshape(tf.gather(w[0], ids), [b, t, dModel]);
        if (positional) y = tf.add(y, w[1]);
        return { y, saved: [tf.reshape(ids, [b * t, 1])] };
      });
    },
    backward(_w, saved, dy, want) {
      if (!want.dw) return { dx: null, dw: [] };
      return tidy(tf, () => {
        const [b, t] = dims(dy);
        const dw: Tensor[] = [tf.scatterND(saved[0], tf.reshape(dy, [b * t, dModel]), [vocab, dModel])];
        if (positional) dw.push(tf.reshape(colSum(tf, tf.reshape(dy, [b, t * dModel])), [t, dModel]));
        return { dx: null, dw };
      });
    },
  };
};
