// One GPU shared by the stage workers (webgpu): how much of the measured time each worker's GPU work was in flight, alone or with others.
import type { Timeline } from '../trace/timeline';
import { COMPUTE_KINDS, opCode } from '../trace/timeline';
import { Union } from './intervals';
import { measuredSteps } from './utilization';

export interface GpuShare {
  adapter: string;
  /** Workers (stages × replicas) on the GPU, each with its own Dawn device. */
  devices: number;
  /**
   * Per worker: `inFlight`, the fraction of the measured steps' time its GPU work was in flight (a compute op from
   * its start to the GPU finishing it); `share`, its part of all workers' in-flight time (the shares sum to 1).
   */
  workers: { stage: number; replica: number; inFlight: number; share: number }[];
  /** Fractions of the measured time with GPU work of at least one worker in flight, and of two or more at once. */
  busy: number;
  concurrent: number;
}

/** Null unless the run's stage workers shared one GPU (a trace with host.gpu). */
export function gpuShare(t: Timeline): GpuShare | null {
  const gpu = t.host?.gpu;
  if (!gpu || !t.steps.length) return null;
  const steps = measuredSteps(t);
  const compute = new Set(COMPUTE_KINDS.map(opCode));
  const measured = new Set(steps.map((s) => s.step));
  const span = steps.reduce((n, s) => n + (s.endUs - s.startUs), 0);
  const { ops } = t;
  const rows = new Map<number, { stage: number; replica: number; spans: [number, number][] }>();
  for (let i = 0; i < ops.length; i++) {
    if (!compute.has(ops.kind[i]) || !measured.has(ops.step[i])) continue;
    const key = ops.stage[i] + Math.max(0, ops.replica[i]) * t.stages;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { stage: ops.stage[i], replica: Math.max(0, ops.replica[i]), spans: [] }));
    row.spans.push([ops.start[i], ops.start[i] + ops.dur[i]]);
  }
  const merged = [...rows.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => {
    const u = new Union();
    for (const [a, b] of r.spans.sort((x, y) => x[0] - y[0])) u.add(a, b);
    return { ...r, u };
  });
  // Sweep over every worker's merged intervals: time with ≥ 1 and ≥ 2 of them in flight.
  const edges = merged.flatMap(({ u }) => u.s.flatMap((s, j) => [[s, 1], [u.e[j], -1]] as [number, number][])).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let depth = 0;
  let busy = 0;
  let concurrent = 0;
  for (let i = 0; i < edges.length; i++) {
    depth += edges[i][1];
    const dt = i + 1 < edges.length ? edges[i + 1][0] - edges[i][0] : 0;
    if (depth >= 1) busy += dt;
    if (depth >= 2) concurrent += dt;
  }
  const total = merged.reduce((n, r) => n + r.u.length(), 0);
  const frac = (x: number) => (span > 0 ? x / span : 0);
  return {
    adapter: gpu.adapter,
    devices: gpu.devices,
    workers: merged.map((r) => ({ stage: r.stage, replica: r.replica, inFlight: frac(r.u.length()), share: total > 0 ? r.u.length() / total : 0 })),
    busy: frac(busy),
    concurrent: frac(concurrent),
  };
}
