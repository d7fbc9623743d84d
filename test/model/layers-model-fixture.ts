// Real tfjs-layers artifacts for tests: save a model through tfjs-layers and write model.json + shards as tfjs-node does.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

export interface Saved {
  modelTopology: Json;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
}

/** The artifacts tfjs-layers produces when saving `model`. */
export async function save(model: tfl.LayersModel): Promise<Saved> {
  let out: Saved | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    out = {
      modelTopology: a.modelTopology as Json,
      weightSpecs: a.weightSpecs ?? [],
      weightData: tf.io.CompositeArrayBuffer.join(a.weightData),
    };
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return out!;
}

/** Writes model.json and its shard files into `dir` the way tfjs-node's file:// saver does; returns the model.json path. */
export function writeModelFiles(dir: string, saved: Saved, o: { shards?: number; json?: (j: Json) => void } = {}): string {
  mkdirSync(dir, { recursive: true });
  const shards = o.shards ?? 1;
  const bytes = new Uint8Array(saved.weightData);
  const size = Math.ceil(bytes.length / shards);
  const paths: string[] = [];
  for (let i = 0; i < shards; i++) {
    const p = `group1-shard${i + 1}of${shards}.bin`;
    writeFileSync(join(dir, p), bytes.subarray(i * size, (i + 1) * size));
    paths.push(p);
  }
  const json: Json = {
    modelTopology: saved.modelTopology,
    format: 'layers-model',
    generatedBy: 'TensorFlow.js tfjs-layers v4.22.0',
    convertedBy: null,
    weightsManifest: [{ paths, weights: saved.weightSpecs }],
  };
  o.json?.(json);
  const file = join(dir, 'model.json');
  writeFileSync(file, JSON.stringify(json));
  return file;
}
