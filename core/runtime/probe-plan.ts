// Which worker times which layers in the cost probe: layers of one shape are timed once, by one worker, and the rest copy.
import type { LayerSpec } from '../model/types';
import type { LayerCost } from '../trace/timeline';

/** Layers with one key cost the same: same config, shapes, dtype and weights, and whether dx is computed (not for the model's first layer). */
export function probeShapeKey(spec: LayerSpec, modelFirst: boolean): string {
  return JSON.stringify([spec.config, spec.inputShape, spec.outputShape, spec.inputDtype, spec.weights.map((w) => w.shape), !modelFirst]);
}

/**
 * For each worker, the layers it leaves to another worker holding one of the same shape: each shape is timed by one
 * worker, the heaviest shapes first onto the worker with the least forward FLOPs to time so far; the model's last
 * layer's shape by the last layer's worker (it also times the loss). `workerOf[i]`: the worker holding layer i.
 */
export function probeSkips(layers: readonly LayerSpec[], workerOf: readonly number[], workers: number): string[][] {
  const groups = new Map<string, number[]>();
  layers.forEach((l, i) => {
    const k = probeShapeKey(l, i === 0);
    groups.set(k, [...(groups.get(k) ?? []), i]);
  });
  const load = new Array<number>(workers).fill(0);
  const owner = new Map<string, number>();
  const last = layers.length - 1;
  const order = [...groups.entries()].sort(([, a], [, b]) => Number(b.includes(last)) - Number(a.includes(last)) || layers[b[0]].flops - layers[a[0]].flops);
  for (const [k, members] of order) {
    const holders = [...new Set(members.map((i) => workerOf[i]))];
    const w = members.includes(last) ? workerOf[last] : holders.reduce((a, b) => (load[b] < load[a] ? b : a));
    owner.set(k, w);
    load[w] += layers[members[0]].flops;
  }
  const skips = Array.from({ length: workers }, () => [] as string[]);
  layers.forEach((l, i) => {
    if (owner.get(probeShapeKey(l, i === 0)) !== workerOf[i]) skips[workerOf[i]].push(l.name);
  });
  return skips;
}

/** Every layer's probe costs in model order: a layer another worker timed for it copies its twin's points (the loss stays with the last layer). */
export function fillTwins(layers: readonly LayerSpec[], workerOf: readonly number[], timed: readonly LayerCost[]): LayerCost[] {
  const byName = new Map(timed.map((c) => [c.layer, c]));
  const byKey = new Map<string, LayerCost>();
  layers.forEach((l, i) => {
    const c = byName.get(l.name);
    if (c) byKey.set(probeShapeKey(l, i === 0), c);
  });
  return layers.flatMap((l, i) => {
    const own = byName.get(l.name);
    if (own) return [own];
    const twin = byKey.get(probeShapeKey(l, i === 0));
    return twin ? [{ ...twin, layer: l.name, stage: workerOf[i], points: twin.points.map(({ lossMs: _, ...p }) => p) }] : [];
  });
}
