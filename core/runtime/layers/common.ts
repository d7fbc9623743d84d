// Shared layer math: activations and their derivatives, layer norm forward/backward, 2-D matmul helpers.
import type { Activation } from '../../model/types';
import type { TensorContainer } from '@tensorflow/tfjs-core';
import type { Tensor, TF } from './types';

/** tf.tidy for results that hold nulls or arrays (tidy keeps every tensor inside and skips the nulls). */
export function tidy<T>(tf: TF, fn: () => T): T {
  return tf.tidy(fn as unknown as () => TensorContainer) as unknown as T;
}

/** A tensor's shape as plain numbers. */
export function dims(t: Tensor): number[] {
  return t.shape as number[];
}

/** sqrt(2/π) and the cubic coefficient of GELU's tanh approximation. */
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

/** Activations that tf.fused.matMul / tf.fused.conv2d apply on every backend (wasm fuses only these). */
export function isFusable(a: Activation): a is 'linear' | 'relu' | 'sigmoid' {
  return a === 'linear' || a === 'relu' || a === 'sigmoid';
}

/**
 * What an activation's derivative is computed from: the output (`y`: relu, sigmoid, tanh),
 * the pre-activation (`z`: gelu), or nothing (linear).
 */
export function activationNeeds(a: Activation): 'y' | 'z' | 'none' {
  return a === 'linear' ? 'none' : a === 'gelu' ? 'z' : 'y';
}

/** GELU (tanh approximation) written as z·σ(2u), u = √(2/π)(z + 0.044715 z³): six ops. */
export function gelu(tf: TF, z: Tensor): Tensor {
  return tf.tidy(() => tf.mul(z, geluGate(tf, z, tf.square(z))));
}

/** σ(2u) for GELU, given z and z². */
function geluGate(tf: TF, z: Tensor, z2: Tensor): Tensor {
  return tf.sigmoid(tf.mul(z, tf.add(tf.mul(z2, 2 * GELU_C * GELU_K), 2 * GELU_C)));
}

/** GELU and its derivative at z, sharing the work: [gelu(z), gelu'(z)]; `value: false` skips gelu(z). */
export function geluWithGrad(tf: TF, z: Tensor, value = true): [Tensor | null, Tensor] {
  const out = tf.tidy(() => {
    const z2 = tf.square(z);
    const s = geluGate(tf, z, z2);
    // gelu' = s + z·s·(1−s)·2u', with 2u' = 2√(2/π)(1 + 3k z²).
    const du2 = tf.add(tf.mul(z2, 6 * GELU_C * GELU_K), 2 * GELU_C);
    const zs = tf.mul(z, s);
    const d = tf.add(s, tf.mul(tf.mul(zs, tf.sub(1, s)), du2));
    return value ? [zs, d] : [d];
  });
  return value ? [out[0], out[1]] : [null, out[0]];
}

/** tanh(z) = 2σ(2z) − 1: the wasm backend's Tanh is scalar code, 8x slower than its (vectorised) Sigmoid. */
export function tanh(tf: TF, z: Tensor): Tensor {
  return tf.tidy(() => tf.sub(tf.mul(tf.sigmoid(tf.mul(z, 2)), 2), 1));
}

export function applyActivation(tf: TF, a: Activation, z: Tensor): Tensor {
  switch (a) {
    case 'linear': return tf.clone(z);
    case 'relu': return tf.relu(z);
    case 'sigmoid': return tf.sigmoid(z);
    case 'tanh': return tanh(tf, z);
    case 'gelu': return gelu(tf, z);
  }
}

/**
 * dL/dz from dL/dy for y = a(z). `saved` is y or z as `activationNeeds(a)` says (ignored for linear).
 * Always returns a new tensor (never `dy` itself).
 */
export function activationGrad(tf: TF, a: Activation, dy: Tensor, saved: Tensor | null): Tensor {
  return tf.tidy(() => {
    switch (a) {
      case 'linear': return tf.clone(dy);
      case 'relu': return tf.mul(dy, tf.step(saved!));
      case 'sigmoid': return tf.mul(dy, tf.mul(saved!, tf.sub(1, saved!)));
      case 'tanh': return tf.mul(dy, tf.sub(1, tf.square(saved!)));
      case 'gelu': {
        const [, d] = geluWithGrad(tf, saved!, false);
        return tf.mul(dy, d);
      }
    }
  });
}

/** [..., k] → [n, k]. */
export function flatten2d(tf: TF, x: Tensor): Tensor {
  const k = dims(x)[x.rank - 1];
  return tf.reshape(x, [x.size / k, k]);
}

/**
 * Column sums of g [N, n] → [n]. On wasm a reduction over a leading axis transposes first; for wide,
 * tall gradients ones [1, N] · g is faster (fresh g: [256, 512] 0.33 vs 0.45 ms, [256, 8192] 4.9 vs 8.0 ms),
 * for narrow or short ones tf.sum is ([6272, 16] 0.09 vs 0.25 ms, [16, 1024] 0.02 vs 0.05 ms).
 */
export function colSum(tf: TF, g: Tensor): Tensor {
  const [N, n] = dims(g);
  if (N < 64 || n < 128) return tf.sum(g, 0);
  return tf.tidy(() => tf.reshape(tf.matMul(tf.ones([1, N]), g), [n]));
}

/** Sum over every axis but the last: [..., k] → [k] (the bias gradient). */
export function sumLeading(tf: TF, g: Tensor): Tensor {
  if (g.rank === 1) return tf.clone(g);
  return colSum(tf, flatten2d(tf, g));
}

/** a [..., k] · b [k, n] → [..., n], as one 2-D matMul. */
export function matmul2d(tf: TF, a: Tensor, b: Tensor): Tensor {
  return tf.tidy(() => {
    const y = tf.matMul(flatten2d(tf, a), b);
    return a.rank === 2 ? y : tf.reshape(y, [...dims(a).slice(0, -1), dims(b)[1]]);
  });
}

/**
 * g [N, n] · wᵀ for w [k, n] → [N, k] with explicit transposes only, transposing whichever side is
 * smaller: wᵀ (k·n elements) or g and the product (N·n + N·k; wins for small batches and large layers).
 */
export function matmulByTransposed(tf: TF, g: Tensor, w: Tensor): Tensor {
  return tf.tidy(() => {
    const [N, n] = dims(g);
    const k = dims(w)[0];
    if (k * n <= N * (n + k)) return tf.matMul(g, tf.transpose(w));
    return tf.transpose(tf.matMul(w, tf.transpose(g)));
  });
}

/**
 * dW = xᵀ · g for x [N, k], g [N, n]: the weight gradient of a 2-D product, transposing x (N·k elements)
 * or else g and the product (N·n + k·n), whichever is fewer.
 */
export function weightGrad(tf: TF, x: Tensor, g: Tensor): Tensor {
  return tf.tidy(() => {
    const [N, k] = dims(x);
    const n = dims(g)[1];
    if (N * k <= n * (N + k)) return tf.matMul(tf.transpose(x), g);
    return tf.transpose(tf.matMul(tf.transpose(g), x));
  });
}

export interface LayerNormOut {
  y: Tensor;
  /** (x − mean) / std, shape of x. */
  xhat: Tensor;
  /** 1 / sqrt(var + ε), shape [..., 1]. */
  rstd: Tensor;
}

/** Layer norm over the last axis: y = γ·x̂ + β. */
export function layerNormForward(tf: TF, x: Tensor, gamma: Tensor, beta: Tensor, epsilon: number): LayerNormOut {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const xc = tf.sub(x, tf.mean(x, axis, true));
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), axis, true), epsilon));
    const xhat = tf.mul(xc, rstd);
    const y = tf.add(tf.mul(xhat, gamma), beta);
    return { y, xhat, rstd };
  });
}

/** y = γ·x̂ + β from saved x̂ (recomputing it is cheaper than keeping it). */
export function layerNormApply(tf: TF, xhat: Tensor, gamma: Tensor, beta: Tensor): Tensor {
  return tf.tidy(() => tf.add(tf.mul(xhat, gamma), beta));
}

/**
 * Layer norm backward. dx = rstd · (g − mean(g) − x̂·mean(g·x̂)), g = dy·γ; dγ = Σ dy·x̂; dβ = Σ dy
 * (sums over all leading axes). Returns only what `want` asks for.
 */
export function layerNormBackward(
  tf: TF, dy: Tensor, xhat: Tensor, rstd: Tensor, gamma: Tensor, want: { dx: boolean; dw: boolean },
): { dx: Tensor | null; dgamma: Tensor | null; dbeta: Tensor | null } {
  return tidy(tf, () => {
    let dx: Tensor | null = null;
    let dgamma: Tensor | null = null;
    let dbeta: Tensor | null = null;
    if (want.dx) {
      const axis = dy.rank - 1;
      const g = tf.mul(dy, gamma);
      const inner = tf.sub(tf.sub(g, tf.mean(g, axis, true)), tf.mul(xhat, tf.mean(tf.mul(g, xhat), axis, true)));
      dx = tf.mul(inner, rstd);
    }
    if (want.dw) {
      dgamma = sumLeading(tf, tf.mul(dy, xhat));
      dbeta = sumLeading(tf, dy);
    }
    return { dx, dgamma, dbeta };
  });
}
