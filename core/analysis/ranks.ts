// Per-rank GPU time of a PyTorch (Kineto) run as Holistic Trace Analysis defines it, and the data-parallel straggler.
import type { OpTable, Timeline } from '../trace/timeline';
import { HTA_COMM, HTA_COMPUTE, HTA_NO_STREAM, HTA_UNCORRELATED, OP } from '../trace/timeline';
import { Union, intersection } from './intervals';

/**
 * HTA's temporal breakdown and comm/compute overlap of one rank, as HTA's source defines them
 * (hta/analyzers/breakdown_analysis.py get_temporal_breakdown and _get_idle_time_for_kernels, hta/utils/utils.py
 * get_kernel_type and merge_kernel_intervals, hta/common/trace.py _filter_irrelevant_gpu_kernels,
 * hta/common/trace_parser.py round_down_time_stamps, hta/common/types.py's kernel name patterns):
 * - GPU events: kernels, memcpy, memset and cuda_sync waits with a stream (kind SYNC here), merged across all the
 *   rank's streams and devices; an event without a stream is left out (HTA's stream column is then -1).
 * - Kernel types by name, not by category (get_kernel_type): communication = a name starting nccl, hip or hccl, or
 *   holding ncclKernel (so `void ncclKernel_…` too); computation = every name outside HTA's list of non-compute names
 *   (NCCL, Memcpy, Memset, dma or Sync anywhere, Stream Wait Event, cuda…LaunchKernel, other runtimes' prefixes), so a
 *   kernel called `…SyncBatchNorm…` is not computation; memory and the rest are neither (core/trace/kineto.ts
 *   htaKernelType; a pipeprof trace written before that column falls back to the kinds: KERNEL compute, COMM NCCL).
 * - Whole µs: HTA rounds every event inward (ts = ceil(ts), end = floor(ts + dur)) when pandas reads the file's ts
 *   column as floats: a ts with a fraction (Kineto's ns floats) or an event without ts (a metadata event suffices). An
 *   event shorter than that gets a zero or negative length, and HTA keeps it. So does this, from each rank's own clock
 *   (RankInfo.clockOffsetUs).
 * - Last-step filter: when the trace (all ranks together) has two or more ProfilerStep#N names, HTA keeps only the GPU
 *   events correlated with a CPU event that starts before the rank's last ProfilerStep#N starts: a kernel whose launch
 *   is not in the trace is dropped, and a rank without a ProfilerStep keeps nothing. An event without a correlation id
 *   is one of HTA's CPU events there, kept when it itself starts before that step. Times compared as rounded. With
 *   fewer steps, every event counts.
 * - Merge: events sorted by start; one starts a new interval when it starts after every earlier end; an interval runs
 *   from its first start to its latest end. span = the last interval's end − the first's start; busy = Σ intervals;
 *   idle = span − busy; compute = the same over compute kernels (not NCCL, memory or sync); non-compute = span −
 *   compute − idle. Fractions are of the span.
 * - comm/compute overlap = |union(communication kernels) ∩ union(compute kernels)| / |union(communication kernels)|.
 */
export interface RankBreakdown {
  rank: number;
  idleFraction: number;
  computeFraction: number;
  nonComputeFraction: number;
  /** Share of NCCL kernel time during which a compute kernel ran too; null when the rank ran no NCCL kernel. */
  commCompOverlap: number | null;
  /** First GPU event start to the last merged interval's end, µs. */
  spanUs: number;
  computeUs: number;
  nonComputeUs: number;
  /** |union of NCCL kernels|, µs. */
  commUs: number;
  idleUs: number;
  /** GPU events counted (memcpy, memset and sync included). */
  kernels: number;
  /** The steps whose kernels were counted (empty: no ProfilerStep filter, every event counts). */
  steps: number[];
}

/** HTA's merge of [start, end] intervals (sorted here): a new interval when a start passes every earlier end. */
export function htaMerge(iv: [number, number][]): { s: number[]; e: number[] } {
  iv.sort((x, y) => x[0] - y[0]);
  const s: number[] = [];
  const e: number[] = [];
  let maxEnd = -Infinity;
  for (let i = 0; i < iv.length; i++) {
    const [a, b] = iv[i];
    if (i === 0 || a > maxEnd) {
      s.push(a);
      e.push(b);
    } else if (b > e[e.length - 1]) e[e.length - 1] = b;
    if (b > maxEnd) maxEnd = b;
  }
  return { s, e };
}
const total = (m: { s: number[]; e: number[] }) => m.s.reduce((a, x, i) => a + m.e[i] - x, 0);

/** HTA's temporal breakdown and comm/compute overlap for each rank of a Kineto timeline (empty for other timelines, and for CPU-only traces: HTA defines it on GPU time). */
export function rankBreakdown(t: Timeline): RankBreakdown[] {
  const k: OpTable | undefined = t.kernels;
  if (!k || !t.ranks?.length || t.ranks.some((r) => r.timedOn === 'cpu')) return [];
  const rowOf = new Map<string, number>();
  t.ranks.forEach((r, i) => rowOf.set(`${r.stage}:${r.replica}`, i));
  const n = t.ranks.length;
  const filter = new Set(t.ranks.flatMap((r) => r.steps)).size >= 2;
  const all: [number, number][][] = Array.from({ length: n }, () => []);
  const comp: [number, number][][] = Array.from({ length: n }, () => []);
  const comm: [number, number][][] = Array.from({ length: n }, () => []);
  const ns = (x: number) => Math.round(x * 1000) / 1000;
  const counted = new Array<number>(n).fill(0);
  for (let i = 0; i < k.length; i++) {
    const r = rowOf.get(`${k.stage[i]}:${k.replica[i]}`);
    if (r === undefined) continue;
    const info = t.ranks[r];
    const hta = k.hta ? k.hta[i] : k.kind[i] === OP.KERNEL ? HTA_COMPUTE : k.kind[i] === OP.COMM ? HTA_COMM : -1;
    if (hta >= 0 && hta & HTA_NO_STREAM) continue;
    // Back to the file's clock, where HTA rounds start times up.
    const up = (x: number) => (info.fractionalTs ? Math.ceil(ns(x - info.clockOffsetUs)) : x);
    if (filter) {
      const when = hta >= 0 && hta & HTA_UNCORRELATED ? k.start[i] : k.launch ? k.launch[i] : NaN;
      if (!(up(when) < up(info.lastStepStartUs ?? NaN))) continue;
    }
    let a = k.start[i];
    let b = a + k.dur[i];
    if (info.fractionalTs) {
      a = up(a);
      b = Math.floor(ns(k.start[i] + k.dur[i] - info.clockOffsetUs));
    }
    all[r].push([a, b]);
    counted[r]++;
    const type = hta & 3;
    if (hta >= 0 && type === HTA_COMPUTE) comp[r].push([a, b]);
    else if (hta >= 0 && type === HTA_COMM) comm[r].push([a, b]);
  }
  return t.ranks.map((info, r) => {
    const merged = htaMerge(all[r]);
    const spanUs = merged.s.length ? merged.e[merged.e.length - 1] - merged.s[0] : 0;
    const busyUs = total(merged);
    const cm = htaMerge(comp[r]);
    const computeUs = total(cm);
    const idleUs = spanUs - busyUs;
    const nonComputeUs = spanUs - computeUs - idleUs;
    const frac = (x: number) => (spanUs > 0 ? x / spanUs : 0);
    const cu = new Union();
    const ku = new Union();
    for (const [a, b] of comm[r].sort((x, y) => x[0] - y[0])) if (b > a) cu.add(a, b);
    for (const [a, b] of comp[r].sort((x, y) => x[0] - y[0])) if (b > a) ku.add(a, b);
    const commUs = cu.length();
    return {
      rank: info.rank, idleFraction: frac(idleUs), computeFraction: frac(computeUs), nonComputeFraction: frac(nonComputeUs),
      commCompOverlap: commUs > 0 ? intersection(cu, ku) / commUs : null,
      spanUs, computeUs, nonComputeUs, commUs, idleUs, kernels: counted[r],
      steps: filter ? info.steps.filter((s) => s !== Math.max(...info.steps)) : [],
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
