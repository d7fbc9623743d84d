// Reads a tfjs Layers model.json and its weight shard files from disk into a ModelSpec.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ModelSpec } from '../model/types';
import { attachWeights, parseLayersModel } from '../model/tfjs-json';

/**
 * The model in `path`, with `initialWeights` from its weightsManifest shards (paths relative to the model.json's folder).
 * Without a weightsManifest the spec has no initialWeights, so weights come from the seed.
 */
export async function loadModelJson(path: string): Promise<ModelSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${path}: model file not found; pass the path of a tfjs Layers model.json` : `${path}: cannot read the model file (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: is not valid JSON (${(e as Error).message}); pass the model.json written by tfjs-layers model.save or by tensorflowjs_converter`);
  }
  const { spec, weightGroups } = parseLayersModel(json, path);
  if ((json as { weightsManifest?: unknown }).weightsManifest === undefined) return spec;
  const dir = dirname(path);
  const buffers: ArrayBuffer[] = [];
  for (const group of weightGroups) {
    const parts: Buffer[] = [];
    for (const p of group.paths) {
      const shard = resolve(dir, p);
      try {
        parts.push(await readFile(shard));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new Error(code === 'ENOENT'
          ? `${path}: weight file "${p}" listed in weightsManifest is missing (looked for ${shard}); keep the .bin files next to model.json as exported, or remove weightsManifest to start from seeded weights`
          : `${path}: cannot read weight file "${p}" (${(e as Error).message})`);
      }
    }
    const all = Buffer.concat(parts);
    buffers.push(all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer);
  }
  return attachWeights(spec, weightGroups, buffers);
}
