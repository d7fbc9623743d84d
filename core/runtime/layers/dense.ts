// Dense layer y = act(x·W + b) on inputs [..., k], with a hand-written backward (explicit transposes only).
import type { Activation } from '../../model/types';
import type { LayerFactory, Tensor, TF } from './types';
import { activationGrad, colSum, dims, tidy, activationNeeds, applyActivation, flatten2d, isFusable, matmulByTransposed, weightGrad } from './common';

/** x2 [N, k] · W + b, then the activation; returns the output and the pre-activation when the derivative needs it. */
export function denseForward2d(tf: TF, x2: Tensor, kernel: Tensor, bias: Tensor | undefined, activation: Activation): { y: Tensor; z: Tensor | null } {
  return tidy(tf, () => {
    if (isFusable(activation)) return { y: tf.fused.matMul({ a: x2, b: kernel, bias, activation }), z: null };
    const z = bias ? tf.fused.matMul({ a: x2, b: kernel, bias }) : tf.matMul(x2, kernel);
    const y = applyActivation(tf, activation, z);
    return activationNeeds(activation) === 'z' ? { y, z } : { y, z: null };
  });
}

export const dense: LayerFactory = (tf, spec) => {
  if (spec.config.kind !== 'dense') throw new Error(`dense: layer ${spec.name} is a ${spec.config.kind}`);
  const { activation, useBias } = spec.config;
  const needs = activationNeeds(activation);
  return {
    // saved: [x as [N, k], then y or z as the activation derivative needs]
    forward(w, x) {
      return tf.tidy(() => {
        const x2 = flatten2d(tf, x);
        const { y: y2, z } = denseForward2d(tf, x2, w[0], useBias ? w[1] : undefined, activation);
        const y = x.rank === 2 ? y2 : tf.reshape(y2, [...dims(x).slice(0, -1), dims(y2)[1]]);
        const saved = [x2 === x ? tf.clone(x) : x2];
        if (needs === 'y') saved.push(y === y2 ? tf.clone(y) : y2);
        if (needs === 'z') saved.push(z!);
        return { y, saved };
      });
    },
    backward(w, saved, dy, want) {
      if (!want.dx && !want.dw) return { dx: null, dw: [] };
      return tidy(tf, () => {
        const [x2, act] = saved;
        const dz = activationGrad(tf, activation, flatten2d(tf, dy), act ?? null);
        const dw: Tensor[] = [];
        if (want.dw) {
          dw.push(weightGrad(tf, x2, dz));
          if (useBias) dw.push(colSum(tf, dz));
        }
        let dx: Tensor | null = null;
        if (want.dx) {
          const d2 = matmulByTransposed(tf, dz, w[0]);
          dx = dy.rank === 2 ? d2 : tf.reshape(d2, [...dims(dy).slice(0, -1), dims(d2)[1]]);
        }
        return { dx, dw };
      });
    },
  };
};
