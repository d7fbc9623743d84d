// makeLayer: the LayerImpl for a spec's kind.
import type { LayerSpec } from '../../model/types';
import type { LayerFactory, LayerImpl, SplitBackward, TF } from './types';
import { dense } from './dense';
import { conv2d } from './conv2d';
import { maxpool2d } from './maxpool2d';
import { flatten } from './flatten';
import { activation } from './activation';
import { layernorm } from './layernorm';
import { embedding } from './embedding';
import { transformerBlock } from './transformer-block';
import { lmHead } from './lm-head';

export const LAYER_FACTORIES: Record<LayerSpec['config']['kind'], LayerFactory> = {
  dense,
  conv2d,
  maxpool2d,
  flatten,
  activation,
  layernorm,
  embedding,
  'transformer-block': transformerBlock,
  'lm-head': lmHead,
};

export function makeLayer(tf: TF, spec: LayerSpec): LayerImpl {
  const factory = LAYER_FACTORIES[spec.config.kind];
  if (!factory) throw new Error(`layer ${spec.name}: unknown kind ${JSON.stringify(spec.config.kind)}; use one of ${Object.keys(LAYER_FACTORIES).join(', ')}`);
  return factory(tf, spec);
}

/**
 * A layer's split backward: its own, else B asks `backward` for dx alone and keeps dL/dy (pending = [dy], which the
 * caller then holds instead of disposing), and W asks it for dW alone.
 */
export function splitBackward(impl: LayerImpl): SplitBackward {
  return (
    impl.split ?? {
      input: (w, saved, dy, wantDx) => ({ dx: impl.backward(w, saved, dy, { dx: wantDx, dw: false }).dx, pending: [dy] }),
      weight: (w, saved, pending) => impl.backward(w, saved, pending[0], { dx: false, dw: true }).dw,
    }
  );
}
