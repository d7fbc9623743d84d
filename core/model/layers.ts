// Builds LayerSpecs from a kind's config and input shape: output shape, weights, parameters and FLOPs.
import type { LayerConfig, LayerSpec, WeightSpec, Activation } from './types';
import { shapeSize } from './types';

const glorot = (fanIn: number, fanOut: number) => ({ kind: 'glorot', fanIn, fanOut }) as const;
const zeros = { kind: 'zeros' } as const;
const ones = { kind: 'ones' } as const;

function convOut(size: number, k: number, s: number, padding: 'same' | 'valid'): number {
  return padding === 'same' ? Math.ceil(size / s) : Math.floor((size - k) / s) + 1;
}

function activationFlops(a: Activation): number {
  return a === 'linear' ? 0 : a === 'gelu' ? 8 : a === 'relu' ? 1 : 4;
}

/** Shape inference for one layer; throws a message naming the layer when the input does not fit. */
export function buildLayer(name: string, config: LayerConfig, inputShape: number[], inputDtype: 'float32' | 'int32' = 'float32'): LayerSpec {
  const bad = (rule: string, fix: string): never => {
    throw new Error(`layer ${name} (${config.kind}): ${rule} (input shape [${inputShape.join(',')}]); ${fix}`);
  };
  let outputShape: number[];
  let weights: WeightSpec[] = [];
  let flops = 0;
  switch (config.kind) {
    case 'dense': {
      const inDim = inputShape[inputShape.length - 1];
      if (inputShape.length < 1 || !(inDim > 0)) bad('needs an input with a last dimension', 'put a flatten layer before it');
      const rows = shapeSize(inputShape) / inDim;
      outputShape = [...inputShape.slice(0, -1), config.units];
      weights = [{ name: 'kernel', shape: [inDim, config.units], init: glorot(inDim, config.units) }];
      if (config.useBias) weights.push({ name: 'bias', shape: [config.units], init: zeros });
      flops = rows * (2 * inDim * config.units + (config.useBias ? config.units : 0) + activationFlops(config.activation) * config.units);
      break;
    }
    case 'conv2d': {
      if (inputShape.length !== 3) bad('needs an input of shape [height, width, channels]', 'feed it images or reshape first');
      const [h, w, c] = inputShape;
      const [kh, kw] = config.kernelSize;
      const [sh, sw] = config.strides;
      const oh = convOut(h, kh, sh, config.padding);
      const ow = convOut(w, kw, sw, config.padding);
      if (oh <= 0 || ow <= 0) bad(`kernel ${kh}x${kw} is larger than the input`, 'use padding "same" or a smaller kernel');
      outputShape = [oh, ow, config.filters];
      weights = [{ name: 'kernel', shape: [kh, kw, c, config.filters], init: glorot(kh * kw * c, kh * kw * config.filters) }];
      if (config.useBias) weights.push({ name: 'bias', shape: [config.filters], init: zeros });
      flops = oh * ow * config.filters * (2 * kh * kw * c + (config.useBias ? 1 : 0) + activationFlops(config.activation));
      break;
    }
    case 'maxpool2d': {
      if (inputShape.length !== 3) bad('needs an input of shape [height, width, channels]', 'place it after a conv2d layer');
      const [h, w, c] = inputShape;
      const oh = convOut(h, config.poolSize[0], config.strides[0], config.padding);
      const ow = convOut(w, config.poolSize[1], config.strides[1], config.padding);
      if (oh <= 0 || ow <= 0) bad('pool window is larger than the input', 'use a smaller pool size');
      outputShape = [oh, ow, c];
      flops = oh * ow * c * config.poolSize[0] * config.poolSize[1];
      break;
    }
    case 'flatten':
      outputShape = [shapeSize(inputShape)];
      break;
    case 'activation':
      outputShape = [...inputShape];
      flops = shapeSize(inputShape) * activationFlops(config.activation);
      break;
    case 'layernorm': {
      const d = inputShape[inputShape.length - 1];
      outputShape = [...inputShape];
      weights = [
        { name: 'gamma', shape: [d], init: ones },
        { name: 'beta', shape: [d], init: zeros },
      ];
      flops = shapeSize(inputShape) * 8;
      break;
    }
    case 'embedding': {
      if (inputShape.length !== 1 || inputShape[0] !== config.seqLen) bad(`needs int32 token ids of shape [${config.seqLen}]`, 'set seqLen to the sequence length');
      const { vocab, dModel, seqLen } = config;
      outputShape = [seqLen, dModel];
      weights = [{ name: 'tokens', shape: [vocab, dModel], init: { kind: 'normal', std: 0.02 } }];
      if (config.positional) weights.push({ name: 'positions', shape: [seqLen, dModel], init: { kind: 'normal', std: 0.02 } });
      flops = seqLen * dModel;
      break;
    }
    case 'transformer-block': {
      const { dModel: d, seqLen: t, ffn, heads } = config;
      if (inputShape.length !== 2 || inputShape[0] !== t || inputShape[1] !== d) bad(`needs an input of shape [${t}, ${d}]`, 'match seqLen and dModel to the previous layer');
      if (d % heads !== 0) bad(`dModel ${d} is not divisible by heads ${heads}`, 'choose heads that divide dModel');
      outputShape = [t, d];
      weights = [
        { name: 'ln1_gamma', shape: [d], init: ones },
        { name: 'ln1_beta', shape: [d], init: zeros },
        { name: 'qkv_kernel', shape: [d, 3 * d], init: glorot(d, 3 * d) },
        { name: 'qkv_bias', shape: [3 * d], init: zeros },
        { name: 'proj_kernel', shape: [d, d], init: glorot(d, d) },
        { name: 'proj_bias', shape: [d], init: zeros },
        { name: 'ln2_gamma', shape: [d], init: ones },
        { name: 'ln2_beta', shape: [d], init: zeros },
        { name: 'fc1_kernel', shape: [d, ffn], init: glorot(d, ffn) },
        { name: 'fc1_bias', shape: [ffn], init: zeros },
        { name: 'fc2_kernel', shape: [ffn, d], init: glorot(ffn, d) },
        { name: 'fc2_bias', shape: [d], init: zeros },
      ];
      // qkv + proj + two MLP matmuls, scores and weighted sum, softmax, norms, gelu.
      flops = t * (2 * d * 3 * d + 2 * d * d + 2 * 2 * d * ffn) + 2 * 2 * t * t * d + 5 * heads * t * t + 16 * t * d + 8 * t * ffn;
      break;
    }
    case 'lm-head': {
      const { dModel: d, vocab } = config;
      if (inputShape.length !== 2 || inputShape[1] !== d) bad(`needs an input of shape [seqLen, ${d}]`, 'match dModel to the previous layer');
      outputShape = [inputShape[0], vocab];
      weights = [
        { name: 'ln_gamma', shape: [d], init: ones },
        { name: 'ln_beta', shape: [d], init: zeros },
        { name: 'kernel', shape: [d, vocab], init: glorot(d, vocab) },
        { name: 'bias', shape: [vocab], init: zeros },
      ];
      flops = inputShape[0] * (2 * d * vocab + vocab + 8 * d);
      break;
    }
  }
  const params = weights.reduce((n, w) => n + shapeSize(w.shape), 0);
  return { name, config, inputShape, outputShape, inputDtype, weights, params, flops, activationBytes: 4 * shapeSize(outputShape) };
}

/** Chains layer specs: each layer's input is the previous layer's output. */
export function buildSequential(inputShape: number[], inputDtype: 'float32' | 'int32', layers: { name: string; config: LayerConfig }[]): LayerSpec[] {
  const specs: LayerSpec[] = [];
  let shape = inputShape;
  let dtype = inputDtype;
  for (const l of layers) {
    const spec = buildLayer(l.name, l.config, shape, dtype);
    specs.push(spec);
    shape = spec.outputShape;
    dtype = 'float32';
  }
  return specs;
}
