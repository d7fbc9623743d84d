// Reads a sequential tfjs Layers model.json (tfjs-layers `model.save`, or tfjs-converter from Keras) into a ModelSpec; no file I/O.
import type { Activation, LayerConfig, LayerSpec, LossKind, ModelSpec } from './types';
import { shapeSize } from './types';
import { buildLayer } from './layers';

/** Dequantization info of a manifest entry (tfjs-converter `--quantize_uint8|uint16|float16`). */
export interface Quantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  scale?: number;
  min?: number;
}

/** One entry of a weightsManifest group, with the pipeprof layer and weight it fills. */
export interface ManifestWeight {
  /** The name as written in the manifest, e.g. `sequential/dense_1/kernel:0`. */
  name: string;
  shape: number[];
  dtype: string;
  /** The pipeprof layer and weight this entry fills; both '' for entries pipeprof skips (optimizer state). */
  layer: string;
  weight: string;
  quantization?: Quantization;
}

/** A weightsManifest group: its shard files (relative to the model.json), read one after another, hold its weights in order. */
export interface WeightGroup {
  paths: string[];
  weights: ManifestWeight[];
}

export interface ParsedModelJson {
  spec: ModelSpec;
  weightGroups: WeightGroup[];
}

export const SUPPORTED_CLASSES = ['Dense', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Activation', 'LayerNormalization', 'Dropout', 'InputLayer'] as const;
const SUPPORTED = SUPPORTED_CLASSES.join(', ');
const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'tanh', 'gelu', 'sigmoid'];
const USE_BUILTIN = 'use a built-in model (--model mlp|cnn|transformer)';
const REEXPORT = 'export model.json and its .bin files together from the same model';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (v === undefined ? 'missing' : JSON.stringify(v));
const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** One Keras layer as found in the topology, before it becomes a pipeprof layer. */
interface RawLayer {
  cls: string;
  name: string;
  config: Obj;
  /** The layer object itself (Keras 3 keeps `build_config` beside `config`). */
  raw: Obj;
}

/**
 * Parses a model.json object into a ModelSpec (named after `file`) and its weight manifest, mapped to (layer, weight).
 * Every problem throws one Error that names `file` and the layer or field, states the rule and the fix.
 */
export function parseLayersModel(json: unknown, file: string): ParsedModelJson {
  const fail = (msg: string): never => {
    throw new Error(`${file}: ${msg}`);
  };
  if (!isObj(json)) fail(`is not a JSON object (found ${Array.isArray(json) ? 'an array' : typeof json}); pass the model.json written by tfjs-layers model.save or by tensorflowjs_converter`);
  const root = json as Obj;
  if (root.format === 'graph-model' || (isObj(root.modelTopology) && Array.isArray(root.modelTopology.node))) {
    fail('is a tfjs graph model, which has no layers to split; pipeprof needs a Layers model: convert with tensorflowjs_converter --output_format tfjs_layers_model, or ' + USE_BUILTIN);
  }
  if (!isObj(root.modelTopology)) fail(`has no modelTopology object (found ${show(root.modelTopology)}); pass the model.json written by tfjs-layers model.save or by tensorflowjs_converter`);
  const topology = root.modelTopology as Obj;
  // tfjs-layers writes the model at the top; tfjs-converter from Keras nests it under model_config.
  const model = isObj(topology.model_config) ? topology.model_config : topology;
  if (typeof model.class_name !== 'string') fail('modelTopology has neither class_name nor model_config.class_name; pass the model.json written by tfjs-layers model.save or by tensorflowjs_converter');
  if (model.class_name !== 'Sequential') {
    fail(`the model is a ${model.class_name as string} (functional) model; pipeprof loads Sequential models only, where each layer feeds the next; rebuild it with tf.sequential() / keras.Sequential and re-save, or ${USE_BUILTIN}`);
  }
  // Old Keras writes the layers as a bare array; newer versions as { name, layers }.
  const rawList = Array.isArray(model.config) ? model.config : isObj(model.config) ? model.config.layers : undefined;
  if (!Array.isArray(rawList)) fail(`modelTopology Sequential config has no layers array (found ${show(model.config)}); re-save the model`);
  const list = rawList as unknown[];
  if (list.length === 0) fail('the Sequential model has no layers; add layers or ' + USE_BUILTIN);

  const raws: RawLayer[] = list.map((r, i) => {
    if (!isObj(r) || typeof r.class_name !== 'string') return fail(`layer #${i} has no class_name (found ${show(r)}); re-save the model`);
    const config = r.config === undefined || r.config === null ? {} : r.config;
    if (!isObj(config)) return fail(`layer #${i} (${r.class_name}) has a config that is not an object; re-save the model`);
    const name = typeof config.name === 'string' && config.name !== '' ? config.name : `${r.class_name.toLowerCase()}_${i}`;
    return { cls: r.class_name, name, config, raw: r };
  });
  const seen = new Set<string>();
  for (const r of raws) {
    if (seen.has(r.name)) fail(`two layers are named "${r.name}"; layer names must be unique (weights are matched by name); rename one and re-save`);
    seen.add(r.name);
    if (!SUPPORTED_CLASSES.includes(r.cls as (typeof SUPPORTED_CLASSES)[number]) && !ALIASES[r.cls]) {
      fail(`layer "${r.name}" has class ${r.cls}, which pipeprof cannot split or train; supported: ${SUPPORTED}. Replace it or ${USE_BUILTIN}`);
    }
  }

  const { inputShape, inputDtype } = readInput(raws[0], fail);
  // InputLayer only carries the input shape. Dropout is skipped: pipeprof trains deterministically so that pipelined and
  // unsplit training give the same weights (the transparency check), and dropout is the identity at inference anyway.
  const kept = raws.filter((r) => r.cls !== 'InputLayer' && r.cls !== 'Dropout');
  if (kept.length === 0) fail('the model has only InputLayer/Dropout layers, nothing to train; add layers or ' + USE_BUILTIN);

  const layers: LayerSpec[] = [];
  let shape = inputShape;
  let softmax = false;
  kept.forEach((r, i) => {
    const isLast = i === kept.length - 1;
    const { config, softmax: sm } = toLayerConfig(r, shape, fail);
    if (sm && !isLast) {
      fail(`layer "${r.name}" has activation softmax but is not the last layer (layer "${kept[i + 1].name}" follows); pipeprof folds softmax into the loss (softmax cross-entropy), so it is allowed only on the last layer; remove it or move it to the output layer`);
    }
    softmax = sm;
    let spec: LayerSpec;
    try {
      spec = buildLayer(r.name, config, shape, 'float32');
    } catch (e) {
      return fail((e as Error).message);
    }
    layers.push(spec);
    shape = spec.outputShape;
  });

  // A softmax output becomes a linear output scored by softmax cross-entropy against int32 class ids.
  const loss: LossKind = softmax ? 'softmax-ce' : 'mse';
  const options: Record<string, string | number> = { file };
  const source = typeof topology.keras_version === 'string' ? topology.keras_version : typeof root.generatedBy === 'string' ? root.generatedBy : undefined;
  if (source) options.source = source;
  const spec: ModelSpec = {
    name: file,
    layers,
    loss,
    inputShape,
    inputDtype,
    targetShape: softmax ? shape.slice(0, -1) : [...shape],
    targetDtype: softmax ? 'int32' : 'float32',
    options,
  };

  const weightGroups = readManifest(root, spec, fail);
  if (root.weightsManifest !== undefined) checkCoverage(spec, weightGroups, file);
  return { spec, weightGroups };
}

/** Fills `initialWeights` from each group's shard bytes (one ArrayBuffer per group: its shard files concatenated in order). */
export function attachWeights(spec: ModelSpec, groups: WeightGroup[], buffers: ArrayBuffer[]): ModelSpec {
  const file = spec.name;
  const fail = (msg: string): never => {
    throw new Error(`${file}: ${msg}`);
  };
  if (buffers.length !== groups.length) fail(`got ${buffers.length} weight buffers for ${groups.length} weightsManifest groups; pass one buffer per group (its shard files concatenated)`);
  const initial: Record<string, Record<string, Float32Array>> = {};
  groups.forEach((g, gi) => {
    const buf = buffers[gi];
    const expected = g.weights.reduce((n, w) => n + entryBytes(w, fail), 0);
    if (buf.byteLength !== expected) {
      fail(`weight file${g.paths.length === 1 ? '' : 's'} ${g.paths.join(', ')} hold${g.paths.length === 1 ? 's' : ''} ${buf.byteLength} bytes but weightsManifest group ${gi} lists ${expected} bytes for its ${g.weights.length} weights; the .bin files do not belong to this model.json (truncated copy or another export); ${REEXPORT}`);
    }
    let offset = 0;
    for (const w of g.weights) {
      const bytes = entryBytes(w, fail);
      if (w.layer !== '') {
        checkDtype(w, fail);
        (initial[w.layer] ??= {})[w.weight] = decode(buf.slice(offset, offset + bytes), w);
      }
      offset += bytes;
    }
  });
  const out: ModelSpec = { ...spec, initialWeights: initial };
  checkCoverage(out, groups, file);
  return out;
}

const ALIASES: Record<string, string> = { Convolution2D: 'Conv2D', MaxPool2D: 'MaxPooling2D' };

function readInput(first: RawLayer, fail: (m: string) => never): { inputShape: number[]; inputDtype: 'float32' } {
  const c = first.config;
  const build = isObj(first.raw.build_config) ? first.raw.build_config.input_shape : undefined;
  const batchShape = c.batch_input_shape ?? c.batch_shape ?? build;
  if (batchShape === undefined || batchShape === null) {
    fail(`the first layer "${first.name}" (${first.cls}) has no batch_input_shape (nor batch_shape, nor an InputLayer before it), so the input shape is unknown; give the first layer an input shape (tfjs: inputShape: [784]; Keras: keras.Input(shape=(784,))) and re-save`);
  }
  const dims = batchShape as unknown[];
  if (!Array.isArray(dims) || dims.length < 2 || !dims.slice(1).every(isPosInt)) {
    fail(`layer "${first.name}" has input shape ${show(batchShape)} (batch first); pipeprof needs fixed per-sample dimensions (positive integers, no null after the batch); save the model with a fixed input shape`);
  }
  const dtype = isObj(c.dtype) && isObj(c.dtype.config) ? c.dtype.config.name : c.dtype;
  if (dtype !== undefined && dtype !== null && dtype !== 'float32') {
    fail(`layer "${first.name}" takes input dtype ${show(dtype)}; pipeprof feeds float32 inputs to a loaded model; save the model with a float32 input`);
  }
  return { inputShape: (dims.slice(1) as number[]).slice(), inputDtype: 'float32' };
}

/** Maps one Keras layer to a pipeprof LayerConfig; `softmax` is true when its activation is softmax (made linear here). */
function toLayerConfig(r: RawLayer, inputShape: number[], fail: (m: string) => never): { config: LayerConfig; softmax: boolean } {
  const c = r.config;
  const where = `layer "${r.name}" (${r.cls})`;
  const bad = (field: string, rule: string, fix: string): never => fail(`${where} field ${field} is ${show(c[field])}; ${rule}; ${fix}`);
  const act = (field: string): { activation: Activation; softmax: boolean } => {
    let v = c[field];
    // Keras 3 may write an activation as a serialized object; its name is in `config` or `class_name`.
    if (isObj(v)) v = typeof v.config === 'string' ? v.config : v.class_name;
    if (v === undefined || v === null) return { activation: 'linear', softmax: false };
    const name = typeof v === 'string' ? v.toLowerCase() : '';
    if (name === 'softmax') return { activation: 'linear', softmax: true };
    // pipeprof's gelu is the tanh approximation, which is tfjs-layers' `gelu_new`. Keras/tfjs `gelu` is the exact erf
    // form; it is run as the approximation (they differ by at most 4.7e-4).
    if (name === 'gelu_new') return { activation: 'gelu', softmax: false };
    if (!(ACTIVATIONS as readonly string[]).includes(name)) {
      fail(`${where} has activation ${show(c[field])}, which pipeprof's runtime does not implement; supported: ${ACTIVATIONS.join(', ')} (and softmax on the last layer); change the activation or ${USE_BUILTIN}`);
    }
    return { activation: name as Activation, softmax: false };
  };
  const pair = (field: string, dflt: [number, number] | undefined): [number, number] => {
    const v = c[field];
    if ((v === undefined || v === null) && dflt) return dflt;
    if (isPosInt(v)) return [v, v];
    if (Array.isArray(v) && v.length === 1 && isPosInt(v[0])) return [v[0], v[0]];
    if (Array.isArray(v) && v.length === 2 && isPosInt(v[0]) && isPosInt(v[1])) return [v[0], v[1]];
    return bad(field, 'expected a positive integer or [height, width]', 're-save the model');
  };
  const padding = (): 'same' | 'valid' => {
    const v = c.padding ?? 'valid';
    if (v !== 'same' && v !== 'valid') bad('padding', 'pipeprof supports padding "same" and "valid"', 'use one of them');
    return v as 'same' | 'valid';
  };
  const channelsLast = () => {
    const v = c.data_format;
    if (v !== undefined && v !== null && v !== 'channels_last') bad('data_format', 'pipeprof supports channels_last (NHWC) only', 'build the model with data_format "channels_last"');
  };
  const useBias = (): boolean => {
    const v = c.use_bias ?? true;
    if (typeof v !== 'boolean') bad('use_bias', 'expected true or false', 're-save the model');
    return v as boolean;
  };

  switch (ALIASES[r.cls] ?? r.cls) {
    case 'Dense': {
      if (!isPosInt(c.units)) bad('units', 'expected a positive integer', 're-save the model');
      const a = act('activation');
      return { config: { kind: 'dense', units: c.units as number, activation: a.activation, useBias: useBias() }, softmax: a.softmax };
    }
    case 'Conv2D': {
      if (!isPosInt(c.filters)) bad('filters', 'expected a positive integer', 're-save the model');
      channelsLast();
      const dilation = pair('dilation_rate', [1, 1]);
      if (dilation[0] !== 1 || dilation[1] !== 1) bad('dilation_rate', 'pipeprof supports dilation 1 only', 'use dilation_rate 1');
      if (c.groups !== undefined && c.groups !== null && c.groups !== 1) bad('groups', 'pipeprof supports groups 1 only', 'use groups 1');
      const kernelSize = pair('kernel_size', undefined);
      const strides = pair('strides', [1, 1]);
      const a = act('activation');
      return { config: { kind: 'conv2d', filters: c.filters as number, kernelSize, strides, padding: padding(), activation: a.activation, useBias: useBias() }, softmax: a.softmax };
    }
    case 'MaxPooling2D': {
      channelsLast();
      const poolSize = pair('pool_size', [2, 2]);
      const strides = pair('strides', poolSize);
      return { config: { kind: 'maxpool2d', poolSize, strides, padding: padding() }, softmax: false };
    }
    case 'Flatten':
      // The order of a flattened NHWC tensor is what pipeprof's flatten produces; channels_first would permute it.
      if (inputShape.length > 1) channelsLast();
      return { config: { kind: 'flatten' }, softmax: false };
    case 'Activation': {
      const a = act('activation');
      return { config: { kind: 'activation', activation: a.activation }, softmax: a.softmax };
    }
    case 'LayerNormalization': {
      // axis counts the batch dimension: for a per-sample shape of rank k the last axis is k (or -1).
      const last = inputShape.length;
      const axis = Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : c.axis ?? -1;
      if (axis !== -1 && axis !== last) bad('axis', `pipeprof's layernorm normalizes only the last axis (-1, here ${last})`, 'set axis=-1');
      for (const f of ['center', 'scale'] as const) {
        if (c[f] !== undefined && c[f] !== true) bad(f, "pipeprof's layernorm always has both gamma (scale) and beta (center)", `set ${f}=true`);
      }
      if (c.rms_scaling === true) bad('rms_scaling', "pipeprof's layernorm subtracts the mean (no RMS-only scaling)", 'set rms_scaling=false');
      const eps = c.epsilon ?? 1e-3;
      if (typeof eps !== 'number' || !(eps > 0)) bad('epsilon', 'expected a positive number', 're-save the model');
      return { config: { kind: 'layernorm', epsilon: eps as number }, softmax: false };
    }
  }
  return fail(`layer "${r.name}" has class ${r.cls}, which pipeprof cannot split or train; supported: ${SUPPORTED}. Replace it or ${USE_BUILTIN}`);
}

/** Reads `weightsManifest` and maps each entry's name (`dense_1/kernel`, `sequential/dense_1/kernel:0`) to a layer and weight. */
function readManifest(root: Obj, spec: ModelSpec, fail: (m: string) => never): WeightGroup[] {
  const manifest = root.weightsManifest;
  if (manifest === undefined) return [];
  if (!Array.isArray(manifest)) return fail(`weightsManifest is ${show(manifest)}, not an array of { paths, weights } groups; ${REEXPORT}`);
  const byName = new Map(spec.layers.map((l) => [l.name, l]));
  const layerList = spec.layers.map((l) => l.name).join(', ');
  return manifest.map((g, gi): WeightGroup => {
    if (!isObj(g) || !Array.isArray(g.paths) || !g.paths.every((p) => typeof p === 'string') || !Array.isArray(g.weights)) {
      return fail(`weightsManifest group ${gi} is not { paths: string[], weights: [...] }; ${REEXPORT}`);
    }
    const weights = g.weights.map((e, ei): ManifestWeight => {
      if (!isObj(e) || typeof e.name !== 'string' || !Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && (d as number) >= 0) || typeof e.dtype !== 'string') {
        return fail(`weightsManifest group ${gi} entry ${ei} is not { name, shape, dtype } (found ${show(e)}); ${REEXPORT}`);
      }
      const entry: ManifestWeight = { name: e.name, shape: e.shape as number[], dtype: e.dtype, layer: '', weight: '' };
      if (e.quantization !== undefined) entry.quantization = e.quantization as Quantization;
      entryBytes(entry, fail);
      // Optimizer state (tfjs-layers includeOptimizer) is not a model weight: its bytes are skipped.
      if (e.group === 'optimizer') return entry;
      const parts = e.name.replace(/:\d+$/, '').split('/');
      const weight = parts[parts.length - 1];
      let layer: LayerSpec | undefined;
      for (let i = parts.length - 2; i >= 0 && !layer; i--) layer = byName.get(parts[i]);
      if (!layer) {
        return fail(`weightsManifest entry "${e.name}" names no layer of this model (layers: ${layerList}); the weights belong to another model; ${REEXPORT}`);
      }
      const ws = layer.weights.find((w) => w.name === weight);
      if (!ws) {
        const has = layer.weights.length ? `has weights ${layer.weights.map((w) => w.name).join(', ')}` : 'has no weights';
        return fail(`weightsManifest entry "${e.name}" is weight "${weight}" of layer "${layer.name}" (${layer.config.kind}), which ${has}; ${REEXPORT}`);
      }
      if (ws.shape.length !== entry.shape.length || ws.shape.some((d, i) => d !== entry.shape[i])) {
        return fail(`weightsManifest entry "${e.name}" has shape [${entry.shape.join(',')}] but layer "${layer.name}" (${layer.config.kind}, input [${layer.inputShape.join(',')}]) needs [${ws.shape.join(',')}] for ${weight}; the weights do not match the topology; ${REEXPORT}`);
      }
      entry.layer = layer.name;
      entry.weight = weight;
      checkDtype(entry, fail);
      return entry;
    });
    return { paths: (g.paths as string[]).slice(), weights };
  });
}

/** Every weight of every layer appears exactly once in the manifest. */
function checkCoverage(spec: ModelSpec, groups: WeightGroup[], file: string): void {
  const found = new Map<string, string>();
  for (const g of groups) {
    for (const w of g.weights) {
      if (w.layer === '') continue;
      const key = `${w.layer}/${w.weight}`;
      const prev = found.get(key);
      if (prev !== undefined) throw new Error(`${file}: weightsManifest entries "${prev}" and "${w.name}" both hold weight "${w.weight}" of layer "${w.layer}"; each weight must appear once; ${REEXPORT}`);
      found.set(key, w.name);
    }
  }
  for (const l of spec.layers) {
    for (const w of l.weights) {
      if (!found.has(`${l.name}/${w.name}`)) {
        throw new Error(`${file}: layer "${l.name}" weight "${w.name}" (shape [${w.shape.join(',')}]) is missing from weightsManifest; every weight must be listed; ${REEXPORT}, or remove weightsManifest to start from seeded weights`);
      }
    }
  }
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

/** Bytes an entry occupies in its group's shards. */
function entryBytes(w: ManifestWeight, fail: (m: string) => never): number {
  const q = w.quantization;
  if (q !== undefined) {
    if (!isObj(q) || (q.dtype !== 'uint8' && q.dtype !== 'uint16' && q.dtype !== 'float16')) {
      return fail(`weightsManifest entry "${w.name}" has quantization ${show(q)}; pipeprof dequantizes uint8, uint16 and float16 only; convert with --quantize_uint8, --quantize_uint16, --quantize_float16 or without quantization`);
    }
    if (q.dtype !== 'float16' && (typeof q.scale !== 'number' || typeof q.min !== 'number')) {
      return fail(`weightsManifest entry "${w.name}" is quantized to ${q.dtype} without numeric scale and min (${show(q)}); re-convert the model`);
    }
    return shapeSize(w.shape) * DTYPE_BYTES[q.dtype];
  }
  const b = DTYPE_BYTES[w.dtype];
  if (b === undefined) return fail(`weightsManifest entry "${w.name}" has dtype ${w.dtype}, whose size in the weight file is unknown; pipeprof loads float32 weights; re-save the model with float32 weights`);
  return shapeSize(w.shape) * b;
}

function checkDtype(w: ManifestWeight, fail: (m: string) => never): void {
  if (w.dtype !== 'float32') {
    fail(`weightsManifest entry "${w.name}" (layer "${w.layer}") has dtype ${w.dtype}; pipeprof trains float32 weights only; re-save the model with float32 weights`);
  }
}

/** Float32 values of one entry from exactly its bytes (copied, so alignment does not matter). */
function decode(bytes: ArrayBuffer, w: ManifestWeight): Float32Array {
  const q = w.quantization;
  if (!q) return new Float32Array(bytes);
  const n = shapeSize(w.shape);
  const out = new Float32Array(n);
  if (q.dtype === 'float16') {
    const h = new Uint16Array(bytes);
    for (let i = 0; i < n; i++) out[i] = halfToFloat(h[i]);
  } else {
    const v = q.dtype === 'uint8' ? new Uint8Array(bytes) : new Uint16Array(bytes);
    const scale = q.scale as number;
    const min = q.min as number;
    for (let i = 0; i < n; i++) out[i] = v[i] * scale + min;
  }
  return out;
}

/** IEEE 754 half → float. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
