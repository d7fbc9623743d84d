// Hand-built timelines for the analysis tests: ops written as [stage, op, micro-batch, start, end] in milliseconds.
import type { OpKind } from '../../core/schedule/types';
import type { Plan } from '../../core/plan/types';
import type { StepRecord } from '../../core/trace/schema';
import type { LayerCost, Timeline } from '../../core/trace/timeline';
import { OpTableBuilder } from '../../core/trace/timeline';
import type { LayerSummary } from '../../core/model/types';

/** [stage, op, micro-batch (or null), start ms, end ms, peer?] — SEND/RECV go on lanes 1/2, ALLREDUCE on 3. */
export type Op = [number, OpKind, number | null, number, number, number?];

const laneOf = (k: OpKind) => (k === 'SEND' ? 1 : k === 'RECV' ? 2 : k === 'ALLREDUCE' ? 3 : 0);

export function timeline(parts: {
  stages: number;
  steps: { ops: Op[]; start: number; end: number; warmup?: boolean }[];
  plan?: Partial<Plan>;
  batch?: number | null;
  layers?: LayerSummary[];
  layerCosts?: LayerCost[];
  memory?: { stage: number; ts: number; bytes: number }[];
  peakFlops?: number;
}): Timeline {
  const b = new OpTableBuilder();
  const steps: StepRecord[] = parts.steps.map((s, t) => {
    for (const [stage, kind, mb, start, end, peer] of s.ops)
      b.push({ kind, stage, lane: laneOf(kind), microbatch: mb ?? undefined, step: t, peer, start: start * 1000, dur: (end - start) * 1000, bytes: peer !== undefined ? 1024 : 0 });
    return { step: t, startUs: s.start * 1000, endUs: s.end * 1000, loss: 1 / (t + 1), warmup: !!s.warmup };
  });
  const balance = parts.plan?.balance ?? Array.from({ length: parts.stages }, () => 1);
  return {
    source: 'measured', status: 'complete', stages: parts.stages,
    plan: { balance, microbatches: 1, schedule: '1f1b', recompute: 'never', replicas: 1, ...parts.plan },
    batch: parts.batch === undefined ? null : parts.batch,
    model: { name: 'hand-built', options: {}, loss: 'mse' },
    layers: parts.layers ?? [], layerCosts: parts.layerCosts ?? [], steps, ops: b.build(), memory: parts.memory ?? [],
    backend: 'cpu',
    host: parts.peakFlops ? { platform: 'linux', arch: 'x64', cpus: 2, cpuModel: 'test', memoryBytes: 1, node: 'v20', tfjs: '4', peakFlops: parts.peakFlops } : null,
  };
}

/**
 * 1F1B, 2 stages, 2 micro-batches, every F, B and OPT 1 ms; transfers instant, RECV spanning the wait.
 *
 *   ms        0   1   2   3   4   5   6   7
 *   stage 0   F0  F1  ··  B0  ··  B1  OPT
 *   stage 1   ··  F0  B0  F1  B1  OPT
 */
export const ONE_F_ONE_B: Op[] = [
  [0, 'F', 0, 0, 1], [0, 'SEND', 0, 1, 1, 1], [0, 'F', 1, 1, 2], [0, 'SEND', 1, 2, 2, 1],
  [0, 'RECV', 0, 2, 3, 1], [0, 'B', 0, 3, 4], [0, 'RECV', 1, 4, 5, 1], [0, 'B', 1, 5, 6], [0, 'OPT', null, 6, 7],
  [1, 'RECV', 0, 0, 1, 0], [1, 'F', 0, 1, 2], [1, 'B', 0, 2, 3], [1, 'SEND', 0, 3, 3, 0], [1, 'RECV', 1, 3, 3, 0],
  [1, 'F', 1, 3, 4], [1, 'B', 1, 4, 5], [1, 'SEND', 1, 5, 5, 0], [1, 'OPT', null, 5, 6],
];

/**
 * One micro-batch, stage 1 three times slower than stage 0 (no comm ops: the simulator may emit none).
 *
 *   ms        0   1   2   3   4   5   6   7   8
 *   stage 0   F0  ··  ··  ··  ··  ··  ··  B0
 *   stage 1   ··  F0  F0  F0  B0  B0  B0
 */
export const STRAGGLER: Op[] = [
  [0, 'F', 0, 0, 1], [1, 'F', 0, 1, 4], [1, 'B', 0, 4, 7], [0, 'B', 0, 7, 8],
];

/** The ops of `ops` stretched by `k` and shifted to `at` (for more steps). */
export function shift(ops: Op[], at: number, k = 1): Op[] {
  return ops.map(([s, op, m, a, b, p]) => [s, op, m, at + a * k, at + b * k, p] as Op);
}
