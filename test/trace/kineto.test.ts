// Kineto import: real PyTorch traces and synthetic pipelining runs become Timelines; every malformed input is one clear line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KinetoRank } from '../../core/trace/kineto';
import { KinetoRankReader, collectiveName, collectiveOfKernel, dtypeBytes, isKinetoHeader, shortestHalfMedian, timelineFromKineto } from '../../core/trace/kineto';
import { TraceError } from '../../core/trace/import';
import type { Timeline } from '../../core/trace/timeline';
import { OP, OP_KINDS, opAt } from '../../core/trace/timeline';
import { buildReport } from '../../core/analysis/report';
import { fixture, readFixture, readRank } from './kineto-read';

type Ev = Record<string, unknown>;
const near = (a: number, b: number, tol: number, msg: string) => assert.ok(Math.abs(a - b) <= tol, `${msg}: ${a} vs ${b}`);
const count = (t: Timeline, kind: number, table = t.kernels!) => {
  let n = 0;
  for (let i = 0; i < table.length; i++) if (table.kind[i] === kind) n++;
  return n;
};
const gpuEvents = (j: Ev) => (j.traceEvents as Ev[]).filter((e) => e.cat === 'kernel' || e.cat === 'gpu_memcpy' || e.cat === 'gpu_memset');

// ------------------------------------------------------------------ tiny hand-written traces

let corrId = 1;
/** A kernel and the launch that made it (the launch `lead` µs before its start unless `launchAt` says when). */
function kernel(name: string, ts: number, dur: number, o: { stream?: number; launchAt?: number | null; args?: Ev; cat?: string; device?: number } = {}): Ev[] {
  const c = corrId++;
  const k: Ev = { ph: 'X', cat: o.cat ?? 'kernel', name, pid: o.device ?? 0, tid: o.stream ?? 7, ts, dur, args: { device: o.device ?? 0, stream: o.stream ?? 7, correlation: c, ...o.args } };
  if (o.launchAt === null) return [k];
  return [{ ph: 'X', cat: 'cuda_runtime', name: 'cudaLaunchKernel', pid: 100, tid: 100, ts: o.launchAt ?? ts - 5, dur: 2, args: { correlation: c } }, k];
}
const step = (n: number, ts: number, dur: number): Ev => ({ ph: 'X', cat: 'user_annotation', name: `ProfilerStep#${n}`, pid: 100, tid: 100, ts, dur });
const ann = (name: string, ts: number, dur: number, gpu = false): Ev => ({ ph: 'X', cat: gpu ? 'gpu_user_annotation' : 'user_annotation', name, pid: gpu ? 0 : 100, tid: gpu ? 7 : 100, ts, dur });
const allreduce = (ts: number, dur: number, o: { stream?: number } = {}) => kernel('ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevKernelArgsStorage<4096ul>)', ts, dur, { stream: o.stream ?? 40 });
function rankTrace(rank: number | null, events: Ev[], extra: Ev = {}): Ev {
  const di: Ev = rank === null ? {} : { rank, world_size: 2, backend: 'nccl' };
  return { schemaVersion: 1, distributedInfo: di, traceEvents: events, ...extra };
}
const rank = (rankNo: number | null, events: Ev[], file = `rank${rankNo}.json`, extra: Ev = {}) => readRank(rankTrace(rankNo, events, extra), file, 3);
/** The import, without the two lines every non-pipeline or partial job gets (tested on their own below). */
const importRanks = (ranks: KinetoRank[]) => {
  const r = timelineFromKineto(ranks);
  return { ...r, warnings: r.warnings.filter((w) => !/^no pipeline: |^world_size is \d+ but/.test(w)) };
};
const build = (...ranks: KinetoRank[]) => importRanks(ranks);

// ------------------------------------------------------------------ names

test('collective names from args and kernel names; dtype sizes', () => {
  assert.deepEqual(['allreduce', '_allgather_base', 'all_to_allv', 'reduce_scatter_tensor_coalesced', 'broadcast', 'send', 'recv', 'reduce', 'weird'].map(collectiveName),
    ['AllReduce', 'AllGather', 'AllToAll', 'ReduceScatter', 'Broadcast', 'Send', 'Recv', 'Reduce', 'weird']);
  assert.equal(collectiveOfKernel('ncclKernel_AllReduce_RING_LL_Sum_float(ncclDevComm*, unsigned long, ncclWork*)'), 'AllReduce');
  assert.equal(collectiveOfKernel('ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)'), 'SendRecv');
  assert.equal(collectiveOfKernel('ncclDevKernel_ReduceScatter_Sum_bf16_RING_LL(x)'), 'ReduceScatter');
  assert.deepEqual(['Float', 'Long', 'BFloat16', 'Half', 'Byte', 'Float8_e4m3fn', 'nope'].map(dtypeBytes), [4, 8, 2, 2, 1, 1, 0]);
  assert.equal(shortestHalfMedian([-67842, -13869, -189, -55, 8, 332, 28808, 62789, 87882, 134153]), -55);
  assert.equal(shortestHalfMedian([5]), 5);
});

test('isKinetoHeader: PyTorch headers yes, pipeprof traces and bare objects no', () => {
  for (const f of ['dp128-rank0.json.gz', 'nccl-2rank-rank0.json.gz', 'alexnet-1gpu.json.gz']) {
    const { traceEvents: _, ...header } = fixture(f);
    assert.equal(isKinetoHeader(header), true, f);
  }
  assert.equal(isKinetoHeader({ pipeprof: { version: 1 }, displayTimeUnit: 'ms' }), false);
  assert.equal(isKinetoHeader({ displayTimeUnit: 'ms' }), false);
});

// ------------------------------------------------------------------ real traces

test('dp128: two ranks of a 128-rank job on one clock, kernels by kind, steps 551 and 552, skew from matched collectives', () => {
  const [j0, j1] = [fixture('dp128-rank0.json.gz'), fixture('dp128-rank1.json.gz')];
  const { timeline: t, warnings } = importRanks([readFixture('dp128-rank1.json.gz', 333), readFixture('dp128-rank0.json.gz', 1000)]);
  assert.deepEqual(warnings, []);
  assert.equal(t.origin, 'kineto');
  assert.deepEqual(t.ranks!.map((r) => [r.rank, r.worldSize, r.stage, r.replica, r.file]), [[0, 128, 0, 0, 'dp128-rank0.json.gz'], [1, 128, 1, 0, 'dp128-rank1.json.gz']]);
  assert.equal(t.stages, 2);
  assert.equal(t.plan, null);
  assert.equal(t.backend, 'nccl');
  assert.equal(t.ops, t.kernels, 'without PP: annotations the ops are the kernels');
  assert.equal(t.kernels!.length, gpuEvents(j0).length + gpuEvents(j1).length);
  assert.equal(count(t, OP.COMM), 20);
  assert.equal(count(t, OP.MEMCPY), 80);
  assert.equal(count(t, OP.MEMSET), 20);
  assert.deepEqual(t.labels, ['SendRecv']);
  assert.deepEqual(t.steps.map((s) => s.step), [551, 552]);
  assert.ok(t.steps[0].startUs === 0 && t.steps[0].endUs > t.steps[1].startUs - 1000, 'steps start the run clock and follow each other');
  // Lanes follow the kinds; kernels of rank 1 on row 1.
  for (let i = 0; i < t.kernels!.length; i++) assert.equal(t.kernels!.lane[i], [0, 3, 4, 4][[OP.KERNEL, OP.COMM, OP.MEMCPY, OP.MEMSET].indexOf(t.kernels!.kind[i])]);
  // Skew: rank 1's clock is off by the centre of the matched collectives' end differences; after correction the
  // collectives that really end together (most of this sampled trace's pairs) end within 0.5 ms of each other.
  const [r0, r1] = t.ranks!;
  assert.equal(r0.skewUs, 0);
  assert.ok(Math.abs(r1.skewUs) < 1000, `skew ${r1.skewUs}`);
  const ends = (row: number) => {
    const k = t.kernels!;
    const out: number[] = [];
    for (let i = 0; i < k.length; i++) if (k.stage[i] === row && k.kind[i] === OP.COMM) out.push(k.start[i] + k.dur[i]);
    return out;
  };
  const [e0, e1] = [ends(0), ends(1)];
  assert.ok(e0.filter((e, i) => Math.abs(e - e1[i]) < 500).length >= 4, `${e0.map((e, i) => Math.round(e1[i] - e))}`);
  // The clock offsets put each file's ts on the run clock.
  const first0 = Math.min(...(j0.traceEvents as Ev[]).filter((e) => e.name === 'ProfilerStep#551').map((e) => e.ts as number));
  assert.equal(r0.clockOffsetUs, -first0);
  assert.equal(r1.clockOffsetUs, -first0 - r1.skewUs);
});

test('dp128: the same rank read in batches of 1, 7 and all events gives the same columns', () => {
  const j = fixture('dp128-rank0.json.gz');
  const a = readRank(j, 'r0', 1);
  const b = readRank(j, 'r0', 7);
  const c = readRank(j, 'r0', 1e9);
  for (const r of [b, c]) {
    assert.deepEqual(Array.from(r.gpu.start), Array.from(a.gpu.start));
    assert.deepEqual(Array.from(r.gpu.launch), Array.from(a.gpu.launch));
    assert.deepEqual(r.steps, a.steps);
  }
  assert.ok(Array.from(a.gpu.launch).every((l) => Number.isFinite(l)), 'every kernel of dp128 has its launch in the trace');
});

test('nccl-2rank: collective names and bytes from the NCCL kernel args (nelems × dtype size)', () => {
  const j = fixture('nccl-2rank-rank0.json.gz');
  const { timeline: t, warnings } = importRanks([readFixture('nccl-2rank-rank0.json.gz', 4096)]);
  assert.deepEqual(warnings, []);
  assert.deepEqual(t.ranks!.map((r) => [r.rank, r.worldSize]), [[0, 2]]);
  const raw = (j.traceEvents as Ev[]).filter((e) => e.cat === 'kernel' && String(e.name).startsWith('nccl')).sort((a, b) => (a.ts as number) - (b.ts as number));
  const size: Record<string, number> = { Float: 4, Long: 8 };
  const expected = raw.map((e) => {
    const a = e.args as Ev;
    return [a['Collective name'] === 'allreduce' ? 'AllReduce' : 'Broadcast', Math.max(a['In msg nelems'] as number, a['Out msg nelems'] as number) * size[a.dtype as string]];
  });
  const k = t.kernels!;
  const got: [string, number][] = [];
  for (let i = 0; i < k.length; i++) if (k.kind[i] === OP.COMM) got.push([t.labels![k.label![i]], k.bytes[i]]);
  assert.deepEqual(got, expected);
  assert.equal(got.length, 21);
  assert.ok(got.some(([l, b]) => l === 'AllReduce' && b === 6637568 * 4), 'the 6637568-float all-reduce is 26550272 bytes');
  // Memcpy bytes come from their args too.
  const memcpy = (j.traceEvents as Ev[]).filter((e) => e.cat === 'gpu_memcpy').reduce((a, e) => a + ((e.args as Ev).bytes as number), 0);
  let bytes = 0;
  for (let i = 0; i < k.length; i++) if (k.kind[i] === OP.MEMCPY) bytes += k.bytes[i];
  assert.equal(bytes, memcpy);
  assert.deepEqual(t.steps.map((s) => s.step), [4, 5, 6]);
});

test('alexnet: a single GPU without ProfilerStep is one step; rank 0 from distributedInfo, no world size', () => {
  const { timeline: t, warnings } = importRanks([readFixture('alexnet-1gpu.json.gz')]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /no ProfilerStep#N annotations .* one step \(step 0\); call prof\.step\(\)/);
  assert.deepEqual(t.ranks!.map((r) => [r.rank, r.worldSize, r.steps.length]), [[0, null, 0]]);
  assert.deepEqual([count(t, OP.KERNEL), count(t, OP.COMM), count(t, OP.MEMCPY), count(t, OP.MEMSET)], [79, 0, 16, 3]);
  assert.equal(t.steps.length, 1);
  for (let i = 0; i < t.ops.length; i++) assert.equal(t.ops.step[i], 0);
  const r = buildReport(t);
  assert.ok(r.stages[0].busyMs.KERNEL! > 0 && r.stages[0].utilization > 0 && r.stages[0].utilization <= 1);
});

test('a kernel belongs to the step that launched it, and widens that step to its end', () => {
  const { timeline: t } = build(rank(0, [step(1, 0, 100), step(2, 100, 100), ...kernel('gemm', 50, 20), ...kernel('late', 150, 10, { launchAt: 90 }), ...kernel('orphan', 250, 5, { launchAt: null })]));
  const k = t.kernels!;
  const byStart = (s: number) => Array.from({ length: k.length }, (_, i) => i).find((i) => k.start[i] === s)!;
  assert.equal(k.step[byStart(50)], 1);
  assert.equal(k.step[byStart(150)], 1, 'launched in step 1, runs in step 2');
  assert.equal(k.step[byStart(250)], -1, 'no launch: by its start, outside every step');
  assert.deepEqual(t.steps.map((s) => [s.step, s.startUs, s.endUs]), [[1, 0, 160], [2, 100, 200]]);
});

// ------------------------------------------------------------------ torch.distributed.pipelining

// Whole generated runs of every engine (PP: included): kineto-engines.test.ts.

test('pipelining: I and W split the backward (schedule zb-h1); REDUCE_GRAD, UNSHARD and RESHARD become ALLREDUCE and COMM', () => {
  const ev = [step(1, 0, 1000), ann('PP:0UNSHARD', 5, 5), ann('PP:0F0', 10, 100), ann('PP:0I0', 120, 100), ann('PP:0W0', 230, 50), ann('PP:0REDUCE_GRAD', 290, 50), ann('PP:0RESHARD', 350, 5)];
  const { timeline: t, warnings } = build(rank(0, ev));
  assert.ok(warnings.some((w) => /^6 PP: op\(s\) timed on the CPU: no gpu_user_annotation/.test(w)), warnings.join('\n'));
  const ops = Array.from({ length: t.ops.length }, (_, i) => opAt(t.ops, i));
  assert.deepEqual(ops.map((o) => [o.kind, o.microbatch, o.lane, o.label === undefined ? null : t.labels![o.label]]), [
    ['COMM', undefined, 3, 'UNSHARD'], ['F', 0, 0, null], ['B', 0, 0, null], ['W', 0, 0, null], ['ALLREDUCE', undefined, 3, null], ['COMM', undefined, 3, 'RESHARD'],
  ]);
  assert.equal(t.plan!.schedule, 'zb-h1');
  // One stage: no bubble whatever the schedule.
  assert.equal(buildReport(t).analyticBubbleFraction, 0);
});

test('pipelining: more stages than ranks (looped) puts stages s and s+P on one row as chunks 0 and 1; interleaved-1f1b', () => {
  const r0 = rank(0, [step(1, 0, 1000), ann('PP:0F0', 10, 50, true), ann('PP:0SEND_F0', 60, 5, true), ann('PP:2F0', 300, 50, true), ann('PP:2B0', 400, 50, true), ann('PP:0B0', 600, 50, true)]);
  const r1 = rank(1, [step(1, 0, 1000), ann('PP:1RECV_F0', 60, 10, true), ann('PP:1F0', 100, 50, true), ann('PP:1SEND_F0', 150, 5, true), ann('PP:3F0', 350, 50, true), ann('PP:3B0', 410, 50, true), ann('PP:1B0', 500, 50, true)]);
  const { timeline: t } = build(r0, r1);
  assert.equal(t.stages, 2);
  assert.deepEqual(t.plan!.balance, [2, 2]);
  assert.equal(t.plan!.schedule, 'interleaved-1f1b');
  assert.deepEqual(t.ranks!.map((r) => [r.rank, r.stage, r.ppStages]), [[0, 0, [0, 2]], [1, 1, [1, 3]]]);
  const ops = Array.from({ length: t.ops.length }, (_, i) => opAt(t.ops, i)).filter((o) => o.kind === 'F');
  assert.deepEqual(ops.map((o) => [o.stage, o.chunk]), [[0, 0], [1, 0], [0, 1], [1, 1]]);
  const sends = Array.from({ length: t.ops.length }, (_, i) => opAt(t.ops, i)).filter((o) => o.kind === 'SEND' || o.kind === 'RECV');
  assert.deepEqual(sends.map((o) => [o.kind, o.stage, o.peer]), [['SEND', 0, 1], ['RECV', 1, 0], ['SEND', 1, 0]], 'stage 1 sends to stage 2, on row 0');
});

test('pipelining: ranks holding the same stage are replicas of it', () => {
  const r = (n: number, s: number) => rank(n, [step(1, 0, 1000), ann(`PP:${s}F0`, 10, 50, true), ann(`PP:${s}B0`, 100, 50, true)], `r${n}.json`, { distributedInfo: { rank: n, world_size: 4, backend: 'nccl' } });
  const { timeline: t } = build(r(0, 0), r(1, 1), r(2, 0), r(3, 1));
  assert.deepEqual(t.ranks!.map((x) => [x.rank, x.stage, x.replica]), [[0, 0, 0], [2, 0, 1], [1, 1, 0], [3, 1, 1]]);
  assert.equal(t.plan!.replicas, 2);
});

// ------------------------------------------------------------------ clocks

test('skew: two ranks whose all-reduces end together, rank 1 on a clock 5 ms ahead: corrected and reported', () => {
  const ev = (shift: number, computeUs: number) => [
    step(1, shift, 10_000),
    ...[0, 1, 2, 3].flatMap((i) => [...kernel('gemm', shift + 100 + i * 2000, computeUs), ...allreduce(shift + 100 + i * 2000 + computeUs, 1500 - computeUs)]),
  ];
  const { timeline: t, warnings } = build(rank(0, ev(0, 800)), rank(1, ev(5000, 500)));
  assert.deepEqual(t.ranks!.map((r) => r.skewUs), [0, 5000]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^rank1\.json: rank 1's clock is 5\.00 ms ahead of rank 0's \(from the end times of 4 matched NCCL kernels, which end together\); corrected; synchronise the hosts' clocks/);
  const k = t.kernels!;
  const ends = [0, 1].map((row) => Array.from({ length: k.length }, (_, i) => i).filter((i) => k.stage[i] === row && k.kind[i] === OP.COMM).map((i) => k.start[i] + k.dur[i]));
  assert.deepEqual(ends[0], ends[1]);
});

test('skew: NCCL sequences that differ are not matched; clocks as recorded, one line', () => {
  const { timeline: t, warnings } = build(rank(0, [step(1, 0, 1000), ...allreduce(10, 10), ...allreduce(50, 10)]), rank(1, [step(1, 0, 1000), ...allreduce(10, 10)]));
  assert.deepEqual(t.ranks!.map((r) => r.skewUs), [0, 0]);
  assert.deepEqual(warnings, ['clock skew not estimated: the ranks\' NCCL kernel sequences differ (rank 0: 2 AllReduce; rank 1: 1 AllReduce), so collectives cannot be matched; times are taken as recorded']);
});

test('baseTimeNanoseconds puts ranks of different hosts on one clock', () => {
  // Same instant: rank 1's ts count from an origin 2 s later, its base says so.
  const r0 = rank(0, [step(1, 3_000_000, 1000), ...kernel('gemm', 3_000_100, 100)], 'a.json', { baseTimeNanoseconds: 10_000_000_000 });
  const r1 = rank(1, [step(1, 1_000_000, 1000), ...kernel('gemm', 1_000_100, 100)], 'b.json', { baseTimeNanoseconds: 12_000_000_000 });
  const { timeline: t, warnings } = build(r0, r1);
  assert.deepEqual(warnings, ['clock skew not estimated: no rank ran an NCCL kernel to match; times are taken as recorded (ts + baseTimeNanoseconds)']);
  assert.deepEqual(Array.from(t.kernels!.start), [100, 100]);
  assert.deepEqual(t.ranks!.map((r) => r.clockOffsetUs), [-3_000_000, -1_000_000]);
});

// ------------------------------------------------------------------ malformed input

test('malformed: not a Kineto trace, a pipeprof trace, a non-object header: one TraceError each', () => {
  const reader = new KinetoRankReader('notes.json');
  reader.addEvents([{ ph: 'X', name: 'x', ts: 1, dur: 1 }]);
  assert.throws(() => reader.finish({ foo: 1 }), (e: Error) => e instanceof TraceError && /^notes\.json: not a PyTorch profiler \(Kineto\) trace: no distributedInfo, schemaVersion or deviceProperties at the top and no kernel, gpu_memcpy, gpu_memset, ProfilerStep#N or PP: events among its 1 events; profile with torch\.profiler/.test(e.message));
  assert.throws(() => new KinetoRankReader('run.pptrace.json').finish({ pipeprof: { version: 1 } }), /run\.pptrace\.json: is a pipeprof trace \(it has a "pipeprof" block\), not a PyTorch profiler trace; read it as a pipeprof trace$/);
  assert.throws(() => new KinetoRankReader('x.json').finish(null as unknown as Record<string, unknown>), /x\.json: the trace's top level must be a JSON object \(got null\)/);
  assert.throws(() => timelineFromKineto([]), /no Kineto rank files to analyse/);
  assert.throws(() => new KinetoRankReader('y.json').addEvents({ ph: 'X' } as unknown as unknown[]), /y\.json: "traceEvents" must be a list of events \(got \{"ph":"X"\}\)/);
});

test('malformed: missing rank — one file is rank 0 with a warning; several files without ranks are a TraceError; some without are left out', () => {
  const ev = [step(1, 0, 100), ...kernel('gemm', 10, 10)];
  const one = build(rank(null, ev, 'solo.json'));
  assert.equal(one.timeline.ranks![0].rank, 0);
  assert.deepEqual(one.warnings, ['solo.json: distributedInfo.rank is missing; taken as rank 0 (one file); export traces from processes with torch.distributed initialised to name their rank']);
  assert.throws(() => build(rank(null, ev, 'a.json'), rank(null, ev, 'b.json')), (e: Error) => e instanceof TraceError && /^a\.json, b\.json: none of these 2 files names its rank \(distributedInfo\.rank\), so they cannot be told apart; export each rank's trace from a process with torch\.distributed initialised, or analyse the files one at a time$/.test(e.message));
  const some = build(rank(0, ev, 'a.json'), rank(null, ev, 'b.json'));
  assert.deepEqual(some.timeline.ranks!.map((r) => r.file), ['a.json']);
  assert.match(some.warnings[0], /^b\.json: distributedInfo\.rank is missing while the other files name theirs; left out/);
  const bad = build(rank(null, ev, 'c.json', { distributedInfo: { rank: 'zero' } }));
  assert.match(bad.warnings[0], /^c\.json: distributedInfo\.rank must be a rank number ≥ 0 \(got "zero"\)/);
});

test('malformed: negative durations skipped and counted; overlapping kernels on one stream kept; non-objects counted', () => {
  const ev: unknown[] = [step(1, 0, 100), ...kernel('a', 10, 20), ...kernel('b', 15, 20), ...kernel('neg', 40, -5), ...kernel('neg2', 45, -1), 42, null, { ph: 'X', cat: 'kernel', name: 'nots', ts: 'soon', dur: 1 }];
  const { timeline: t, warnings } = build(rank(0, ev as Ev[], 'r.json'));
  assert.equal(t.kernels!.length, 2, 'both overlapping kernels on stream 7 are kept');
  assert.deepEqual(warnings, [
    'r.json: 2 event(s) with a negative or infinite dur skipped (first: kernel "neg" at ts 40 with dur -5); the profiler\'s clock went backwards? re-profile, or drop those events',
    'r.json: 3 event(s) skipped: not an object, or an X event without numeric ts and dur; the file may be damaged; export it again',
  ]);
  // Their union counts once in the busy time.
  near(buildReport(t).stages[0].busyMs.KERNEL!, 0.025, 1e-12, 'union of [10,30] and [15,35]');
});

test('malformed: one rank file with kernels on two GPUs is analysed as one rank, with a line', () => {
  const { timeline: t, warnings } = build(rank(0, [step(1, 0, 100), ...kernel('a', 10, 5, { device: 0 }), ...kernel('b', 12, 5, { device: 1 })], 'two.json'));
  assert.equal(t.kernels!.length, 2);
  assert.deepEqual(warnings, ['two.json: GPU events on 2 devices (0, 1) in one rank file; they are analysed as one rank; profile one GPU per rank (one process per device)']);
});

test('malformed: overlapping or repeated ProfilerSteps are one line each', () => {
  const { warnings } = build(rank(0, [step(1, 0, 100), step(2, 90, 100), step(2, 300, 10), ...kernel('a', 10, 5)], 'r.json'));
  assert.deepEqual(warnings, [
    'r.json: ProfilerStep#1 and ProfilerStep#2 overlap by 0.01 ms (a step must end before the next begins); each kernel goes to the step that launched it; call prof.step() once per iteration, outside other profiled regions',
    'r.json: ProfilerStep#2 appears more than once; the first is kept; call prof.step() once per iteration',
  ]);
});

test('malformed: ranks of another job (world_size, backend, process groups), a repeated rank, a rank beyond world_size: left out, one line each', () => {
  const ev = [step(1, 0, 100), ...kernel('a', 10, 5)];
  const di = (rank: number, o: Ev = {}) => ({ distributedInfo: { rank, world_size: 4, backend: 'nccl', pg_config: [{ pg_name: '0', pg_size: 4, ranks: [0, 1, 2, 3] }], ...o } });
  const { timeline: t, warnings } = build(
    rank(0, ev, 'r0.json', di(0)), rank(1, ev, 'r1.json', di(1)), rank(2, ev, 'r2.json', di(2)),
    rank(3, ev, 'other-ws.json', di(3, { world_size: 8 })), rank(3, ev, 'other-be.json', di(3, { backend: 'gloo' })),
    rank(3, ev, 'other-pg.json', di(3, { pg_config: [{ pg_name: '0', pg_size: 4, ranks: [4, 5, 6, 7] }] })),
    rank(1, ev, 'again.json', di(1)), rank(9, ev, 'nine.json', di(9)),
  );
  assert.deepEqual(t.ranks!.map((r) => r.file), ['r0.json', 'r1.json', 'r2.json']);
  assert.deepEqual(warnings, [
    'other-ws.json: rank 3 is from another job: world_size 8 (the others: 4); left out; pass the rank files of one run',
    'other-be.json: rank 3 is from another job: backend gloo (the others: nccl); left out; pass the rank files of one run',
    "other-pg.json: rank 3 is from another job: process group '0' ranks [4,5,6,7] (the others: [0,1,2,3]); left out; pass the rank files of one run",
    'again.json: rank 1 again (also r1.json); left out; pass one file per rank',
    'nine.json: rank 9 is not below world_size 4; left out; the file\'s distributedInfo is wrong',
    'clock skew not estimated: no rank ran an NCCL kernel to match; times are taken as recorded',
  ]);
});

test('malformed: a rank that shares no time with the others after alignment is left out', () => {
  const near0 = [step(1, 0, 1000), ...kernel('a', 10, 5)];
  const far = [step(1, 1e9, 1000), ...kernel('a', 1e9 + 10, 5)];
  const di = (n: number) => ({ distributedInfo: { rank: n, world_size: 3, backend: 'nccl' } });
  const { timeline: t, warnings } = build(rank(0, near0, 'a.json', di(0)), rank(1, far, 'b.json', di(1)), rank(2, near0, 'c.json', di(2)));
  assert.deepEqual(t.ranks!.map((r) => r.rank), [0, 2]);
  assert.equal(warnings.length, 2, warnings.join('\n'));
  assert.match(warnings[0], /^clock skew not estimated: no rank ran an NCCL kernel/);
  assert.ok(warnings.some((w) => /^b\.json: rank 1 shares no time with rank 0 after alignment \(its events span 1000000\.00 ms–1000001\.00 ms, rank 0's 0\.00 ms–1\.00 ms on the run clock\); left out; profile the same steps on every rank$/.test(w)), warnings.join('\n'));
});

test('malformed: files without GPU activity are left out, all of them is a TraceError; unknown PP: actions and partial baseTime are one line', () => {
  const ok = [step(1, 0, 100), ...kernel('a', 10, 5)];
  const cpuOnly = [step(1, 0, 100), { ph: 'X', cat: 'cpu_op', name: 'aten::mm', pid: 1, tid: 1, ts: 1, dur: 1 }];
  const some = build(rank(0, ok, 'a.json'), rank(1, cpuOnly, 'b.json'));
  assert.deepEqual(some.warnings, ['b.json: rank 1 has no GPU kernels, memcpy, memset or PP: annotations; left out; profile with ProfilerActivity.CUDA']);
  // Every file CPU-only: the CPU ranges stand in for device time (kineto-cpu.ts), and one line says so.
  const cpu = build(rank(0, cpuOnly, 'a.json'), rank(1, cpuOnly, 'b.json'));
  assert.ok(cpu.warnings[0].startsWith('no rank file has GPU activity (a CPU-only profile): ops are timed by CPU ranges'), cpu.warnings.join('\n'));
  assert.equal(cpu.timeline.kernels?.length, 2);
  const noEvents = [step(1, 0, 100)];
  assert.throws(() => build(rank(0, noEvents, 'a.json'), rank(1, noEvents, 'b.json')), /a\.json, b\.json: no GPU activity to analyse in any rank file \(no kernel, gpu_memcpy or gpu_memset events\); profile with torch\.profiler/);
  const pp = build(rank(0, [...ok, ann('PP:0F0', 10, 5, true), ann('PP:0FOO1', 20, 5), ann('PP:(0F1;1B0)OVERLAP_F_B', 30, 5)], 'p.json'));
  assert.ok(pp.warnings.includes('p.json: 2 PP: annotation(s) name no known action (e.g. "PP:0FOO1"; known: PP:<stage><F|I|B|W|SEND_F|RECV_F|SEND_B|RECV_B|UNSHARD|RESHARD|REDUCE_GRAD><micro-batch>); they are left out'), pp.warnings.join('\n'));
  const base = build(rank(0, ok, 'a.json', { baseTimeNanoseconds: 1e18 }), rank(1, ok, 'b.json'));
  assert.ok(base.warnings.includes('baseTimeNanoseconds is in 1 of 2 rank files (missing in b.json); clocks combined from ts alone; export every rank with the same PyTorch version'), base.warnings.join('\n'));
});

test('malformed: in a pipeline, a rank without PP: annotations is left out; a stage without a rank file is named', () => {
  const ppRank = (n: number, s: number) => rank(n, [step(1, 0, 1000), ann(`PP:${s}F0`, 10, 50, true), ann(`PP:${s}B0`, 100, 50, true)], `r${n}.json`, { distributedInfo: { rank: n, world_size: 4, backend: 'nccl' } });
  const plain = rank(3, [step(1, 0, 1000), ...kernel('a', 10, 5)], 'r3.json', { distributedInfo: { rank: 3, world_size: 4, backend: 'nccl' } });
  const { timeline: t, warnings } = build(ppRank(0, 0), ppRank(2, 2), plain);
  assert.deepEqual(t.ranks!.map((r) => r.rank), [0, 2]);
  assert.ok(warnings.includes('r3.json: rank(s) 3 have no PP: annotations while the others do; left out of the pipeline; profile every pipeline rank'), warnings.join('\n'));
  assert.ok(warnings.includes('stage(s) 1 have no rank file (the ranks given run stages 0, 2); those rows stay empty; pass every pipeline rank\'s trace'), warnings.join('\n'));
  assert.equal(t.stages, 3);
});

test('every kind a Kineto timeline holds is a known OP_KINDS code', () => {
  const { timeline: t } = importRanks([readFixture('nccl-2rank-rank0.json.gz')]);
  for (let i = 0; i < t.kernels!.length; i++) assert.ok(['KERNEL', 'COMM', 'MEMCPY', 'MEMSET'].includes(OP_KINDS[t.kernels!.kind[i]]));
});

test('pg_config lists only the groups a rank belongs to: ranks with different group lists are one job (a data-parallel pipeline keeps every rank)', () => {
  const ev = [step(1, 0, 100), ...kernel('a', 10, 5)];
  const pg = (rank: number) => [
    { pg_name: '0', pg_desc: 'default_pg', pg_size: 4, ranks: [0, 1, 2, 3] },
    { pg_name: `pp_${rank % 2}`, pg_desc: 'mesh_pp', pg_size: 2, ranks: rank % 2 ? [1, 3] : [0, 2] },
  ];
  const r = (n: number) => rank(n, ev, `r${n}.json`, { distributedInfo: { rank: n, world_size: 4, backend: 'nccl', pg_config: pg(n) } });
  const { timeline: t, warnings } = timelineFromKineto([r(0), r(1), r(2), r(3)]);
  assert.deepEqual(t.ranks!.map((x) => x.rank), [0, 1, 2, 3]);
  assert.deepEqual(warnings.filter((w) => /another job/.test(w)), []);
});

test('bad input: no pipeline (no p2p kernel, one rank, a partial job) gives the per-rank view and one line saying why; world_size beyond the ranks given is a line', () => {
  const ev = [step(1, 0, 100), ...kernel('a', 10, 5)];
  const one = timelineFromKineto([rank(0, ev, 'solo.json')]);
  assert.equal(one.timeline.plan, null);
  assert.deepEqual(one.warnings, [
    'world_size is 2 but only rank 0 was given; the figures are those ranks\' alone; pass every rank\'s trace (or their folder) to see the whole job',
    'no pipeline: one rank, and it ran no point-to-point (Send/Recv) NCCL kernel; showing one row per rank',
  ]);
  const two = timelineFromKineto([rank(0, ev, 'a.json'), rank(1, ev, 'b.json')]);
  assert.deepEqual(two.timeline.ranks!.map((x) => [x.rank, x.stage]), [[0, 0], [1, 1]]);
  assert.ok(two.warnings.includes('no pipeline: none of the 2 ranks ran a point-to-point (Send/Recv) NCCL kernel, so no rank feeds another; showing one row per rank'), two.warnings.join('\n'));
  // p2p kernels that name no group, and no pipeline group in pg_config: no stages are guessed.
  const send = (ts: number) => kernel('ncclDevKernel_SendRecv(x)', ts, 10, { stream: 40, args: { 'Collective name': 'send', 'In msg nelems': 10, 'Out msg nelems': 10, dtype: 'Float' } });
  const bare = timelineFromKineto([rank(0, [step(1, 0, 100), ...send(10)], 'a.json'), rank(1, [step(1, 0, 100), ...send(10)], 'b.json')]);
  assert.equal(bare.timeline.plan, null);
  assert.ok(bare.warnings.some((w) => /^no pipeline: the point-to-point ops of rank\(s\) 0, 1 name no process group/.test(w)), bare.warnings.join('\n'));
});

test('batched p2p (batch_isend_irecv: one SendRecv kernel whose args say "coalesced") still links the ranks into a pipeline; it counts as a RECV', () => {
  const ar = (ts: number, group: string) => kernel('ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)', ts, 20, { stream: 40, args: { 'Collective name': 'coalesced', 'In msg nelems': 1024, 'Out msg nelems': 1024, dtype: 'Float', 'Process Group Ranks': group } });
  const r0 = rank(0, [step(1, 0, 1000), ...kernel('gemm', 10, 100), ...ar(120, '[0, 1]'), ...kernel('gemm', 300, 200, { launchAt: 150 })], 'r0.json');
  const r1 = rank(1, [step(1, 0, 1000), ...ar(100, '[0, 1]'), ...kernel('gemm', 150, 100), ...kernel('gemm', 260, 200)], 'r1.json');
  const { timeline: t, warnings } = timelineFromKineto([r0, r1]);
  assert.ok(t.plan, warnings.join('\n'));
  assert.deepEqual(t.ranks!.map((r) => [r.rank, r.stage, r.opsRule]), [[0, 0, 'p2p pattern'], [1, 1, 'p2p pattern']]);
  const recv = Array.from({ length: t.ops.length }, (_, i) => opAt(t.ops, i)).filter((o) => o.kind === 'RECV');
  assert.equal(recv.length, 2);
  assert.deepEqual(recv.map((o) => t.labels![o.label!]), ['SendRecv', 'SendRecv']);
});
