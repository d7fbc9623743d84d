// Per-layer costs recovered from a run (time per micro-batch, bytes) and the FLOP/s each stage achieved.
import type { LayerCost, Timeline } from '../trace/timeline';
import { OP_KINDS } from '../trace/timeline';
import { measuredSteps, replicasPerStage, stepSlots } from './utilization';

export interface LayerCostRow {
  layer: string;
  kind: string;
  stage: number;
  /** Forward, backward (input- and weight-gradient) and recompute time of one micro-batch, ms. */
  fMs: number;
  bMs: number;
  /** Measured R time when the run recomputed, else the forward time (a recompute is a forward). */
  rMs: number;
  /** `probe`: interpolated from the trace's per-layer cost probe; `split`: the stage's op times split by FLOPs share. */
  source: 'probe' | 'split';
  params: number;
  paramBytes: number;
  flopsPerSample: number;
  activationBytesPerSample: number;
  activationBytesPerMicrobatch: number | null;
}

export interface StageThroughput {
  stage: number;
  /** Forward FLOPs of one sample through the stage's layers. */
  flopsPerSample: number;
  /** FLOPs done per measured step: (F + R) × 1 + B × 2 (× 1 each for split B and W), per micro-batch sample. */
  flopsPerStep: number | null;
  /** F + B + W + R time per measured step, ms (the optimizer update is not counted). */
  computeMs: number;
  achievedFlops: number | null;
  /** achievedFlops / host.peakFlops, when the host's peak was measured. */
  peakShare: number | null;
}

export interface Costs {
  microbatchSize: number | null;
  layers: LayerCostRow[];
  stages: StageThroughput[];
}

/** A probe's time at `size` samples: linear between the nearest points, proportional beyond a single point. */
export function probeAt(points: LayerCost['points'], size: number, field: 'forwardMs' | 'backwardMs'): number {
  const p = points.filter((q) => Number.isFinite(q[field]) && q.size > 0).sort((a, b) => a.size - b.size);
  if (!p.length) return NaN;
  if (p.length === 1) return (p[0][field] * size) / p[0].size;
  let i = 0;
  while (i < p.length - 2 && p[i + 1].size < size) i++;
  const a = p[i];
  const b = p[i + 1];
  return Math.max(0, a[field] + ((b[field] - a[field]) * (size - a.size)) / (b.size - a.size));
}

const KIND = { F: OP_KINDS.indexOf('F'), B: OP_KINDS.indexOf('B'), W: OP_KINDS.indexOf('W'), R: OP_KINDS.indexOf('R') };

export function costs(t: Timeline): Costs {
  const steps = measuredSteps(t);
  const slot = stepSlots(steps);
  const S = t.stages;
  // Per stage: total time and count of F, B, W, R ops over the measured steps.
  const time = new Float64Array(S * 4);
  const count = new Float64Array(S * 4);
  const col = [KIND.F, KIND.B, KIND.W, KIND.R];
  const o = t.ops;
  for (let i = 0; i < o.length; i++) {
    const c = col.indexOf(o.kind[i]);
    const st = o.step[i];
    if (c < 0 || st < 0 || st >= slot.length || slot[st] < 0) continue;
    time[o.stage[i] * 4 + c] += o.dur[i];
    count[o.stage[i] * 4 + c]++;
  }
  const perOp = (s: number, c: number) => (count[s * 4 + c] ? time[s * 4 + c] / count[s * 4 + c] / 1000 : 0);
  const mb = t.plan && t.batch ? t.batch / t.plan.microbatches : null;
  const balance = t.plan?.balance ?? [];
  const probes = new Map(t.layerCosts.map((c) => [c.layer, c]));
  const replicas = replicasPerStage(t);

  const layers: LayerCostRow[] = [];
  const stages: StageThroughput[] = [];
  let first = 0;
  for (let s = 0; s < S; s++) {
    const n = balance[s] ?? 0;
    const own = t.layers.slice(first, first + n);
    first += n;
    const flopsPerSample = own.reduce((a, l) => a + l.flops, 0);
    const f = perOp(s, 0);
    const b = perOp(s, 1) + perOp(s, 2);
    const r = count[s * 4 + 3] ? perOp(s, 3) : f;
    for (const l of own) {
      const share = flopsPerSample > 0 ? l.flops / flopsPerSample : 1 / own.length;
      const probe = probes.get(l.name);
      const fromProbe = probe && mb !== null ? { f: probeAt(probe.points, mb, 'forwardMs'), b: probeAt(probe.points, mb, 'backwardMs') } : null;
      const useProbe = fromProbe !== null && Number.isFinite(fromProbe.f) && Number.isFinite(fromProbe.b);
      const fMs = useProbe ? fromProbe.f : f * share;
      layers.push({
        layer: l.name, kind: l.kind, stage: s, fMs, bMs: useProbe ? fromProbe.b : b * share,
        rMs: useProbe && !count[s * 4 + 3] ? fMs : r * share, source: useProbe ? 'probe' : 'split',
        params: l.params, paramBytes: probe?.paramBytes ?? l.params * 4, flopsPerSample: l.flops,
        activationBytesPerSample: l.activationBytes, activationBytesPerMicrobatch: mb !== null ? l.activationBytes * mb : null,
      });
    }
    const k = steps.length * replicas[s];
    const computeMs = (time[s * 4] + time[s * 4 + 1] + time[s * 4 + 2] + time[s * 4 + 3]) / 1000 / k;
    // A split backward (B then W) does the two halves of the usual 2× backward.
    const backwardUnits = count[s * 4 + 2] ? 1 : 2;
    const opsPerStep = (count[s * 4] + count[s * 4 + 3] + backwardUnits * count[s * 4 + 1] + count[s * 4 + 2]) / k;
    const flopsPerStep = mb !== null && own.length ? opsPerStep * mb * flopsPerSample : null;
    const achievedFlops = flopsPerStep !== null && computeMs > 0 ? flopsPerStep / (computeMs / 1000) : null;
    const peak = t.host?.peakFlops;
    stages.push({ stage: s, flopsPerSample, flopsPerStep, computeMs, achievedFlops, peakShare: achievedFlops !== null && peak ? achievedFlops / peak : null });
  }
  return { microbatchSize: mb, layers, stages };
}
