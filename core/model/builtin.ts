// The built-in models: an equal-layer `mlp`, an uneven small `cnn`, and a decoder-only `transformer` with a costly head.
import type { ModelSpec } from './types';
import { buildSequential } from './layers';

export const BUILTIN_MODELS = ['mlp', 'cnn', 'transformer'] as const;
export type BuiltinModel = (typeof BUILTIN_MODELS)[number];

/** `input`: features per sample (default `width`); the first layer maps them to `width`. */
export interface MlpOptions { width: number; depth: number; input?: number }
export interface CnnOptions { imageSize: number; filters: number; hidden: number; classes: number }
export interface TransformerOptions { vocab: number; dModel: number; heads: number; seqLen: number; blocks: number; ffn: number }

export const DEFAULT_OPTIONS = {
  mlp: { width: 1024, depth: 8 } as MlpOptions,
  cnn: { imageSize: 28, filters: 16, hidden: 128, classes: 10 } as CnnOptions,
  transformer: { vocab: 16384, dModel: 128, heads: 4, seqLen: 32, blocks: 8, ffn: 512 } as TransformerOptions,
};

/**
 * `depth` dense layers of `width`→`width` (ReLU, the last linear): equal layers, so a uniform balance is a balanced one
 * in compute. A wider `input` makes the first layer costlier, which can even out a first stage (no input gradient)
 * against a last one (the loss).
 */
export function mlp(o: Partial<MlpOptions> = {}): ModelSpec {
  const { width, depth } = { ...DEFAULT_OPTIONS.mlp, ...o };
  const input = o.input ?? width;
  const layers = Array.from({ length: depth }, (_, i) => ({
    name: `dense_${i}`,
    config: { kind: 'dense' as const, units: width, activation: i === depth - 1 ? ('linear' as const) : ('relu' as const), useBias: true },
  }));
  return {
    name: 'mlp', loss: 'softmax-ce', inputShape: [input], inputDtype: 'float32', targetShape: [], targetDtype: 'int32',
    layers: buildSequential([input], 'float32', layers), options: { width, depth, ...(input !== width ? { input } : {}) },
  };
}

/** conv → pool → conv → pool → flatten → dense → dense: uneven on purpose. */
export function cnn(o: Partial<CnnOptions> = {}): ModelSpec {
  const { imageSize, filters, hidden, classes } = { ...DEFAULT_OPTIONS.cnn, ...o };
  const conv = (f: number) => ({ kind: 'conv2d' as const, filters: f, kernelSize: [3, 3] as [number, number], strides: [1, 1] as [number, number], padding: 'same' as const, activation: 'relu' as const, useBias: true });
  const pool = { kind: 'maxpool2d' as const, poolSize: [2, 2] as [number, number], strides: [2, 2] as [number, number], padding: 'valid' as const };
  const layers = [
    { name: 'conv_0', config: conv(filters) },
    { name: 'pool_0', config: pool },
    { name: 'conv_1', config: conv(2 * filters) },
    { name: 'pool_1', config: pool },
    { name: 'flatten', config: { kind: 'flatten' as const } },
    { name: 'dense_0', config: { kind: 'dense' as const, units: hidden, activation: 'relu' as const, useBias: true } },
    { name: 'dense_1', config: { kind: 'dense' as const, units: classes, activation: 'linear' as const, useBias: true } },
  ];
  const inputShape = [imageSize, imageSize, 1];
  return {
    name: 'cnn', loss: 'softmax-ce', inputShape, inputDtype: 'float32', targetShape: [], targetDtype: 'int32',
    layers: buildSequential(inputShape, 'float32', layers), options: { imageSize, filters, hidden, classes },
  };
}

/** Embedding, `blocks` pre-norm decoder blocks, LM head; with a realistic vocabulary the embedding and head outweigh a block. */
export function transformer(o: Partial<TransformerOptions> = {}): ModelSpec {
  const { vocab, dModel, heads, seqLen, blocks, ffn } = { ...DEFAULT_OPTIONS.transformer, ...o };
  const layers = [
    { name: 'embedding', config: { kind: 'embedding' as const, vocab, dModel, seqLen, positional: true } },
    ...Array.from({ length: blocks }, (_, i) => ({
      name: `block_${i}`,
      config: { kind: 'transformer-block' as const, dModel, heads, seqLen, ffn, epsilon: 1e-5 },
    })),
    { name: 'head', config: { kind: 'lm-head' as const, dModel, vocab, epsilon: 1e-5 } },
  ];
  return {
    name: 'transformer', loss: 'softmax-ce', inputShape: [seqLen], inputDtype: 'int32', targetShape: [seqLen], targetDtype: 'int32',
    layers: buildSequential([seqLen], 'int32', layers), options: { vocab, dModel, heads, seqLen, blocks, ffn },
  };
}

export function builtinModel(name: BuiltinModel, options: Record<string, number> = {}): ModelSpec {
  switch (name) {
    case 'mlp': return mlp(options);
    case 'cnn': return cnn(options);
    case 'transformer': return transformer(options);
  }
}
