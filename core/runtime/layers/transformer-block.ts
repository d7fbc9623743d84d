// Pre-norm causal decoder block: x1 = x + Attn(LN1(x)); y = x1 + FC2(gelu(FC1(LN2(x1)))); hand-written backward.
import type { Tensor, LayerFactory, SplitBackward } from './types';
import { colSum, dims, gelu, geluWithGrad, layerNormApply, layerNormBackward, layerNormForward, matmulByTransposed, tidy, weightGrad } from './common';

/** Added to the scores above the diagonal; exp() of it is exactly 0 in float32. */
const MASKED = -1e9;

/** [T, T] additive causal mask: 0 where key ≤ query, MASKED after. */
export function causalMask(t: number): Float32Array {
  const m = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = MASKED;
  return m;
}

export const transformerBlock: LayerFactory = (tf, spec) => {
  if (spec.config.kind !== 'transformer-block') throw new Error(`transformer-block: layer ${spec.name} is a ${spec.config.kind}`);
  const { dModel: d, heads, seqLen, epsilon } = spec.config;
  const hd = d / heads;
  const scale = 1 / Math.sqrt(hd);
  const mask = causalMask(seqLen);
  // Weight indices, in spec.weights order.
  const LN1G = 0, LN1B = 1, QKV_W = 2, QKV_B = 3, PROJ_W = 4, PROJ_B = 5, LN2G = 6, LN2B = 7, FC1_W = 8, FC1_B = 9, FC2_W = 10, FC2_B = 11;

  // saved: [x̂1, rstd1, q·scale, k, v (each [B·H, T, hd]), P [B·H, T, T], O [B·T, d], x̂2, rstd2, u = FC1 pre-activation [B·T, ffn]]
  const split: SplitBackward = {
    // B: the chain of input gradients; it keeps, for W, the gradient at each weight's output and at each norm's output.
    input(w, saved, dy, wantDx) {
      return tidy(tf, () => {
        const [xhat1, rstd1, qs, k, v, p, , xhat2, rstd2, u] = saved;
        const [b, t] = dims(dy);
        const n = b * t;
        const dy2 = tf.reshape(dy, [n, d]);
        // MLP: y = x1 + gelu(u)·W2 + b2, u = h2·W1 + b1, h2 = LN2(x1)
        const [, gd] = geluWithGrad(tf, u, false);
        const du = tf.mul(matmulByTransposed(tf, dy2, w[FC2_W]), gd);
        const dh2 = matmulByTransposed(tf, du, w[FC1_W]);
        const dx1 = tf.add(dy2, layerNormBackward(tf, dh2, xhat2, rstd2, w[LN2G], { dx: true, dw: false }).dx!);
        // Attention: x1 = x + O·Wp + bp
        const dO = tf.reshape(tf.transpose(tf.reshape(matmulByTransposed(tf, dx1, w[PROJ_W]), [b, t, heads, hd]), [0, 2, 1, 3]), [b * heads, t, hd]);
        const dP = tf.matMul(dO, tf.transpose(v, [0, 2, 1]));
        const dv = tf.matMul(tf.transpose(p, [0, 2, 1]), dO);
        const dS = tf.mul(p, tf.sub(dP, tf.sum(tf.mul(dP, p), 2, true)));
        const dq = tf.mul(tf.matMul(dS, k), scale);
        const dk = tf.matMul(tf.transpose(dS, [0, 2, 1]), qs);
        // [B, 3H, T, hd] → [B, T, 3H, hd] → [n, 3d]
        const dheads3 = tf.concat([dq, dk, dv].map((m) => tf.reshape(m, [b, heads, t, hd])), 1);
        const dqkv = tf.reshape(tf.transpose(dheads3, [0, 2, 1, 3]), [n, 3 * d]);
        const dh1 = matmulByTransposed(tf, dqkv, w[QKV_W]);
        const dx = wantDx ? tf.reshape(tf.add(dx1, layerNormBackward(tf, dh1, xhat1, rstd1, w[LN1G], { dx: true, dw: false }).dx!), [b, t, d]) : null;
        return { dx, pending: [dy2, du, dh2, dx1, dqkv, dh1] };
      });
    },
    // W: every weight's gradient from the output gradients B kept.
    weight(w, saved, [dy2, du, dh2, dx1, dqkv, dh1]) {
      return tidy(tf, () => {
        const [xhat1, rstd1, , , , , o, xhat2, rstd2, u] = saved;
        const dw: Tensor[] = new Array(12);
        /** A product's kernel (at `k`) and bias (at k + 1) from its input and its output gradient. */
        const linear = (k: number, input: Tensor, dz: Tensor) => {
          dw[k] = weightGrad(tf, input, dz);
          dw[k + 1] = colSum(tf, dz);
        };
        /** A layer norm's γ (at `k`) and β (at k + 1) from the gradient at its output. */
        const norm = (k: number, dh: Tensor, xhat: Tensor, rstd: Tensor) => {
          const g = layerNormBackward(tf, dh, xhat, rstd, w[k], { dx: false, dw: true });
          dw[k] = g.dgamma!;
          dw[k + 1] = g.dbeta!;
        };
        linear(FC2_W, gelu(tf, u), dy2);
        linear(FC1_W, layerNormApply(tf, xhat2, w[LN2G], w[LN2B]), du);
        norm(LN2G, dh2, xhat2, rstd2);
        linear(PROJ_W, o, dx1);
        linear(QKV_W, layerNormApply(tf, xhat1, w[LN1G], w[LN1B]), dqkv);
        norm(LN1G, dh1, xhat1, rstd1);
        return dw;
      });
    },
  };

  return {
    forward(w, x) {
      return tf.tidy(() => {
        const [b, t] = dims(x);
        const n = b * t;
        const x2 = tf.reshape(x, [n, d]);
        const ln1 = layerNormForward(tf, x2, w[LN1G], w[LN1B], epsilon);
        const qkv = tf.fused.matMul({ a: ln1.y, b: w[QKV_W], bias: w[QKV_B] }); // [n, 3d]
        // [B, T, 3H, hd] → [B, 3H, T, hd] → q, k, v as [B·H, T, hd] (rank-4 transposes only: wasm's rank-5 one is 30x slower)
        const heads3 = tf.transpose(tf.reshape(qkv, [b, t, 3 * heads, hd]), [0, 2, 1, 3]);
        const [q, k, v] = tf.split(heads3, 3, 1).map((m) => tf.reshape(m, [b * heads, t, hd]));
        const qs = tf.mul(q, scale);
        const scores = tf.add(tf.matMul(qs, tf.transpose(k, [0, 2, 1])), tf.tensor2d(mask, [t, t]));
        const p = tf.softmax(scores);
        const oh = tf.matMul(p, v); // [B·H, T, hd]
        const o = tf.reshape(tf.transpose(tf.reshape(oh, [b, heads, t, hd]), [0, 2, 1, 3]), [n, d]);
        const x1 = tf.add(x2, tf.fused.matMul({ a: o, b: w[PROJ_W], bias: w[PROJ_B] }));
        const ln2 = layerNormForward(tf, x1, w[LN2G], w[LN2B], epsilon);
        const u = tf.fused.matMul({ a: ln2.y, b: w[FC1_W], bias: w[FC1_B] });
        const y = tf.reshape(tf.add(x1, tf.fused.matMul({ a: gelu(tf, u), b: w[FC2_W], bias: w[FC2_B] })), [b, t, d]);
        return { y, saved: [ln1.xhat, ln1.rstd, qs, k, v, p, o, ln2.xhat, ln2.rstd, u] };
      });
    },
    backward(w, saved, dy, want) {
      if (!want.dx && !want.dw) return { dx: null, dw: [] };
      // One backward is the split one's two halves back to back: the same products, and W reuses B's gradients.
      const r = split.input(w, saved, dy, want.dx);
      const dw = want.dw ? split.weight(w, saved, r.pending) : [];
      tf.dispose(r.pending);
      return { dx: r.dx, dw };
    },
    split,
  };
};
