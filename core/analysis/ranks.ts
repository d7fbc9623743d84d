// Per-rank GPU time of a PyTorch (Kineto) run as Holistic Trace Analysis defines it, and the data-parallel straggler.
import type { OpTable, RankInfo, Timeline } from '../trace/timeline';
import { OP } from '../trace/timeline';
import { Union, intersection } from './intervals';

/**
 * HTA's temporal breakdown and comm/compute overlap of one rank, checked against HTA's source
 * (hta/analyzers/breakdown_analysis.py get_temporal_breakdown, hta/analyzers/communication_analysis.py
 * get_comm_comp_overlap, hta/utils/utils.py get_kernel_type and merge_kernel_intervals):
 * - Kernels are every GPU activity with a stream: compute kernels, NCCL kernels, memcpy and memset. HTA merges them
 *   across all the rank's streams (one merged view, not per stream).
 * - span = last end − first start of those kernels; idle = span − |union of all kernels|;
 *   compute = |union of compute kernels|; non-compute = span − compute − idle = |union(all)| − |union(compute)|,
 *   so communication and memory kernels count as non-compute where no compute kernel runs. Fractions are of the span.
 * - comm/compute overlap = |union(NCCL kernels) ∩ union(compute kernels)| / |union(NCCL kernels)|; memcpy and memset
 *   are in neither set.
 * - NCCL kernels: a name matching /^nccl\w*Kernel/ (ncclKernel_* and ncclDevKernel_*, as HTA's current
 *   `^nccl.*Kernel`; HTA's older `"ncclKernel" in name` missed NCCL ≥ 2.19's ncclDevKernel_*).
 * - Window: HTA by default drops the kernels launched in the last profiler step (include_last_profiler_step=False:
 *   it keeps kernels whose launching CPU op started before the last ProfilerStep#N), and keeps every kernel when the
 *   trace has fewer than two steps. So does this: a kernel's `step` is the step that launched it (see kineto.ts), and
 *   a rank with two or more steps counts the kernels of every step but its last, plus those launched before its first.
 *   One difference: a kernel launched between two steps (in no ProfilerStep window) that starts after the last step
 *   began is left out here and kept by HTA, as the Timeline keeps a kernel's launching step, not its launch time.
 * - Not counted: Kineto's cuda_sync events (Stream Sync, Event Sync). Current HTA gives them a stream, so they enter
 *   its span and union as kernel type OTHER (non-compute); they are host waits drawn on the GPU timeline, not GPU work,
 *   and the importer does not keep them (on alexnet-1gpu they would add 0.2 ms of busy time and 76 ms of span).
 */
export interface RankBreakdown {
  rank: number;
  idleFraction: number;
  computeFraction: number;
  nonComputeFraction: number;
  /** Share of NCCL kernel time during which a compute kernel ran too; null when the rank ran no NCCL kernel. */
  commCompOverlap: number | null;
  /** First kernel start to last kernel end, µs. */
  spanUs: number;
  computeUs: number;
  nonComputeUs: number;
  /** |union of NCCL kernels|, µs. */
  commUs: number;
  idleUs: number;
  /** Kernels counted (memcpy and memset included). */
  kernels: number;
  /** The steps whose kernels were counted (empty: the rank has no ProfilerStep, and every kernel counts). */
  steps: number[];
}

/** The steps of a rank whose kernels HTA counts: all but the last when there are two or more. */
function countedSteps(r: RankInfo): { steps: number[]; last: number | null } {
  if (r.steps.length < 2) return { steps: r.steps.slice(), last: null };
  const last = Math.max(...r.steps);
  return { steps: r.steps.filter((s) => s !== last), last };
}

/** HTA's temporal breakdown and comm/compute overlap for each rank of a Kineto timeline (empty for other timelines). */
export function rankBreakdown(t: Timeline): RankBreakdown[] {
  const k: OpTable | undefined = t.kernels;
  if (!k || !t.ranks?.length) return [];
  const rowOf = new Map<string, number>();
  t.ranks.forEach((r, i) => rowOf.set(`${r.stage}:${r.replica}`, i));
  const n = t.ranks.length;
  const all = Array.from({ length: n }, () => new Union());
  const comp = Array.from({ length: n }, () => new Union());
  const comm = Array.from({ length: n }, () => new Union());
  const first = new Float64Array(n).fill(Infinity);
  const lastEnd = new Float64Array(n).fill(-Infinity);
  const count = new Int32Array(n);
  const windows = t.ranks.map(countedSteps);
  const startOf = new Map(t.steps.map((s) => [s.step, s.startUs]));
  for (let i = 0; i < k.length; i++) {
    const r = rowOf.get(`${k.stage[i]}:${k.replica[i]}`);
    if (r === undefined) continue;
    const w = windows[r];
    if (w.last !== null) {
      const st = k.step[i];
      // Launched in the last step, or (no launching step known) started after it began.
      if (st === w.last || (st < 0 && k.start[i] >= (startOf.get(w.last) ?? Infinity))) continue;
    }
    const a = k.start[i];
    const b = a + k.dur[i];
    count[r]++;
    if (a < first[r]) first[r] = a;
    if (b > lastEnd[r]) lastEnd[r] = b;
    all[r].add(a, b);
    if (k.kind[i] === OP.KERNEL) comp[r].add(a, b);
    else if (k.kind[i] === OP.COMM) comm[r].add(a, b);
  }
  return t.ranks.map((info, r) => {
    const spanUs = count[r] ? lastEnd[r] - first[r] : 0;
    const busyUs = all[r].length();
    const computeUs = comp[r].length();
    const commUs = comm[r].length();
    const idleUs = Math.max(0, spanUs - busyUs);
    const nonComputeUs = Math.max(0, busyUs - computeUs);
    const frac = (x: number) => (spanUs > 0 ? x / spanUs : 0);
    return {
      rank: info.rank, idleFraction: frac(idleUs), computeFraction: frac(computeUs), nonComputeFraction: frac(nonComputeUs),
      commCompOverlap: commUs > 0 ? intersection(comm[r], comp[r]) / commUs : null,
      spanUs, computeUs, nonComputeUs, commUs, idleUs, kernels: count[r], steps: windows[r].steps,
    };
  });
}

export interface RankStraggler {
  rank: number;
  /** Compute (union of compute kernels) per counted step, µs, of the straggler and the mean over ranks. */
  computeUsPerStep: number;
  meanComputeUsPerStep: number;
  /** computeUsPerStep / mean − 1. */
  overMeanFraction: number;
  /** NCCL time per step of the straggler and the mean: the straggler, arriving last, waits least in its collectives. */
  commUsPerStep: number;
  meanCommUsPerStep: number;
}

/**
 * The data-parallel straggler: the rank with the most compute per step. In data-parallel training every rank waits in
 * each gradient collective until the last one arrives, so the rank that computes longest sets the step time and the
 * others show its surplus as NCCL time (HTA's get_potential_stragglers looks at the same thing from the other side:
 * the rank whose last long collective starts latest). Null with fewer than two ranks.
 */
export function rankStraggler(rows: readonly RankBreakdown[]): RankStraggler | null {
  if (rows.length < 2) return null;
  const per = (r: RankBreakdown, us: number) => us / Math.max(1, r.steps.length);
  let best = rows[0];
  for (const r of rows) if (per(r, r.computeUs) > per(best, best.computeUs)) best = r;
  const mean = (f: (r: RankBreakdown) => number) => rows.reduce((a, r) => a + f(r), 0) / rows.length;
  const meanCompute = mean((r) => per(r, r.computeUs));
  const computeUsPerStep = per(best, best.computeUs);
  return {
    rank: best.rank, computeUsPerStep, meanComputeUsPerStep: meanCompute,
    overMeanFraction: meanCompute > 0 ? computeUsPerStep / meanCompute - 1 : 0,
    commUsPerStep: per(best, best.commUs), meanCommUsPerStep: mean((r) => per(r, r.commUs)),
  };
}
