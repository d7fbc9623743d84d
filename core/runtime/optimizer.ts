// Optimizer updates (SGD, momentum, Adam) applied once per step to accumulated gradients.
import type * as tfc from '@tensorflow/tfjs-core';

export const OPTIMIZERS = ['sgd', 'momentum', 'adam'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

export interface OptimizerConfig {
  kind: OptimizerName;
  lr: number;
  momentum: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export const DEFAULT_OPTIMIZER: OptimizerConfig = { kind: 'adam', lr: 1e-3, momentum: 0.9, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

/** Per-weight optimizer state and an `apply` that updates weights in place. */
export class Optimizer {
  private slots: tfc.Variable[][] = [];
  private t = 0;
  constructor(
    private readonly tf: typeof tfc,
    private readonly cfg: OptimizerConfig,
    private readonly weights: tfc.Variable[],
  ) {
    const n = cfg.kind === 'adam' ? 2 : cfg.kind === 'momentum' ? 1 : 0;
    this.slots = weights.map((w) => Array.from({ length: n }, () => tf.variable(tf.zerosLike(w), false)));
  }

  apply(grads: tfc.Tensor[]): void {
    const { tf, cfg } = this;
    this.t++;
    tf.tidy(() => {
      this.weights.forEach((w, i) => {
        const g = grads[i];
        const s = this.slots[i];
        if (cfg.kind === 'sgd') {
          w.assign(tf.sub(w, tf.mul(g, cfg.lr)));
        } else if (cfg.kind === 'momentum') {
          s[0].assign(tf.add(tf.mul(s[0], cfg.momentum), g));
          w.assign(tf.sub(w, tf.mul(s[0], cfg.lr)));
        } else {
          s[0].assign(tf.add(tf.mul(s[0], cfg.beta1), tf.mul(g, 1 - cfg.beta1)));
          s[1].assign(tf.add(tf.mul(s[1], cfg.beta2), tf.mul(tf.square(g), 1 - cfg.beta2)));
          const mHat = tf.div(s[0], 1 - Math.pow(cfg.beta1, this.t));
          const vHat = tf.div(s[1], 1 - Math.pow(cfg.beta2, this.t));
          w.assign(tf.sub(w, tf.div(tf.mul(mHat, cfg.lr), tf.add(tf.sqrt(vHat), cfg.epsilon))));
        }
      });
    });
  }
}
