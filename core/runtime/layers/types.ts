// The contract every layer kind implements: a forward that saves what its hand-written backward needs.
import type * as tfc from '@tensorflow/tfjs-core';
import type { LayerSpec } from '../../model/types';

export type Tensor = tfc.Tensor;
export type TF = typeof tfc;

/** What a forward keeps for the backward (inputs, pre-activations, normalisation statistics, ...). */
export type Saved = Tensor[];

export interface LayerImpl {
  /**
   * y = layer(x). `w` holds the layer's weights in the order of `spec.weights`.
   * Returns the output and the tensors the backward needs; the caller owns (and disposes) both.
   * Must not dispose `x` or `w`.
   */
  forward(w: Tensor[], x: Tensor): { y: Tensor; saved: Saved };
  /**
   * Given dL/dy, return dL/dx (null when `wantDx` is false, e.g. for the first layer or int32 inputs)
   * and dL/dw in the order of `spec.weights` (empty when `wantDw` is false).
   * Dense products must use explicit `tf.transpose`, never matMul's transposeA/transposeB
   * (12–20x slower on wasm). Must not dispose its arguments; returns new tensors the caller owns.
   */
  backward(w: Tensor[], saved: Saved, dy: Tensor, want: { dx: boolean; dw: boolean }): { dx: Tensor | null; dw: Tensor[] };
  /**
   * The backward split in two (zb-h1's B and W), for layers whose weight gradients need gradients made inside the
   * backward (a transformer block's, a head's layer norm): B keeps them for W instead of W computing them again.
   * Without it, B and W each call `backward` (see splitBackward).
   */
  split?: SplitBackward;
}

export interface SplitBackward {
  /** B: dL/dx (null when not wanted) and what W needs; the caller owns both and holds `pending` until W. */
  input(w: Tensor[], saved: Saved, dy: Tensor, wantDx: boolean): { dx: Tensor | null; pending: Tensor[] };
  /** W: dL/dw in the order of `spec.weights`, from what B kept. Must not dispose its arguments. */
  weight(w: Tensor[], saved: Saved, pending: Tensor[]): Tensor[];
}

export type LayerFactory = (tf: TF, spec: LayerSpec) => LayerImpl;
