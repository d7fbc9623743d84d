// makeLayer: the LayerImpl for a spec's kind.
import type { LayerSpec } from '../../model/types';
import type { LayerFactory, LayerImpl, TF } from './types';
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
