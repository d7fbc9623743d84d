// Per-rank HTA breakdown: hand-computed answers on tiny traces and on slices of real ones, the straggler, and the report's ranks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { timelineFromKineto } from '../../core/trace/kineto';
import { timelineToTrace } from '../../core/trace/export';
import { timelineFromTrace } from '../../core/trace/import';
import { rankBreakdown, rankStraggler } from '../../core/analysis/ranks';
import type { RankBreakdown } from '../../core/analysis/ranks';
import { buildReport } from '../../core/analysis/report';
import { formatReport } from '../../cli/report';
import { fixture, readFixture, readRank } from '../trace/kineto-read';
import { timeline as pipeprofTimeline } from './fixtures';

type Ev = Record<string, unknown>;
const near = (a: number, b: number, tol: number, msg: string) => assert.ok(Math.abs(a - b) <= tol, `${msg}: ${a} vs ${b}`);

let corr = 1;
/** A GPU event and its launch `lead` µs before it (none with launchAt null). */
function gpu(name: string, ts: number, dur: number, o: { cat?: string; stream?: number; launchAt?: number } = {}): Ev[] {
  const c = corr++;
  return [
    { ph: 'X', cat: 'cuda_runtime', name: 'cudaLaunchKernel', pid: 100, tid: 100, ts: o.launchAt ?? ts - 1, dur: 1, args: { correlation: c } },
    { ph: 'X', cat: o.cat ?? 'kernel', name, pid: 0, tid: o.stream ?? 7, ts, dur, args: { stream: o.stream ?? 7, device: 0, correlation: c } },
  ];
}
const step = (n: number, ts: number, dur: number): Ev => ({ ph: 'X', cat: 'user_annotation', name: `ProfilerStep#${n}`, pid: 100, tid: 100, ts, dur });
const trace = (rank: number, events: Ev[]) => ({ schemaVersion: 1, distributedInfo: { rank, world_size: 2, backend: 'nccl' }, traceEvents: events });
const breakdown = (...ranks: Ev[][]) => rankBreakdown(timelineFromKineto(ranks.map((ev, r) => readRank(trace(r, ev), `rank${r}.json`, 2))).timeline);

/** Union length of intervals, and the intervals merged. */
function union(iv: [number, number][]): { len: number; merged: [number, number][] } {
  const s = iv.slice().sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [a, b] of s) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  return { len: merged.reduce((x, [a, b]) => x + b - a, 0), merged };
}
function intersect(a: [number, number][], b: [number, number][]): number {
  let sum = 0;
  for (const [p, q] of a) for (const [r, s] of b) sum += Math.max(0, Math.min(q, s) - Math.max(p, r));
  return sum;
}

/**
 * HTA's figures computed here, straight from raw events as HTA's source defines them (independently of
 * core/analysis/ranks.ts): GPU events with a stream (kernels, memcpy, memset, cuda_sync); times rounded inward to whole
 * µs when any ts has a fraction; with two or more ProfilerSteps only events whose launch (correlation) started before
 * the last step's start; intervals merged when one starts at or before an earlier end.
 */
function hta(events: Ev[]): Omit<RankBreakdown, 'rank' | 'steps' | 'kernels'> {
  const withStream = (e: Ev) => typeof (e.args as Ev | undefined)?.stream === 'number' && ((e.args as Ev).stream as number) >= 0;
  const isGpu = (e: Ev) => e.ph === 'X' && (['kernel', 'gpu_memcpy', 'gpu_memset'].includes(e.cat as string) || (e.cat === 'cuda_sync' && withStream(e))) && (e.dur as number) >= 0;
  const launch = new Map(events.filter((e) => e.cat === 'cuda_runtime').map((e) => [(e.args as Ev).correlation, e.ts as number]));
  const steps = events.filter((e) => /^ProfilerStep#/.test(String(e.name)));
  const lastStart = steps.length >= 2 ? Math.max(...steps.map((s) => s.ts as number)) : null;
  const ks = events.filter(isGpu).filter((e) => lastStart === null || (launch.get((e.args as Ev).correlation) ?? Infinity) < lastStart);
  const round = events.some((e) => typeof e.ts === 'number' && !Number.isInteger(e.ts));
  const times = (e: Ev): [number, number] => (round ? [Math.ceil(e.ts as number), Math.floor((e.ts as number) + (e.dur as number))] : [e.ts as number, (e.ts as number) + (e.dur as number)]);
  /** pandas' groupby of HTA's merge_kernel_intervals. */
  const merge = (iv: [number, number][]) => {
    const sorted = iv.slice().sort((x, y) => x[0] - y[0]);
    const groups: [number, number][] = [];
    let cummax = -Infinity;
    sorted.forEach(([a, b], i) => {
      if (i > 0 && a > cummax) groups.push([a, b]);
      else if (i === 0) groups.push([a, b]);
      else groups[groups.length - 1][1] = Math.max(groups[groups.length - 1][1], b);
      cummax = Math.max(cummax, b);
    });
    return groups;
  };
  const sum = (g: [number, number][]) => g.reduce((x, [a, b]) => x + b - a, 0);
  const isComm = (e: Ev) => /^nccl\w*Kernel/.test(String(e.name));
  const all = merge(ks.map(times));
  const compute = sum(merge(ks.filter((e) => e.cat === 'kernel' && !isComm(e)).map(times)));
  const commIv = union(ks.filter((e) => e.cat === 'kernel' && isComm(e)).map(times));
  const compIv = union(ks.filter((e) => e.cat === 'kernel' && !isComm(e)).map(times));
  const spanUs = all.length ? all[all.length - 1][1] - all[0][0] : 0;
  const idleUs = spanUs - sum(all);
  return {
    spanUs, computeUs: compute, commUs: commIv.len, idleUs, nonComputeUs: spanUs - compute - idleUs,
    idleFraction: idleUs / spanUs, computeFraction: compute / spanUs, nonComputeFraction: (spanUs - compute - idleUs) / spanUs,
    commCompOverlap: commIv.len > 0 ? intersect(commIv.merged, compIv.merged) / commIv.len : null,
  };
}
function same(got: RankBreakdown, want: ReturnType<typeof hta>, tol: number, what: string) {
  for (const k of Object.keys(want) as (keyof typeof want)[]) {
    if (want[k] === null) assert.equal(got[k], null, `${what} ${k}`);
    else near(got[k] as number, want[k] as number, tol, `${what} ${k}`);
  }
}

test('a tiny rank with known answers: overlapping streams merged, NCCL and memcpy non-compute, overlap of comm under compute', () => {
  // compute [0,10] and [5,15] on two streams, an all-reduce [12,20], a memcpy [25,30]: span 30, busy 25, idle 5,
  // compute 15, non-compute 10, comm 8 of which 3 (12–15) under compute.
  const [r] = breakdown([
    ...gpu('gemm', 0, 10), ...gpu('gelu', 5, 10, { stream: 8 }), ...gpu('ncclDevKernel_AllReduce_Sum_f32_RING_LL(x)', 12, 8, { stream: 40 }), ...gpu('Memcpy DtoD (Device -> Device)', 25, 5, { cat: 'gpu_memcpy' }),
  ]);
  assert.deepEqual(r, {
    rank: 0, idleFraction: 5 / 30, computeFraction: 15 / 30, nonComputeFraction: 10 / 30, commCompOverlap: 3 / 8,
    spanUs: 30, computeUs: 15, nonComputeUs: 10, commUs: 8, idleUs: 5, kernels: 4, steps: [],
  });
  near(r.idleFraction + r.computeFraction + r.nonComputeFraction, 1, 1e-12, 'fractions add up');
});

test('HTA\'s window: with two or more steps the last step\'s kernels are left out (and those launched before the first kept); with one, all count', () => {
  const ev = [
    ...gpu('warm', 0, 5, { launchAt: -10 }), step(1, 10, 100), ...gpu('a', 20, 30), step(2, 110, 100), ...gpu('b', 120, 40), ...gpu('late-of-1', 112, 4, { launchAt: 105 }), step(3, 210, 100), ...gpu('c', 220, 50),
  ];
  const [r] = breakdown(ev);
  assert.deepEqual(r.steps, [1, 2]);
  assert.equal(r.kernels, 4, 'warm, a, b, late-of-1');
  assert.equal(r.spanUs, 160);
  assert.equal(r.computeUs, 5 + 30 + 4 + 40);
  same(r, hta(ev), 1e-9, 'against the raw-event definition');
  const [one] = breakdown([step(1, 0, 1000), ...gpu('a', 20, 30), ...gpu('b', 600, 10)]);
  assert.deepEqual([one.kernels, one.spanUs, one.computeUs], [2, 590, 40]);
});

test('ncclKernel_* and ncclDevKernel_* are both communication; a rank without NCCL has no overlap figure', () => {
  const [r] = breakdown([...gpu('ncclKernel_AllReduce_RING_LL_Sum_float(x)', 0, 10, { stream: 40 }), ...gpu('ncclDevKernel_SendRecv(x)', 20, 10, { stream: 40 }), ...gpu('gemm', 5, 20)]);
  assert.equal(r.commUs, 20);
  near(r.commCompOverlap!, 10 / 20, 1e-12, 'overlap');
  const [none] = breakdown([...gpu('gemm', 0, 10)]);
  assert.equal(none.commCompOverlap, null);
});

test('30 GPU events of dp128-rank0 around its first NCCL kernel: unions computed by hand', () => {
  const j = fixture('dp128-rank0.json.gz');
  const all = (j.traceEvents as Ev[]).filter((e) => ['kernel', 'gpu_memcpy', 'gpu_memset'].includes(e.cat as string)).sort((a, b) => (a.ts as number) - (b.ts as number));
  const i = all.findIndex((e) => String(e.name).startsWith('nccl'));
  const slice = all.slice(i - 10, i + 20);
  assert.equal(slice.length, 30);
  const { traceEvents: _, ...header } = j;
  const t = timelineFromKineto([readRank({ ...header, traceEvents: slice }, 'slice.json', 4)]).timeline;
  const [r] = rankBreakdown(t);
  assert.equal(r.kernels, 30);
  same(r, hta(slice), 1e-6, 'slice');
  assert.ok(r.commUs > 0 && r.computeUs > 0 && r.idleUs >= 0);
});

test('dp128: both ranks\' figures match the definitions computed from the raw events (HTA\'s window: step 551 only)', () => {
  const files = ['dp128-rank0.json.gz', 'dp128-rank1.json.gz'];
  const t = timelineFromKineto(files.map((f) => readFixture(f, 777))).timeline;
  const rows = rankBreakdown(t);
  assert.deepEqual(rows.map((r) => [r.rank, r.steps]), [[0, [551]], [1, [551]]]);
  files.forEach((f, i) => same(rows[i], hta(fixture(f).traceEvents as Ev[]), 1e-6, f));
  for (const r of rows) {
    near(r.idleFraction + r.computeFraction + r.nonComputeFraction, 1, 1e-9, `rank ${r.rank} fractions`);
    assert.ok(r.commCompOverlap! > 0 && r.commCompOverlap! < 1);
  }
  // Rank 1 computes more per step: the others wait for it in their collectives.
  const s = rankStraggler(rows)!;
  assert.equal(s.rank, 1);
  near(s.overMeanFraction, rows[1].computeUs / ((rows[0].computeUs + rows[1].computeUs) / 2) - 1, 1e-12, 'over mean');
  assert.ok(s.commUsPerStep < s.meanCommUsPerStep, 'the straggler waits least in NCCL');
});

test('nccl-2rank: one rank, steps 4 and 5 counted (6 is the last), figures from the raw events', () => {
  const j = fixture('nccl-2rank-rank0.json.gz');
  const [r] = rankBreakdown(timelineFromKineto([readFixture('nccl-2rank-rank0.json.gz')]).timeline);
  assert.deepEqual(r.steps, [4, 5]);
  // ts near 4.5e12 µs carry ~0.5 ns of float rounding each; over 2,500 kernels the sums differ by hundredths of a µs.
  same(r, hta(j.traceEvents as Ev[]), 0.05, 'nccl-2rank');
  assert.equal(rankStraggler([r]), null, 'one rank: no straggler');
});

test('straggler on hand-made ranks: the one with the most compute per step', () => {
  const ev = (computeUs: number) => [step(1, 0, 1000), step(2, 1000, 1000), ...gpu('gemm', 10, computeUs), ...gpu('ncclDevKernel_AllReduce(x)', 10 + computeUs, 600 - computeUs, { stream: 40 }), ...gpu('gemm', 1010, 10)];
  const rows = breakdown(ev(300), ev(500));
  const s = rankStraggler(rows)!;
  assert.deepEqual([s.rank, s.computeUsPerStep, s.meanComputeUsPerStep, s.commUsPerStep, s.meanCommUsPerStep], [1, 500, 400, 100, 200]);
  near(s.overMeanFraction, 0.25, 1e-12, 'over mean');
});

test('buildReport: ranks with the five keys only for a Kineto timeline; the text report gains a per-rank section, pipeprof output unchanged', () => {
  const t = timelineFromKineto(['dp128-rank0.json.gz', 'dp128-rank1.json.gz'].map((f) => readFixture(f))).timeline;
  const r = JSON.parse(JSON.stringify(buildReport(t)));
  assert.equal(r.origin, 'kineto');
  for (const k of r.ranks) for (const key of ['rank', 'idleFraction', 'computeFraction', 'nonComputeFraction', 'commCompOverlap']) assert.ok(key in k, key);
  assert.deepEqual(r.ranks.map((k: { rank: number }) => k.rank), [0, 1]);
  assert.equal(r.rankStraggler.rank, 1);
  // Stage rows are ranks: busy is the union of compute kernels, inside [0, step].
  for (const s of r.stages) assert.ok(s.busyMs.KERNEL > 0 && s.busyTotalMs <= r.meanStepMs && s.utilization > 0 && s.utilization <= 1);
  const text = formatReport(buildReport(t), 'dp128');
  assert.match(text, /^ranks {7}2 ranks, no pipeline \(a PyTorch profiler trace\): one row per rank$/m);
  // No pipeline words for a trace that is no pipeline: no bubble, no stage straggler, no F/B columns.
  assert.ok(!/bubble|straggler {3}stage|F ms|B ms/.test(text), text);
  assert.match(text, /^per rank \(HTA's temporal breakdown of GPU time/m);
  assert.match(text, /^rank +idle +compute +non-compute +comm\/comp overlap +span ms +steps$/m);
  assert.match(text, /^0 +\d+\.\d% +\d+\.\d% +\d+\.\d% +\d+\.\d% +\d+\.\d +551$/m);
  assert.match(text, /^straggler {3}rank 1: [\d.]+ ms compute per step, [\d.]+% over the mean of [\d.]+ ms \(the others wait for it in their collectives\)$/m);
  assert.match(text, /kernel ms/);
  // A pipeprof timeline: no ranks, no origin, no KERNEL column or per-rank lines.
  const p = pipeprofTimeline({ stages: 2, steps: [{ ops: [[0, 'F', 0, 0, 1], [1, 'F', 0, 1, 2], [1, 'B', 0, 2, 4], [0, 'B', 0, 4, 6]], start: 0, end: 6 }] });
  const pr = buildReport(p);
  assert.ok(!('ranks' in pr) && !('origin' in pr) && !('rankStraggler' in pr));
  assert.deepEqual(Object.keys(pr.stages[0].busyMs), ['F', 'B', 'W', 'R', 'OPT', 'COMPRESS', 'DECOMPRESS']);
  const ptext = formatReport(pr, 'run.pptrace.json');
  assert.ok(!/per rank|KERNEL/.test(ptext));
  assert.match(ptext, /per measured step; bubble = idle \+ wait \(in SEND\/RECV for a peer\); xfer = bytes on the wire, not under compute; busy ms by op kind; comm = transfer \+ all-reduce\n$/);
});

test('alexnet: cuda_sync waits with a stream are GPU events for HTA (span and non-compute); figures from the raw events', () => {
  const j = fixture('alexnet-1gpu.json.gz');
  const t = timelineFromKineto([readFixture('alexnet-1gpu.json.gz')]).timeline;
  const [r] = rankBreakdown(t);
  const syncs = (j.traceEvents as Ev[]).filter((e) => e.cat === 'cuda_sync' && typeof (e.args as Ev).stream === 'number').length;
  assert.equal(syncs, 41);
  assert.equal(r.kernels, 98 + syncs, 'kernels, memcpy, memset and the stream waits');
  assert.deepEqual(r.steps, [], 'no ProfilerStep: every event counts');
  same(r, hta(j.traceEvents as Ev[]), 1e-6, 'alexnet');
});

// The three cases below are where pipeprof and Holistic Trace Analysis differed (bench/hta-parity.ts, HTA 0.6.1 at
// f4d0062 run on these very events through scripts/hta-breakdown.py); each expected figure is HTA's output.

test('HTA rounds to whole µs whenever pandas reads ts as floats: integer ts with fractional durations and a metadata event without ts', () => {
  // hta/common/trace_parser.py round_down_time_stamps runs when the ts column is float64; a missing ts (the metadata
  // event) makes it so, and every end is floored: each 2.6-µs gemm counts 2 µs, the 10.5-µs all-reduce 10.
  const events = [{ ph: 'M', name: 'process_name', pid: 0, args: { name: 'GPU 0' } }, ...gpu('gemm', 10, 2.6), ...gpu('gemm', 20, 2.6), ...gpu('gemm', 30, 2.6), ...gpu('ncclDevKernel_AllReduce(x)', 12, 10.5, { stream: 40 })];
  const [r] = breakdown(events);
  assert.deepEqual([r.spanUs, r.idleUs, r.computeUs, r.nonComputeUs], [22, 8, 6, 8], 'HTA: kernel_time 22, idle 8, compute 6, non-compute 8 µs');
  near(r.commCompOverlap!, 0.2, 1e-12, 'HTA: comp_comm_overlap_pctg 20.0');
  // Every event with a ts, all of them whole: no rounding (HTA: 22.6, 7.4, 7.8, 7.4 µs; overlap 29.52%).
  const [whole] = breakdown(events.map((e) => (e.ph === 'M' ? { ...e, ts: 0 } : e)));
  assert.deepEqual([whole.spanUs, whole.computeUs].map((x) => +x.toFixed(6)), [22.6, 7.8]);
  near(whole.commCompOverlap!, 0.2952, 5e-5, 'HTA: 29.52%');
});

test('HTA types kernels by name: `void ncclKernel_…` and so is a hip… name (AMD\'s RCCL); names with Sync, dma or Memcpy are not computation', () => {
  // hta/utils/utils.py get_kernel_type with hta/common/types.py's patterns, whatever the event's category.
  const events = [
    ...gpu('void ncclKernel_AllReduce_RING_LL_Sum_float(ncclWorkElem)', 0, 10, { stream: 40 }), ...gpu('gemm', 5, 10), ...gpu('void at::native::SyncBatchNormKernel(x)', 20, 10),
    ...gpu('triton_dma_copy', 40, 10), ...gpu('fused_Memcpy_like', 60, 10), ...gpu('hipLikeKernel', 80, 10),
  ];
  const [r] = breakdown(events);
  assert.deepEqual([r.spanUs, r.idleUs, r.computeUs, r.nonComputeUs, r.commUs], [90, 35, 10, 45, 20], 'HTA: kernel_time 90, idle 35, compute 10, non-compute 45 µs');
  near(r.commCompOverlap!, 0.25, 1e-12, 'HTA: comp_comm_overlap_pctg 25.0 (5 of the 20 communication µs under the gemm)');
  // HTA's reading of each kernel survives pipeprof import --out (args.hta) and reading that trace back.
  const t = timelineFromKineto([readRank(trace(0, events), 'rank0.json', 2)]).timeline;
  assert.deepEqual(rankBreakdown(timelineFromTrace(JSON.parse(JSON.stringify(timelineToTrace(t))), 'back.pptrace.json')), rankBreakdown(t));
});

test('HTA\'s last-step filter keeps a kernel without a correlation id by its own start, as one of its CPU events', () => {
  // hta/common/trace.py _filter_irrelevant_gpu_kernels: GPUKernelFilter needs correlation ≥ 0, so an uncorrelated kernel
  // is among the "CPU" events, kept when it starts before the last ProfilerStep (orphan-early at 50) and dropped after.
  const orphan = (name: string, ts: number): Ev => ({ ph: 'X', cat: 'kernel', name, pid: 0, tid: 7, ts, dur: 10, args: { stream: 7, device: 0 } });
  const [r] = breakdown([step(1, 0, 100), step(2, 100, 100), step(3, 200, 100), ...gpu('gemm', 10, 20), orphan('orphan-early', 50), orphan('orphan-late', 250), ...gpu('gemm', 110, 30), ...gpu('gemm', 210, 30)]);
  assert.deepEqual([r.spanUs, r.idleUs, r.computeUs, r.nonComputeUs, r.kernels], [130, 70, 60, 0, 3], 'HTA: kernel_time 130, idle 70, compute 60 µs');
});
